#!/usr/bin/env bash
# Times each Redis script during BenchmarkRuns, for each engine test binary given
# (go test -c -o BIN ./engine): a redis-server on port 6395 logs every command
# (slowlog-log-slower-than 0), and the script calls are averaged by their SHA1.
#
#   cmd/hookbench/slowlog.sh /tmp/before.test /tmp/after.test
set -u
redis-server --port 6395 --save '' --appendonly no --daemonize yes --dir /tmp >/dev/null; sleep 0.5
cd "$(dirname "$0")/../../engine"
for bin in "$@"; do
  redis-cli -p 6395 config set slowlog-log-slower-than 0 >/dev/null
  redis-cli -p 6395 config set slowlog-max-len 1000000 >/dev/null
  redis-cli -p 6395 slowlog reset >/dev/null
  HOOKFLOW_BENCH_REDIS=127.0.0.1:6395 $bin -test.run XXX -test.bench 'BenchmarkRuns/redis-server' -test.benchtime 5000x 2>&1 | grep -o '[0-9]* runs/s' | tr '\n' ' '
  echo "$bin"
  redis-cli -p 6395 slowlog get 1000000 | awk '/^[0-9]+$/{p1=$0} prev=="evalsha"{s=substr($0,1,8); n[s]++; d[s]+=dur} /^evalsha$/{dur=p1} {prev=$0} END{for (s in n) printf "  %s %6d calls %6.1f us\n", s, n[s], d[s]/n[s]}' | sort -k2 -n
done
redis-cli -p 6395 shutdown nosave >/dev/null
