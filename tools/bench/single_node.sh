#!/usr/bin/env bash
# Single-node write benchmark: Concordance beside etcd, same machine, same
# run, both with fsync on. wrk PUTs 256-byte values over 10,000 keys at 1 and
# 64 connections. Prints a Markdown table for docs/benchmarks.md.
#
#   tools/bench/single_node.sh [seconds-per-run]
#
# Needs wrk and etcd-server (Debian packages); installs them if missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-10}
for p in wrk etcd-server; do
  dpkg -s "$p" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$p" >/dev/null; }
done
bazel build //concordance:concordance 2>/dev/null
BIN=${CONCORDANCE_BIN:-bazel-bin/concordance/concordance}  # another build: CONCORDANCE_BIN=path
WORK=$(mktemp -d "${BENCH_DIR:-$PWD/.benchtmp}/single.XXXXXX" 2>/dev/null || mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT

wait_http() { for _ in $(seq 100); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done; return 1; }

run() {  # name conns script url
  local out
  out=$(wrk -t"$(( $2 < 2 ? 1 : 2 ))" -c"$2" -d"${DURATION}s" -s "tools/bench/$3" "$4" 2>&1 | grep RESULT)
  echo "| $1 | $2 | $(sed -E 's/.*rps=([0-9.]+).*/\1/' <<<"$out") | $(sed -E 's/.*p50_ms=([0-9.]+).*/\1/' <<<"$out") | $(sed -E 's/.*p99_ms=([0-9.]+).*/\1/' <<<"$out") | $(sed -E 's/.*non2xx=([0-9]+).*/\1/' <<<"$out") |"
}

echo "| server | connections | writes/s | p50 ms | p99 ms | non-2xx |"
echo "|---|---|---|---|---|---|"
PORT=14100
$BIN --bootstrap --listen=127.0.0.1:$PORT --data-dir="$WORK/concordance" 2>"$WORK/concordance.log" &
CPID=$!
wait_http "http://127.0.0.1:$PORT/api/v1/ready"
for c in 1 64; do run concordance $c put_concordance.lua "http://127.0.0.1:$PORT"; done
kill $CPID; wait $CPID 2>/dev/null || true

etcd --data-dir "$WORK/etcd" --listen-client-urls http://127.0.0.1:12379 \
  --advertise-client-urls http://127.0.0.1:12379 --listen-peer-urls http://127.0.0.1:12380 \
  --initial-advertise-peer-urls http://127.0.0.1:12380 \
  --initial-cluster default=http://127.0.0.1:12380 >"$WORK/etcd.log" 2>&1 &
EPID=$!
wait_http "http://127.0.0.1:12379/health"
for c in 1 64; do run "etcd 3.4" $c put_etcd.lua "http://127.0.0.1:12379"; done
kill $EPID; wait $EPID 2>/dev/null || true
