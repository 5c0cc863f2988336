#!/usr/bin/env bash
# Runs the relay benchmark on one hookflow binary against a standalone redis-server and
# against a Redis Cluster of three primaries and three replicas, in turn, ROUNDS times,
# on the same machine; AOF everysec everywhere, flushed between runs. Each run first
# measures the floor (a bare Go relay through a Redis list, in a Redis of its own), so
# that each figure is also a ratio to a floor taken a moment before it; and counts the
# commands Redis ran per finished run (INFO commandstats, summed over the primaries;
# the commands a script runs are counted too, under their own names) and the CPU the
# Redis primaries and replicas used (INFO cpu) from hookflow's start to its stop.
#
#   cmd/hookbench/cluster.sh /tmp/hookflow 3 [WORKLOAD]
#
# Build the binary with go build -o, and hookbench with go build -o /tmp/hookbench
# ./cmd/hookbench (or name it in HOOKBENCH). DURATION is each window (10s). Ports BASE to BASE+10 must be free
# (BASE=7000 by default): the cluster's six nodes, the standalone Redis, the floor's
# Redis, hookflow's webhooks and admin API, and the sink.
set -u
cd "$(dirname "$0")/../.."
bin=$1 rounds=${2:-2} workload=${3:-relay}
base=${BASE:-7000} hookbench=${HOOKBENCH:-/tmp/hookbench} duration=${DURATION:-10s}
dir=$(mktemp -d)
ports=$(seq $base $((base + 5)))
single=$((base + 6)) floor=$((base + 7)) hooks=$((base + 8)) admin=$((base + 9)) sink=$((base + 10))
for p in $single $floor; do
  redis-server --port $p --appendonly yes --appendfsync everysec --save '' --daemonize yes \
    --dir "$dir" --appendfilename "$p.aof" --appenddirname "aof-$p" >/dev/null
done
for p in $ports; do
  mkdir -p "$dir/$p"
  redis-server --port $p --cluster-enabled yes --cluster-config-file nodes.conf --appendonly yes \
    --appendfsync everysec --save '' --repl-diskless-sync-delay 0 --daemonize yes --dir "$dir/$p" >/dev/null
done
trap 'for p in $single $floor $ports; do redis-cli -p $p shutdown nosave >/dev/null 2>&1; done; rm -rf "$dir"' EXIT
for p in $single $floor $ports; do for _ in $(seq 50); do redis-cli -p $p ping >/dev/null 2>&1 && break; sleep 0.1; done; done
redis-cli --cluster create $(for p in $ports; do echo 127.0.0.1:$p; done) --cluster-replicas 1 --cluster-yes >/dev/null
for _ in $(seq 100); do redis-cli -p $base cluster info | grep -q cluster_state:ok && break; sleep 0.1; done

# primaries prints the ports of the Redis primaries of the run: the standalone one, or
# the cluster's.
primaries() {
  if [ "$1" = single ]; then echo $single; return; fi
  for p in $ports; do redis-cli -p $p role | head -1 | grep -q master && echo $p; done
}

# cpu prints the CPU seconds the Redis servers on the ports given have used.
cpu() {
  for p in "$@"; do redis-cli -p $p info cpu; done | tr -d '\r' |
    awk -F: '/^used_cpu_(sys|user):/ { s += $2 } END { printf "%.2f", s }'
}

for round in $(seq "$rounds"); do
  for mode in single cluster; do
    url=redis://127.0.0.1:$single/0
    [ $mode = cluster ] && url="redis://127.0.0.1:$base?addr=127.0.0.1:$((base + 1))&addr=127.0.0.1:$((base + 2))"
    for p in $single $floor $ports; do redis-cli -p $p flushall >/dev/null 2>&1; done # replicas refuse: they follow
    for p in $single $ports; do redis-cli -p $p config resetstat >/dev/null; done
    prim=$(primaries $mode)
    repl=$(for p in $ports; do [ $mode = cluster ] && ! echo "$prim" | grep -qx $p && echo $p; done)
    cpu0=$(cpu $prim) rcpu0=$(cpu $repl)
    HOOKBENCH_SINK=http://127.0.0.1:$sink "$bin" serve --redis "$url" --listen 127.0.0.1:$hooks \
      --admin 127.0.0.1:$admin --allow-net 127.0.0.1/32 --log-format json cmd/hookbench/workflows 2>/dev/null &
    pid=$!
    for _ in $(seq 100); do curl -sf localhost:$admin/readyz >/dev/null && break; sleep 0.1; done
    echo "== $mode, round $round: $(curl -s localhost:$admin/api/v1/status | grep -o '"redis":{[^}]*}')"
    "$hookbench" --target "http://127.0.0.1:$hooks/hooks/bench/$workload" --sink 127.0.0.1:$sink \
      --rate 0 --conns 32 --duration "$duration" --watch-pid $pid --floor redis://127.0.0.1:$floor/0 |
      grep -E "^(floor|target)|accepted|delivered|repeats|e2e latency|CPU in|ratio"
    stats=$(for p in $prim; do redis-cli -p $p info commandstats; done)
    runs=$(curl -s localhost:$admin/metrics | awk '/^hookflow_runs_finished_total/ {n += $2} END {print n}')
    printf "  commands per finished run (%d runs):" "$runs"
    echo "$stats" | tr -d '\r' | awk -F'[:=,]' -v runs="$runs" '
      /^cmdstat_/ { sub("cmdstat_", "", $1); calls[$1] += $3 }
      END { for (c in calls) if (calls[c] / runs >= 0.01) printf "%s %.2f\n", c, calls[c] / runs }' |
      sort | tr '\n' ' '
    echo
    kill $pid
    wait $pid 2>/dev/null
    echo "  redis CPU: primaries $(echo "$(cpu $prim) - $cpu0" | bc)s, replicas $(echo "$(cpu $repl) - $rcpu0" | bc)s (floor's Redis not counted)"
  done
done
