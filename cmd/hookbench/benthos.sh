#!/usr/bin/env bash
# Runs the relay through hookflow and through Benthos in turn, ROUNDS times each, the
# same hookbench load against each: the side-by-side comparison behind the goal "at
# least 1.4 times Benthos" in docs/performance.md. Each hookflow run is on a new
# redis-server with AOF (everysec), with the bare Go floor in the same invocation;
# Benthos keeps nothing, and answers each webhook once it has delivered it. Each round
# ends with hookflow's delivered/s over Benthos's (at saturation; at a steady RATE both
# deliver the rate). Benthos always runs second: alternate the order of whole runs
# when comparing across a drifting hour.
#
#   cmd/hookbench/benthos.sh /tmp/hookflow 3
#
# BENTHOS=/path/to/benthos uses that binary; without it, Benthos v4.60.0 (the version
# the goal was set against) is built from the Go module proxy into a directory of its
# own under $TMPDIR, once, with its io and pure components (http_server, mapping,
# http_client). RATE=500 sends at a steady 500 webhooks/s instead of as fast as 32
# connections go; DURATION=20s changes the window (default 8s). Build hookbench with
# go build -o /tmp/hookbench ./cmd/hookbench.
set -u
cd "$(dirname "$0")/../.."
. cmd/hookbench/lib.sh
hookflow=$1 rounds=${2:-3}
rate=${RATE:-0} duration=${DURATION:-8s}
port=6390
work=${TMPDIR:-/tmp}/hookbench-benthos
mkdir -p "$work"
refuse_taken http 8080 8081 4195 4196 9999
refuse_taken redis $port

benthos=${BENTHOS:-$work/benthos}
if [ ! -x "$benthos" ]; then
  echo "building Benthos v4.60.0 into $benthos" >&2
  mkdir -p "$work/src"
  cat >"$work/src/main.go" <<'EOF'
package main

import (
	"context"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"
)

func main() { service.RunCLI(context.Background()) }
EOF
  (cd "$work/src" && rm -f go.mod go.sum && go mod init hookbench-benthos &&
    go get github.com/redpanda-data/benthos/v4/public/service@v4.60.0 &&
    go mod tidy && go build -o "$benthos" .) >"$work/build.log" 2>&1 || {
    echo "could not build Benthos (it needs the Go module proxy):" >&2
    cat "$work/build.log" >&2
    exit 1
  }
fi

# From here on, what the script started is stopped and removed however it ends.
trap 'for p in ${pid:-} ${bpid:-}; do kill $p 2>/dev/null; done
  redis-cli -p $port shutdown nosave >/dev/null 2>&1; rm -rf "${dir:-}"' EXIT

# The equivalent of cmd/hookbench/workflows/relay.hcl: the same filter, the same two
# fields POSTed to the sink.
cat >"$work/relay.yaml" <<'EOF'
input:
  http_server:
    address: 127.0.0.1:4195
    path: /hooks/bench/relay
    allowed_verbs: [POST]
    timeout: 5s
    sync_response: {status: "202", headers: {Content-Type: application/json}}
pipeline:
  processors:
    - mapping: |
        root = if this.kind.catch(null) == "bench" {
          {"seq": this.seq, "sent_ns": this.sent_ns}
        } else { deleted() }
    - sync_response: {}
output:
  http_client:
    url: http://127.0.0.1:9999/relay
    verb: POST
    headers: {Content-Type: application/json}
http: {address: 127.0.0.1:4196}
logger: {level: WARN}
EOF

# rate_of prints the target's delivered/s from a hookbench report (its last
# "delivered" line: the floor's come first).
rate_of() { awk '/^  delivered/ {r = $3} END {sub("/s", "", r); print r}' "$1"; }

for round in $(seq "$rounds"); do
  dir=$(mktemp -d)
  start_redis $port "$dir"
  start_serve "$hookflow" $port || exit 1
  echo "== hookflow, round $round"
  /tmp/hookbench --target http://127.0.0.1:8080/hooks/bench/relay --sink 127.0.0.1:9999 \
    --rate "$rate" --conns 32 --duration "$duration" --watch-pid $pid \
    --floor redis://127.0.0.1:$port/0 >"$dir/hookflow"
  grep -E "^==|delivered|repeats|e2e latency|CPU in|ratio to the floor" "$dir/hookflow"
  kill $pid
  wait $pid 2>/dev/null
  pid=
  redis-cli -p $port shutdown nosave >/dev/null 2>&1

  "$benthos" run "$work/relay.yaml" >"$dir/benthos.log" 2>&1 &
  bpid=$!
  for _ in $(seq 100); do curl -sf localhost:4196/ready >/dev/null && break; sleep 0.1; done
  if ! kill -0 $bpid 2>/dev/null; then
    echo "Benthos did not start:" >&2
    cat "$dir/benthos.log" >&2
    exit 1
  fi
  echo "== Benthos, round $round"
  /tmp/hookbench --target http://127.0.0.1:4195/hooks/bench/relay --sink 127.0.0.1:9999 \
    --rate "$rate" --conns 32 --duration "$duration" --watch-pid $bpid >"$dir/benthos"
  grep -E "delivered|repeats|e2e latency|CPU in" "$dir/benthos"
  kill $bpid
  wait $bpid 2>/dev/null
  bpid=
  if [ "$rate" = 0 ]; then # at a steady rate both deliver it: no ratio
    awk -v h="$(rate_of "$dir/hookflow")" -v b="$(rate_of "$dir/benthos")" \
      'BEGIN {if (h > 0 && b > 0) printf "hookflow ÷ Benthos\t%.2f (delivered per second)\n", h / b}'
  fi
  rm -rf "$dir"
  dir=
done
