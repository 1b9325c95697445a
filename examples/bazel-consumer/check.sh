#!/usr/bin/env bash
# Builds this workspace (its own Bazel server: it uses Concordance as
# @concordance from ../..), starts a Concordance node from the main
# workspace's build, and runs //:hello against it. Prints "PASS name" or
# "FAIL name" (tools/test.sh counts it) to RESULTS (default: stdout).
#
#   examples/bazel-consumer/check.sh [RESULTS]
set -uo pipefail
cd "$(dirname "$0")"
results=${1:-/dev/stdout}
name="examples/bazel-consumer: builds against @concordance and talks to a node"
work=$(mktemp -d /tmp/concordance-consumer.XXXXXX)
node=
cleanup() { [[ -n $node ]] && kill "$node" 2>/dev/null && wait "$node" 2>/dev/null; bazel shutdown 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "consumer check: $*" >&2; echo "FAIL $name" >> "$results"; exit 1; }

bazel build //:hello >"$work/build.log" 2>&1 || { tail -30 "$work/build.log" >&2; fail "bazel build //:hello failed"; }
(cd ../.. && bazel build //concordance:concordance >"$work/main.log" 2>&1) || fail "the main workspace does not build"
# Port 0: a free one, read back from the node's log.
../../bazel-bin/concordance/concordance --bootstrap --listen=127.0.0.1:0 --data-dir="$work/data" \
  2>"$work/node.log" &
node=$!
port=
for _ in $(seq 300); do
  port=$(sed -n 's/.* serving on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$work/node.log")
  [[ -n $port ]] && break
  sleep 0.1
done
[[ -n $port ]] || fail "the node did not start: $(tail -3 "$work/node.log")"
for _ in $(seq 300); do curl -sf http://127.0.0.1:$port/api/v1/ready >/dev/null && break; sleep 0.1; done
out=$(bazel-bin/hello 127.0.0.1:$port 2>&1) || fail "hello failed: $out"
echo "$out"
[[ $out == *'greeting = "hello from another workspace" (version 1'* ]] || fail "unexpected output: $out"
echo "PASS $name" >> "$results"
