#!/usr/bin/env bash
# Where a relay's CPU time waits: serve runs the relay workload at saturation (32
# connections) on a new redis-server with AOF everysec, and over 5 s, from 4 s into
# the load, the kernel's counts of each process's threads (/proc/PID/task/*/schedstat)
# give how long serve, Redis and hookbench ran and how long their threads waited for a
# CPU, beside how long the machine's CPUs were idle (/proc/stat).
#
#   cmd/hookbench/schedwait.sh /tmp/hookflow
#
# REDIS_NICE=-10 runs Redis at that priority (its threads reniced). PERF=1 then records
# one second of the scheduler (perf sched record, which costs the processes it traces)
# and prints how long each CPU was idle while a task was runnable and waiting on the
# other (the machine has two). Build hookbench with go build -o /tmp/hookbench
# ./cmd/hookbench.
set -u
bin=$1
port=6390
cd "$(dirname "$0")/../.."
. cmd/hookbench/lib.sh
refuse_taken http 8080 8081
refuse_taken redis $port
if [ "${PERF:-0}" != 0 ] && ! command -v perf >/dev/null; then
  echo "PERF=1 records with perf (apt-get install linux-perf)" >&2
  exit 1
fi
dir=$(mktemp -d)
trap 'redis-cli -p $port shutdown nosave >/dev/null 2>&1; rm -rf "$dir"' EXIT
start_redis $port "$dir"
rpid=$(redis-cli -p $port info server | tr -d '\r' | awk -F: '/^process_id/ {print $2}')
if [ "${REDIS_NICE:-0}" != 0 ]; then
  for t in /proc/"$rpid"/task/*; do renice -n "$REDIS_NICE" -p "${t##*/}" >/dev/null; done
fi
start_serve "$bin" $port || exit 1
/tmp/hookbench --target http://127.0.0.1:8080/hooks/bench/relay --sink 127.0.0.1:9999 \
  --rate 0 --conns 32 --duration 12s >"$dir/report" &
load=$!
sleep 4
hb=$load
# ran and waited: a process's threads' ns on a CPU and waiting for one, summed.
ran_waited() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{r += $1; w += $2} END {print r, w}'; }
idle() { awk '/^cpu / {print $5 + $6}' /proc/stat; } # idle and iowait, in ticks
s0=$(ran_waited $pid) r0=$(ran_waited "$rpid") h0=$(ran_waited $hb) i0=$(idle)
sleep 5
s1=$(ran_waited $pid) r1=$(ran_waited "$rpid") h1=$(ran_waited $hb) i1=$(idle)
if [ "${PERF:-0}" != 0 ]; then
  perf sched record -o "$dir/sched.data" -- sleep 1 >/dev/null 2>&1
fi
wait $load
grep -E "^  delivered" "$dir/report"
for p in "serve $s0 $s1" "redis $r0 $r1" "hookbench $h0 $h1"; do
  echo "$p" | awk '{printf "  %-9s ran %5.0f ms, its threads waited for a CPU %5.0f ms\n", $1, ($4 - $2) / 1e6, ($5 - $3) / 1e6}'
done
ticks=$(getconf CLK_TCK)
echo "  the CPUs were idle $(( (i1 - i0) * 1000 / ticks )) ms of $(( 5000 * $(nproc) )) CPU-ms"
if [ "${PERF:-0}" != 0 ]; then
  # Each slice: its end, CPU, task, then wait, scheduling delay and run time (ms). An
  # idle slice is when its CPU idled; a task's scheduling delay, the time it waited,
  # runnable, before it ran. The waits are merged (one or more tasks waiting) and laid
  # over the other CPU's idle slices.
  perf sched timehist -i "$dir/sched.data" 2>/dev/null | awk 'NR > 3 && NF >= 6 {
      cpu = $2; gsub(/[^0-9]/, "", cpu); cpu += 0; run = $NF / 1000; delay = $(NF - 1) / 1000
      start = $1 - run
      if ($3 ~ /idle/) printf "idle %d %.6f %.6f\n", cpu, start, $1
      else if (delay > 0) printf "wait %d %.6f %.6f\n", cpu, start - delay, start
    }' | sort -k1,1 -k2,2n -k3,3n >"$dir/slices"
  awk '
    $1 == "idle" { n[$2]++; a[$2, n[$2]] = $3; b[$2, n[$2]] = $4; idle[$2] += $4 - $3; next }
    $1 == "wait" {
      c = $2
      if (c in open && $3 <= to[c]) { if ($4 > to[c]) to[c] = $4; next }
      if (c in open) merged(c)
      open[c] = 1; from[c] = $3; to[c] = $4
    }
    function merged(c,   o, i, lo, hi) {
      o = 1 - c
      for (i = 1; i <= n[o]; i++) {
        lo = a[o, i] > from[c] ? a[o, i] : from[c]; hi = b[o, i] < to[c] ? b[o, i] : to[c]
        if (hi > lo) over[o] += hi - lo
      }
    }
    END {
      for (c in open) merged(c)
      for (c = 0; c < 2; c++)
        printf "  CPU %d idle %.1f ms of the second recorded, %.1f ms of it with a task waiting on the other\n",
          c, idle[c] * 1000, over[c] * 1000
    }' "$dir/slices"
fi
kill $pid
wait $pid 2>/dev/null
