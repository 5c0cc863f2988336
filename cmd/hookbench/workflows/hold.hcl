# Each webhook starts a run that waits at a wait step for three days: a backlog that
# stays live in Redis (with the embedded Redis, in serve's heap). Park runs first,
# then measure another workload beside them:
#
#   hookbench --target http://127.0.0.1:8080/hooks/bench/hold --rate 0 --conns 32 --duration 8s
#   hookbench --target http://127.0.0.1:8080/hooks/bench/relay --sink 127.0.0.1:9999 --rate 0 --conns 32 --watch-pid PID

workflow "bench_hold" {
  description = "Parks each bench event's run at a wait step"

  trigger "webhook" {
    path = "/bench/hold"
  }

  step "wait" "approval" {
    timeout = "72h"
  }
}
