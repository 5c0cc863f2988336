#!/usr/bin/env bash
# Runs the relay benchmark against two hookflow binaries in turn, ROUNDS times each,
# each run on a new redis-server with AOF (everysec): the side-by-side comparison
# docs/performance.md asks for on a shared, noisy machine. A Redis kept across runs
# would rewrite its AOF (a fork, and a child writing the whole dataset) in the middle
# of some later run once the file passed 64 MB, and that run's latency would show it.
#
#   cmd/hookbench/alternate.sh /tmp/hookflow-before /tmp/hookflow-after 3 [WORKLOAD]
#
# WORKLOAD is a path under /hooks/bench/ (default relay). Build the binaries with
# go build -o, and hookbench with go build -o /tmp/hookbench ./cmd/hookbench.
# RATE=500 sends at a steady 500 webhooks/s instead of as fast as 32 connections go;
# FLOOR=1 also runs the bare Go relay through the same Redis in each invocation
# (hookbench --floor), for the ratio; FLOOR=apart runs that floor in a process of its
# own as well (--floor-apart), as hookflow runs apart from the generator and the sink,
# and prints its CPU and the ratio to it; RELIABLE=1 (with FLOOR) also runs the reliable
# floor, a bare relay that keeps each webhook in Redis until the sink took it
# (--floor-reliable), where the floor runs; DURATION=20s changes the window (default 10s).
# SYSCALLS=1 counts the system calls of hookflow and of Redis per delivery (perf stat,
# from the start of the load to the end of the window), and prints Redis's CPU per
# delivery from its INFO (not with FLOOR, whose runs come first and would count
# too). COUNTERS=1 prints what Redis spends a delivery by its own
# counters over the 5 s from 3 s into the load (DURATION 8s or more; not with FLOOR=1,
# which runs first): its user and system CPU (INFO cpu), its script calls (INFO
# commandstats' evalsha) and the time it measured in them.
set -u
cd "$(dirname "$0")/../.."
. cmd/hookbench/lib.sh
before=$1 after=$2 rounds=${3:-2} workload=${4:-relay}
rate=${RATE:-0} duration=${DURATION:-10s}
port=6390
refuse_taken http 8080 8081
refuse_taken redis $port
if [ "${SYSCALLS:-0}" != 0 ] && ! command -v perf >/dev/null; then
  echo "SYSCALLS=1 counts with perf (apt-get install linux-perf)" >&2
  exit 1
fi
if [ "${RELIABLE:-0}" != 0 ] && [ "${FLOOR:-0}" = 0 ]; then
  echo "RELIABLE=1 runs the reliable floor beside the floor: set FLOOR=1 or FLOOR=apart too" >&2
  exit 1
fi
if [ "${SYSCALLS:-0}" != 0 ] && [ "${FLOOR:-0}" != 0 ]; then
  echo "SYSCALLS=1 counts from the start of the load, and with FLOOR the floors run first: the counts would hold their work; not with FLOOR" >&2
  exit 1
fi
if [ "${COUNTERS:-0}" != 0 ] && [ "${FLOOR:-0}" != 0 ]; then
  echo "COUNTERS=1 reads Redis's counters in the middle of the load; the floor runs first: not with FLOOR=1" >&2
  exit 1
fi
# redis_counters prints Redis's system and user CPU (s), and its evalsha calls and the
# us spent in them.
redis_counters() {
  redis-cli -p $port info cpu | tr -d '\r' | awk -F: '/^used_cpu_(sys|user):/ {printf "%s ", $2}'
  redis-cli -p $port info commandstats | tr -d '\r' |
    awk -F'[=,]' '/^cmdstat_evalsha:/ {c = $2; u = $4} END {printf "%d %d", c, u}'
}
trap 'redis-cli -p $port shutdown nosave >/dev/null 2>&1' EXIT
for round in $(seq "$rounds"); do
  for bin in "$before" "$after"; do
    dir=$(mktemp -d)
    start_redis $port "$dir"
    if ! start_serve "$bin" $port; then
      rm -rf "$dir"
      exit 1
    fi
    echo "== $bin, round $round"
    floor=""
    [ "${FLOOR:-0}" != 0 ] && floor="--floor=redis://127.0.0.1:$port/0"
    [ "${FLOOR:-0}" = apart ] && floor="$floor --floor-apart"
    [ "${FLOOR:-0}" != 0 ] && [ "${RELIABLE:-0}" != 0 ] && floor="$floor --floor-reliable"
    counting=()
    if [ "${SYSCALLS:-0}" != 0 ]; then
      rpid=$(redis-cli -p $port info server | tr -d '\r' | awk -F: '/^process_id/ {print $2}')
      for p in $pid $rpid; do
        perf stat -x, -e raw_syscalls:sys_enter -p "$p" -o "$dir/syscalls.$p" &
        counting+=($!)
      done
      rcpu0=$(redis-cli -p $port info cpu | tr -d '\r' | awk -F: '/^used_cpu_(sys|user):/ {s+=$2} END {print s}')
    fi
    /tmp/hookbench --target "http://127.0.0.1:8080/hooks/bench/$workload" --sink 127.0.0.1:9999 \
      --rate "$rate" --conns 32 --duration "$duration" --watch-pid $pid $floor >"$dir/report" &
    load=$!
    if [ "${COUNTERS:-0}" != 0 ]; then
      sleep 3
      counters0=$(redis_counters)
      sleep 5
      counters1=$(redis_counters)
    fi
    wait $load
    grep -E "^==|accepted|delivered|repeats|e2e latency|CPU in|ratio|RSS" "$dir/report"
    if [ "${COUNTERS:-0}" != 0 ]; then
      per_s=$(awk '/^  delivered/ {r = $3} END {print r}' "$dir/report")
      echo "$counters0 $counters1 $per_s" | awk '{
        n = $9 * 5
        printf "  Redis a delivery: %.1f us user, %.1f us system, %.2f script calls taking %.1f us\n",
          ($6 - $2) * 1e6 / n, ($5 - $1) * 1e6 / n, ($7 - $3) / n, ($8 - $4) / n }'
    fi
    if [ ${#counting[@]} -gt 0 ]; then
      rcpu1=$(redis-cli -p $port info cpu | tr -d '\r' | awk -F: '/^used_cpu_(sys|user):/ {s+=$2} END {print s}')
      kill -INT "${counting[@]}"
      wait "${counting[@]}" 2>/dev/null
      n=$(awk '/^  delivered/ {d=$2} END {print d}' "$dir/report") # the target's, printed last
      echo "  per delivery: hookflow $(awk -F, -v n="$n" '/sys_enter/ {printf "%.1f", $1/n}' "$dir/syscalls.$pid") system calls," \
        "Redis $(awk -F, -v n="$n" '/sys_enter/ {printf "%.1f", $1/n}' "$dir/syscalls.$rpid") system calls and" \
        "$(awk -v a="$rcpu0" -v b="$rcpu1" -v n="$n" 'BEGIN {printf "%.0f", (b-a)*1e6/n}') µs of CPU"
    fi
    kill $pid
    wait $pid 2>/dev/null
    redis-cli -p $port shutdown nosave >/dev/null 2>&1
    rm -rf "$dir"
  done
done
