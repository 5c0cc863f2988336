#!/usr/bin/env bash
# Counts the instructions redis-server runs per delivery, for each hookflow binary
# given: a redis-server with AOF (everysec) under valgrind's callgrind, serve in front
# of it, and RATE webhooks a second for 10 s. An instruction count does not depend on
# what else the machine is doing, so a change to the scripts shows as a count, where
# CPU time at saturation moves within the noise of a shared machine.
#
#   cmd/hookbench/instructions.sh /tmp/hookflow-before /tmp/hookflow-after [WORKLOAD] [RATE]
#
# WORKLOAD is a path under /hooks/bench/ (default relay), RATE 100 by default (Redis
# runs about 50 times slower under callgrind). The count covers the load's window
# only, Redis's own timers included (about 4% at 100/s). Needs valgrind; build
# hookbench with go build -o /tmp/hookbench ./cmd/hookbench.
set -u
workload=relay rate=100 bins=()
for a in "$@"; do
  if [ -x "$a" ]; then bins+=("$a"); elif [[ $a =~ ^[0-9]+$ ]]; then rate=$a; else workload=$a; fi
done
if ! command -v valgrind >/dev/null || ! command -v callgrind_control >/dev/null; then
  echo "this counts with valgrind's callgrind (apt-get install valgrind)" >&2
  exit 1
fi
port=6393
cd "$(dirname "$0")/../.."
for bin in "${bins[@]}"; do
  dir=$(mktemp -d)
  valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.out" redis-server --port $port \
    --appendonly yes --appendfsync everysec --save '' --dir "$dir" >/dev/null 2>"$dir/valgrind.log" &
  vg=$!
  for _ in $(seq 100); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.2; done
  HOOKBENCH_SINK=http://127.0.0.1:9997 "$bin" serve --redis redis://127.0.0.1:$port/0 --listen 127.0.0.1:8092 \
    --admin 127.0.0.1:8093 --allow-net 127.0.0.1/32 --log-format json cmd/hookbench/workflows 2>/dev/null &
  pid=$!
  for _ in $(seq 200); do curl -sf localhost:8093/readyz >/dev/null && break; sleep 0.1; done
  sleep 1
  callgrind_control -z $vg >/dev/null 2>&1
  /tmp/hookbench --target "http://127.0.0.1:8092/hooks/bench/$workload" --sink 127.0.0.1:9997 --rate "$rate" \
    --duration 10s --warmup 0s >"$dir/report"
  callgrind_control -d $vg >/dev/null 2>&1 # the counts since -z, into callgrind.out.1
  n=$(awk '/^  delivered/ {print $2; exit}' "$dir/report")
  kill $pid
  wait $pid 2>/dev/null
  redis-cli -p $port shutdown nosave >/dev/null 2>&1
  wait $vg
  ir=$(callgrind_annotate "$dir/callgrind.out.1" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
  if [ -z "$n" ] || [ "$n" = 0 ] || [ -z "$ir" ]; then
    echo "$bin: nothing delivered, or no count (see $dir)" >&2
    continue
  fi
  echo "$bin: $n delivered, redis-server ran $ir instructions, $((ir / n)) a delivery"
  rm -rf "$dir"
done
