#!/usr/bin/env bash
# One node, the same write workload over gRPC and REST in one run:
# concordance-bench (the generated gRPC client, and Beast for REST) and wrk
# (REST) at 1 and 64 connections, 256-byte JSON values over 10,000 keys,
# fsync on. Also the server's CPU per acknowledged write (utime + stime
# from /proc/<pid>/stat over each run) and concordance-bench's own. Prints a Markdown table for
# docs/benchmarks.md.
#
#   tools/bench/grpc_vs_rest.sh [seconds-per-run]
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-10}
dpkg -s wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
bazel build //concordance:concordance //tools:concordance-bench 2>/dev/null
BIN=bazel-bin/concordance/concordance
BENCH=bazel-bin/tools/concordance-bench
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
KEY=bench-api-key
PORT=14200
$BIN --bootstrap --listen=127.0.0.1:$PORT --data-dir="$WORK/data" --api-key=$KEY \
  --peer-key=bench-peer-key 2>"$WORK/node.log" &
PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/api/v1/ready" >/dev/null && break; sleep 0.1; done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
TICK=$(getconf CLK_TCK)

row() {  # label conns ok per_sec p50 p99 errors client_cpu ticks_before ticks_after
  local us
  us=$(awk -v a="$9" -v b="${10}" -v ok="$3" -v t="$TICK" 'BEGIN { printf "%.0f", ok ? (b - a) / t * 1e6 / ok : 0 }')
  echo "| $1 | $2 | $4 | $5 | $6 | $7 | $us | $8 |"
}

bench() {  # protocol conns
  local before after out
  before=$(cpu_ticks)
  out=$($BENCH --endpoints=127.0.0.1:$PORT --protocol="$1" --connections="$2" --duration="$DURATION" \
    --api-key=$KEY --json 2>/dev/null)
  after=$(cpu_ticks)
  local j='import json,sys; r=json.loads(sys.argv[1]); print(r["ok"], "%.0f" % r["per_second"], "%.2f" % r["p50_ms"], "%.2f" % r["p99_ms"], r["errors"], "%.0f" % r["client_cpu_us_per_op"])'
  # shellcheck disable=SC2046
  row "concordance-bench $1" "$2" $(python3 -c "$j" "$out") "$before" "$after"
}

wrk_run() {  # conns
  local before after out
  before=$(cpu_ticks)
  out=$(BENCH_AUTH=$KEY wrk -t"$(( $1 < 2 ? 1 : 2 ))" -c"$1" -d"${DURATION}s" -s tools/bench/put_concordance.lua \
    "http://127.0.0.1:$PORT" 2>&1 | grep RESULT)
  after=$(cpu_ticks)
  local ok rps p50 p99 err
  ok=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$out")
  rps=$(sed -E 's/.*rps=([0-9.]+).*/\1/' <<<"$out")
  p50=$(sed -E 's/.*p50_ms=([0-9.]+).*/\1/' <<<"$out")
  p99=$(sed -E 's/.*p99_ms=([0-9.]+).*/\1/' <<<"$out")
  err=$(sed -E 's/.*non2xx=([0-9]+).*/\1/' <<<"$out")
  row "wrk (REST)" "$1" "$ok" "$(printf %.0f "$rps")" "$(printf %.2f "$p50")" "$(printf %.2f "$p99")" "$err" "-" "$before" "$after"
}

echo "| client | connections | writes/s | p50 ms | p99 ms | errors | server CPU µs/write | client CPU µs/write |"
echo "|---|---|---|---|---|---|---|---|"
for c in 1 64; do
  bench grpc "$c"
  bench http "$c"
  wrk_run "$c"
done
