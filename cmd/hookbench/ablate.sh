#!/usr/bin/env bash
# What Redis's scripts cost the relay: builds HEAD as it is, and HEAD with start.lua and
# finish.lua returning at once (a start still gets its lease, every call still goes to
# Redis with all its keys and arguments, but Redis keeps nothing), then runs the relay
# against both in turn with the floor in each invocation (alternate.sh with FLOOR=1).
# The second build is a measurement only: it keeps no run, and a start it cannot lease
# (every worker busy) is dropped, so it must never serve.
#
#   cmd/hookbench/ablate.sh [ROUNDS]
#
# ROUNDS (default 3) is how many times each runs; DURATION=20s changes the window
# (default 8s). HEAD's engine is built from a worktree, so changes to it not committed
# are not measured; the workflows are those of cmd/hookbench/workflows here. Build
# hookbench with go build -o /tmp/hookbench ./cmd/hookbench.
set -eu
cd "$(dirname "$0")/../.."
rounds=${1:-3}
if [ ! -x /tmp/hookbench ]; then
  echo "ablate.sh: build hookbench first: go build -o /tmp/hookbench ./cmd/hookbench" >&2
  exit 1
fi
work=$(mktemp -d)
cleanup() {
  git worktree remove --force "$work/tree" >/dev/null 2>&1 || true
  rm -rf "$work"
  git worktree prune
}
trap cleanup EXIT
git worktree add -q --detach "$work/tree" HEAD
(cd "$work/tree" && go build -o "$work/hookflow-head" ./cmd/hookflow)

# return_before FILE ANCHOR LINE puts LINE before the line ANCHOR in FILE, and fails when
# ANCHOR is not there exactly once (the script changed: update this one).
return_before() {
  local file=$1 anchor=$2 line=$3
  if [ "$(grep -cxF -- "$anchor" "$file")" != 1 ]; then
    echo "ablate.sh: '$anchor' is not once in $file: update ablate.sh to the script" >&2
    exit 1
  fi
  awk -v a="$anchor" -v l="$line" '$0 == a {print l} {print}' "$file" >"$file.new"
  mv "$file.new" "$file"
}
scripts=$work/tree/engine/scripts
return_before "$scripts/start.lua" "if redis.call('EXISTS', run_key) == 1 then" \
  "do if lease > 0 then local now, now_s = now_ms() return {first_token(now_s), now} end return 1 end"
return_before "$scripts/finish.lua" "if redis.call('HGET', K.job, 'token') ~= token then" \
  "do return 0 end"
(cd "$work/tree" && go build -o "$work/hookflow-scripts-return" ./cmd/hookflow)

FLOOR=1 DURATION=${DURATION:-8s} cmd/hookbench/alternate.sh "$work/hookflow-head" \
  "$work/hookflow-scripts-return" "$rounds"
