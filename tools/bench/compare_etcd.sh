#!/usr/bin/env bash
# 3-node write benchmark: a Concordance cluster beside an etcd cluster, same
# machine, same run, both with fsync on. wrk PUTs 256-byte values over
# 10,000 keys to the leader at 1, 16, 64 and 256 connections. Prints a
# Markdown table for docs/benchmarks.md.
#
#   tools/bench/three_node.sh [seconds-per-run]
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-10}
for p in wrk etcd-server; do
  dpkg -s "$p" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$p" >/dev/null; }
done
bazel build //concordance:concordance 2>/dev/null
BIN=bazel-bin/concordance/concordance
mkdir -p "${BENCH_DIR:-$PWD/.benchtmp}"
WORK=$(mktemp -d "${BENCH_DIR:-$PWD/.benchtmp}/three.XXXXXX")
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT

wait_http() { for _ in $(seq 200); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done; return 1; }
# Writes the server itself counted (Concordance: proposals committed by the
# leader), to cross-check wrk's count.
server_writes() {
  curl -s "$1/metrics" | awk '/^concordance_http_requests_total\{route="kv_put",method="PUT",code="200"\}/ {print $2}'
}
run() {  # name conns script url
  local out threads=$(( $2 < 2 ? 1 : 2 )) before after checked="-"
  [[ $1 == concordance ]] && before=$(server_writes "$4")
  out=$(wrk -t"$threads" -c"$2" -d"${DURATION}s" --timeout 10s -s "tools/bench/$3" "$4" 2>&1 | grep RESULT)
  if [[ $1 == concordance ]]; then
    after=$(server_writes "$4")
    checked=$(( after - before ))
  fi
  echo "| $1 | $2 | $(sed -E 's/.*rps=([0-9.]+).*/\1/' <<<"$out") | $(sed -E 's/.*p50_ms=([0-9.]+).*/\1/' <<<"$out") | $(sed -E 's/.*p99_ms=([0-9.]+).*/\1/' <<<"$out") | $(sed -E 's/.*non2xx=([0-9]+).*/\1/' <<<"$out") | $(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$out") / $checked |"
}

echo "| server | connections | writes/s | p50 ms | p99 ms | non-2xx | writes: wrk / server |"
echo "|---|---|---|---|---|---|---|"
$BIN --node-id=n1 --listen=127.0.0.1:14101 --data-dir="$WORK/c1" --bootstrap 2>"$WORK/c1.log" &
wait_http http://127.0.0.1:14101/api/v1/ready
$BIN --node-id=n2 --listen=127.0.0.1:14102 --data-dir="$WORK/c2" --join=127.0.0.1:14101 2>"$WORK/c2.log" &
$BIN --node-id=n3 --listen=127.0.0.1:14103 --data-dir="$WORK/c3" --join=127.0.0.1:14101 2>"$WORK/c3.log" &
for _ in $(seq 200); do
  [[ $(curl -s http://127.0.0.1:14101/api/v1/cluster/status | grep -o '"voter":true' | wc -l) == 3 ]] && break
  sleep 0.1
done
for c in 1 16 64 256; do run concordance $c put_concordance.lua http://127.0.0.1:14101; done
kill $(jobs -p); wait 2>/dev/null || true

CLUSTER=e1=http://127.0.0.1:12381,e2=http://127.0.0.1:12382,e3=http://127.0.0.1:12383
for i in 1 2 3; do
  etcd --name e$i --data-dir "$WORK/e$i" --listen-client-urls http://127.0.0.1:1237$i \
    --advertise-client-urls http://127.0.0.1:1237$i --listen-peer-urls http://127.0.0.1:1238$i \
    --initial-advertise-peer-urls http://127.0.0.1:1238$i --initial-cluster "$CLUSTER" \
    --initial-cluster-state new >"$WORK/e$i.log" 2>&1 &
done
for i in 1 2 3; do wait_http http://127.0.0.1:1237$i/health; done
# Send to the leader, as the Concordance runs do.
LEADER=""
for _ in $(seq 50); do
  for i in 1 2 3; do
    is=$(curl -s -X POST http://127.0.0.1:1237$i/v3/maintenance/status -d '{}' |
      python3 -c "import json,sys; d=json.load(sys.stdin); print('yes' if d['header']['member_id']==d['leader'] else '')")
    [[ $is == yes ]] && LEADER=$i
  done
  [[ -n $LEADER ]] && break
  sleep 0.1
done
for c in 1 16 64 256; do run "etcd 3.4" $c put_etcd.lua http://127.0.0.1:1237$LEADER; done
