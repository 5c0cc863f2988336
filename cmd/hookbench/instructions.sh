#!/usr/bin/env bash
# Counts the instructions one process runs per delivery, for each hookflow binary
# given: redis-server (the default) or serve (COUNT=serve) under valgrind's callgrind,
# the other natively, a redis-server with AOF (everysec), and RATE webhooks a second
# for 10 s. An instruction count hardly depends on what else the machine is doing, so
# a change shows as a count, where CPU time at saturation moves within the noise of a
# shared machine.
#
#   [COUNT=serve] cmd/hookbench/instructions.sh /tmp/hookflow-before /tmp/hookflow-after [WORKLOAD] [RATE]
#
# WORKLOAD is a path under /hooks/bench/ (default relay), RATE 100 by default (a
# process runs about 50 times slower under callgrind), DURATION=30s a longer window
# than 10s (what a process does once, such as loading a script, then weighs less a
# delivery). The count covers the load's window only, the process's own timers
# included (Redis's about 4% at 100/s). Redis's count repeats within about 0.3%;
# serve's within about 2%, as its garbage collector does not run at the same moments
# twice. Needs valgrind; build hookbench with
# go build -o /tmp/hookbench ./cmd/hookbench.
set -u
workload=relay rate=100 bins=()
for a in "$@"; do
  if [ -x "$a" ]; then bins+=("$a"); elif [[ $a =~ ^[0-9]+$ ]]; then rate=$a; else workload=$a; fi
done
count=${COUNT:-redis}
if [ "$count" != redis ] && [ "$count" != serve ]; then
  echo "COUNT is redis or serve" >&2
  exit 1
fi
if ! command -v valgrind >/dev/null || ! command -v callgrind_control >/dev/null; then
  echo "this counts with valgrind's callgrind (apt-get install valgrind)" >&2
  exit 1
fi
port=6393
cd "$(dirname "$0")/../.."
for bin in "${bins[@]}"; do
  dir=$(mktemp -d)
  redis=(redis-server --port $port --appendonly yes --appendfsync everysec --save '' --dir "$dir")
  serve=("$bin" serve --redis redis://127.0.0.1:$port/0 --listen 127.0.0.1:8092 --admin 127.0.0.1:8093
    --allow-net 127.0.0.1/32 --log-format json cmd/hookbench/workflows)
  grind=(valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.out")
  if [ "$count" = redis ]; then
    "${grind[@]}" "${redis[@]}" >/dev/null 2>"$dir/valgrind.log" &
  else
    "${redis[@]}" >/dev/null 2>&1 &
  fi
  rpid=$!
  for _ in $(seq 100); do redis-cli -p $port ping >/dev/null 2>&1 && break; sleep 0.2; done
  # Under callgrind, serve starts slowly enough that its 5 s for reaching Redis may
  # pass: it is started again then, up to three times.
  for _ in 1 2 3; do
    if [ "$count" = serve ]; then
      # Go's asynchronous preemption signals would be counted as the work they interrupt.
      GODEBUG=asyncpreemptoff=1 HOOKBENCH_SINK=http://127.0.0.1:9997 "${grind[@]}" "${serve[@]}" \
        >/dev/null 2>"$dir/valgrind.log" &
    else
      HOOKBENCH_SINK=http://127.0.0.1:9997 "${serve[@]}" 2>/dev/null &
    fi
    pid=$!
    for _ in $(seq 300); do
      curl -sf localhost:8093/readyz >/dev/null && break
      kill -0 $pid 2>/dev/null || break
      sleep 0.1
    done
    kill -0 $pid 2>/dev/null && break
  done
  vg=$rpid
  [ "$count" = serve ] && vg=$pid
  sleep 1
  callgrind_control -z $vg >/dev/null 2>&1
  /tmp/hookbench --target "http://127.0.0.1:8092/hooks/bench/$workload" --sink 127.0.0.1:9997 --rate "$rate" \
    --duration "${DURATION:-10s}" --warmup 0s >"$dir/report"
  callgrind_control -d $vg >/dev/null 2>&1 # the counts since -z, into callgrind.out.1
  n=$(awk '/^  delivered/ {print $2; exit}' "$dir/report")
  kill $pid
  wait $pid 2>/dev/null
  redis-cli -p $port shutdown nosave >/dev/null 2>&1
  wait $rpid
  ir=$(callgrind_annotate "$dir/callgrind.out.1" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
  if [ -z "$n" ] || [ "$n" = 0 ] || [ -z "$ir" ]; then
    echo "$bin: nothing delivered, or no count (see $dir)" >&2
    continue
  fi
  echo "$bin: $n delivered, $count ran $ir instructions, $((ir / n)) a delivery"
  rm -rf "$dir"
done
