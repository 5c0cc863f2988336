# Shell functions the benchmark scripts beside it share (source it; it runs nothing).

# refuse_taken exits when something already answers on one of the given ports: HTTP on
# a web port, or a Redis on a Redis port (a run would load it, and shut it down after).
#   refuse_taken http 8080 8081; refuse_taken redis 6390
refuse_taken() {
  local kind=$1 p
  shift
  for p in "$@"; do
    if { [ "$kind" = http ] && curl -s -o /dev/null "http://127.0.0.1:$p/"; } ||
      { [ "$kind" = redis ] && redis-cli -p "$p" ping >/dev/null 2>&1; }; then
      echo "something already answers on :$p; stop it first" >&2
      exit 1
    fi
  done
}

# start_redis starts a redis-server on a port with AOF (everysec) in a directory, and
# waits for it; it exits when the server does not answer. REDIS_ARGS adds to its
# options (REDIS_ARGS='--auto-aof-rewrite-percentage 0' keeps it from rewriting its AOF).
start_redis() {
  local port=$1 dir=$2
  # shellcheck disable=SC2086 # REDIS_ARGS is options, split on spaces
  redis-server --port "$port" --appendonly yes --appendfsync everysec --save '' --daemonize yes \
    --dir "$dir" ${REDIS_ARGS:-} >/dev/null
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && return; sleep 0.1; done
  echo "redis-server did not start on :$port" >&2
  exit 1
}

# start_serve starts a hookflow binary's serve on :8080 (admin :8081) with the Redis on a
# port, its steps calling hookbench's sink on :9999, sets pid to its process, and waits
# until it is ready; it returns 1, saying so, when serve did not start.
#   start_serve /tmp/hookflow 6390 || exit 1
start_serve() {
  local bin=$1 port=$2
  HOOKBENCH_SINK=http://127.0.0.1:9999 "$bin" serve --redis "redis://127.0.0.1:$port/0" \
    --allow-net 127.0.0.1/32 --log-format json cmd/hookbench/workflows 2>/dev/null &
  pid=$!
  for _ in $(seq 100); do curl -sf localhost:8081/readyz >/dev/null && break; sleep 0.1; done
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "$bin did not start" >&2
    return 1
  fi
}
