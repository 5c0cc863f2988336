#!/usr/bin/env bash
# What one run costs at a steady load: the script and blocking calls, commands and
# bytes it sends Redis, the bytes Redis appends to its AOF for it (from the file's size
# and the AOF rewrites made meanwhile, which the bytes do not count: 8 s at 2,000 runs a
# second stays under the 64 MB where Redis first rewrites), and the CPU of Redis
# (its rewrites' children apart) and of hookflow, per run, from Redis's
# INFO and /proc before and after RATE webhooks a second for 8 s, on a redis-server
# with AOF (everysec) of its own.
#
#   cmd/hookbench/cost.sh /tmp/hookflow [WORKLOAD] [RATE]
#
# WORKLOAD is a path under /hooks/bench/ (default relay), RATE 500 by default. Build
# hookbench with go build -o /tmp/hookbench ./cmd/hookbench.
set -u
bin=$1 workload=${2:-relay} rate=${3:-500}
port=6391
cd "$(dirname "$0")/../.."
. cmd/hookbench/lib.sh
refuse_taken http 8090 8091 9998
refuse_taken redis $port
dir=$(mktemp -d)
start_redis $port "$dir"
HOOKBENCH_SINK=http://127.0.0.1:9998 $bin serve --redis redis://127.0.0.1:$port/0 --listen 127.0.0.1:8090 --admin 127.0.0.1:8091 \
  --allow-net 127.0.0.1/32 --log-format json cmd/hookbench/workflows 2>/dev/null &
pid=$!
for _ in $(seq 100); do curl -sf localhost:8091/readyz >/dev/null && break; sleep 0.1; done
redis-cli -p $port config resetstat >/dev/null
rcpu0=$(redis-cli -p $port info cpu | awk -F: '/used_cpu_(sys|user):/{s+=$2} END{print s}')
hcpu0=$(awk '{print $14+$15}' /proc/$pid/stat)
/tmp/hookbench --target "http://127.0.0.1:8090/hooks/bench/$workload" --sink 127.0.0.1:9998 --rate $rate --duration 8s --warmup 0s 2>&1 | grep -E "delivered" | head -2
sleep 1
hcpu1=$(awk '{print $14+$15}' /proc/$pid/stat)
rcpu1=$(redis-cli -p $port info cpu | awk -F: '/used_cpu_(sys|user):/{s+=$2} END{print s}')
n=$(redis-cli -p $port zcard '{hf:0}:runs')
calls=$(redis-cli -p $port info commandstats | tr -d '\r' | awk -F'[=,:]' '/^cmdstat_(evalsha|eval|blpop|brpop)/{s+=$3} END{print s}')
cmds=$(redis-cli -p $port info stats | tr -d '\r' | awk -F: '/total_commands_processed/{print $2}')
inb=$(redis-cli -p $port info stats | tr -d '\r' | awk -F: '/total_net_input_bytes/{print $2}')
outb=$(redis-cli -p $port info stats | tr -d '\r' | awk -F: '/total_net_output_bytes/{print $2}')
aof=$(redis-cli -p $port info persistence | tr -d '\r' | awk -F: '/^aof_current_size/{print $2}')
rewrites=$(redis-cli -p $port info persistence | tr -d '\r' | awk -F: '/^aof_rewrites:/{print $2}')
tick=$(getconf CLK_TCK)
echo "$bin runs=$n scripts+blocking/run=$(echo "scale=2;$calls/$n"|bc) cmds/run=$(echo "scale=1;$cmds/$n"|bc) in_B/run=$((inb/n)) out_B/run=$((outb/n)) aof_B/run=$((aof/n)) aof_rewrites=$rewrites redisCPU_us/run=$(echo "($rcpu1-$rcpu0)*1000000/$n"|bc) hookflowCPU_us/run=$(echo "($hcpu1-$hcpu0)*1000000/$tick/$n"|bc)"
redis-cli -p $port info commandstats | tr -d '\r' | grep -E "evalsha|blpop" | sed 's/^/   /'
kill $pid; wait $pid 2>/dev/null
redis-cli -p $port shutdown nosave >/dev/null 2>&1
rm -rf $dir
