#!/usr/bin/env bash
# Runs the relay benchmark on one hookflow binary against a standalone redis-server and
# against a Redis Cluster of three primaries and three replicas, in turn, ROUNDS times,
# on the same machine; AOF everysec everywhere, flushed between runs.
#
#   cmd/hookbench/cluster.sh /tmp/hookflow 2 [WORKLOAD]
#
# Build the binary with go build -o, and hookbench with
# go build -o /tmp/hookbench ./cmd/hookbench. Ports 6390 and 7000-7005 must be free.
set -u
cd "$(dirname "$0")/../.."
bin=$1 rounds=${2:-2} workload=${3:-relay}
dir=$(mktemp -d)
ports="7000 7001 7002 7003 7004 7005"
redis-server --port 6390 --appendonly yes --appendfsync everysec --save '' --daemonize yes --dir "$dir" >/dev/null
for p in $ports; do
  mkdir -p "$dir/$p"
  redis-server --port $p --cluster-enabled yes --cluster-config-file nodes.conf --appendonly yes \
    --appendfsync everysec --save '' --repl-diskless-sync-delay 0 --daemonize yes --dir "$dir/$p" >/dev/null
done
trap 'for p in 6390 $ports; do redis-cli -p $p shutdown nosave >/dev/null 2>&1; done' EXIT
for p in 6390 $ports; do for _ in $(seq 50); do redis-cli -p $p ping >/dev/null 2>&1 && break; sleep 0.1; done; done
redis-cli --cluster create $(for p in $ports; do echo 127.0.0.1:$p; done) --cluster-replicas 1 --cluster-yes >/dev/null
for _ in $(seq 100); do redis-cli -p 7000 cluster info | grep -q cluster_state:ok && break; sleep 0.1; done
for round in $(seq "$rounds"); do
  for url in redis://127.0.0.1:6390/0 "redis://127.0.0.1:7000?addr=127.0.0.1:7001&addr=127.0.0.1:7002"; do
    redis-cli -p 6390 flushall >/dev/null
    for p in $ports; do redis-cli -p $p flushall >/dev/null 2>&1; done # replicas refuse: they follow
    HOOKBENCH_SINK=http://127.0.0.1:9999 "$bin" serve --redis "$url" \
      --allow-net 127.0.0.1/32 --log-format json cmd/hookbench/workflows 2>/dev/null &
    pid=$!
    for _ in $(seq 100); do curl -sf localhost:8081/readyz >/dev/null && break; sleep 0.1; done
    echo "== $url, round $round: $(curl -s localhost:8081/api/v1/status | grep -o '"redis":{[^}]*}')"
    /tmp/hookbench --target "http://127.0.0.1:8080/hooks/bench/$workload" --sink 127.0.0.1:9999 \
      --rate 0 --conns 32 --duration 10s --watch-pid $pid | grep -E "accepted|delivered|repeats|e2e latency|CPU in"
    kill $pid
    wait $pid 2>/dev/null
  done
done
