#!/usr/bin/env bash
# What Redis spends per delivery at saturation, by its own counters, for two hookflow
# binaries in turn, ROUNDS times each, each run on a new redis-server with AOF
# (everysec): its CPU (INFO cpu, user and system), the script calls (INFO
# commandstats' evalsha calls) and the time Redis measured in them, over the 5 s from
# 3 s into a 10 s load of 32 connections as fast as they go.
#
#   cmd/hookbench/rediscpu.sh /tmp/hookflow-before /tmp/hookflow-after 2 [WORKLOAD]
#
# WORKLOAD is a path under /hooks/bench/ (default relay). Build hookbench with
# go build -o /tmp/hookbench ./cmd/hookbench. RATE=3000 sends at a steady rate instead.
set -u
cd "$(dirname "$0")/../.."
before=$1 after=$2 rounds=${3:-2} workload=${4:-relay}
port=6390
trap 'redis-cli -p $port shutdown nosave >/dev/null 2>&1' EXIT
for p in 8080 8081; do
  if curl -s -o /dev/null "http://127.0.0.1:$p/"; then
    echo "something already answers on :$p; stop it first" >&2
    exit 1
  fi
done
info() { redis-cli -p $port info "$1" | tr -d '\r'; }
for round in $(seq "$rounds"); do
  for bin in "$before" "$after"; do
    dir=$(mktemp -d)
    redis-server --port $port --appendonly yes --appendfsync everysec --save '' --daemonize yes \
      --dir "$dir" >/dev/null
    for _ in $(seq 50); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.1; done
    HOOKBENCH_SINK=http://127.0.0.1:9999 "$bin" serve --redis redis://127.0.0.1:$port/0 \
      --allow-net 127.0.0.1/32 --log-format json cmd/hookbench/workflows 2>/dev/null &
    pid=$!
    for _ in $(seq 100); do curl -sf localhost:8081/readyz >/dev/null && break; sleep 0.1; done
    /tmp/hookbench --target "http://127.0.0.1:8080/hooks/bench/$workload" --sink 127.0.0.1:9999 \
      --rate "${RATE:-0}" --conns 32 --duration 10s >"$dir/report" &
    load=$!
    sleep 3
    cpu0=$(info cpu | awk -F: '/^used_cpu_(user|sys):/ {printf "%s ", $2}')
    scripts0=$(info commandstats | awk -F'[=,]' '/^cmdstat_evalsha:/ {print $2, $4}')
    sleep 5
    cpu1=$(info cpu | awk -F: '/^used_cpu_(user|sys):/ {printf "%s ", $2}')
    scripts1=$(info commandstats | awk -F'[=,]' '/^cmdstat_evalsha:/ {print $2, $4}')
    wait $load
    rate=$(awk '/^  delivered/ {r = $3} END {print r}' "$dir/report")
    echo "$bin, round $round: $(echo "$cpu0 $cpu1 ${scripts0:-0 0} ${scripts1:-0 0} $rate" | awk '{
      n = $9 * 5
      printf "%.0f delivered/s; Redis a delivery: %.1f us user, %.1f us system, %.2f script calls taking %.1f us",
        $9, ($4 - $2) * 1e6 / n, ($3 - $1) * 1e6 / n, ($7 - $5) / n, ($8 - $6) / n }')"
    kill $pid
    wait $pid 2>/dev/null
    redis-cli -p $port shutdown nosave >/dev/null 2>&1
    rm -rf "$dir"
  done
done
