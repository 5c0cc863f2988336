#!/usr/bin/env bash
# reloadheap.sh: serve's live heap after many reloads, each of which changes two of its
# three workflows' versions (the quick start's hello and greeting, and stripe-payment's
# workflow unchanged). Prints the live heap after the last collection at 10 reloads and
# after all of them, from GODEBUG=gctrace=1.
#
#   cmd/hookbench/reloadheap.sh /tmp/hookflow 500
set -euo pipefail
bin=$1 reloads=${2:-500}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
refuse_taken http 18301

dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
mkdir "$dir/wf"
cp "$root/examples/quickstart/hello.hcl" "$root/examples/stripe-payment/payment.hcl" "$dir/wf/"
export CRM_TOKEN=crm-token-1234567890 SLACK_WEBHOOK_URL=https://hooks.slack.com/services/T0/B0/XXXXXXXX \
  STRIPE_WEBHOOK_SECRET=whsec_1234567890abcdef
GODEBUG=gctrace=1 "$bin" serve --no-watch --listen 127.0.0.1:18300 --admin 127.0.0.1:18301 "$dir/wf" \
  >/dev/null 2>"$dir/serve.err" &
pid=$!
for _ in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:18301/healthz && break; sleep 0.1; done

# live is the heap left by the last collection so far: the third figure of "4->4->2 MB".
live() { grep '^gc ' "$dir/serve.err" | tail -1 | sed -E 's/.* [0-9]+->[0-9]+->([0-9]+) MB.*/\1 MB/'; }
for i in $(seq "$reloads"); do
  sed -i -E "s/^  description = \"Greets a name.*/  description = \"Greets a name $i\"/" "$dir/wf/hello.hcl"
  curl -s -o /dev/null -X POST http://127.0.0.1:18301/api/v1/reload
  if [ "$i" = 10 ]; then echo "after 10 reloads: $(live)"; fi
done
echo "after $reloads reloads: $(live) ($(grep -c '"workflows reloaded"\|msg="workflows reloaded"' "$dir/serve.err") reloads logged)"
