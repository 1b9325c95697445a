#!/usr/bin/env bash
# Flat as the data grows: a 3-node cluster (fsync on) measured at 10,000
# keys, then loaded with KEYS more keys (POST /api/v1/batch, 128 ops per
# request, 4 clients), then measured again at once and 30 s later. Reports
# the 64-connection write rate and latency each time (wrk PUTs to 10,000 of
# the keys), the largest state.db-wal / raft.db-wal and RSS seen on any node
# (during the load, the write runs, and the wiped follower's catch-up), the time a follower takes to serve again after a
# graceful restart and after kill -9, and the time a wiped follower (removed,
# data dir deleted, started with --join) takes to catch up by snapshot.
#
#   tools/bench/growth.sh [keys] [seconds-per-run]
set -euo pipefail
cd "$(dirname "$0")/../.."
KEYS=${1:-1000000}
DURATION=${2:-10}
dpkg -s wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
bazel build //concordance:concordance 2>/dev/null
BIN=${CONCORDANCE_BIN:-bazel-bin/concordance/concordance}  # another build: CONCORDANCE_BIN=path
mkdir -p "${BENCH_DIR:-$PWD/.benchtmp}"
WORK=$(mktemp -d "${BENCH_DIR:-$PWD/.benchtmp}/growth.XXXXXX")
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; [[ -n ${KEEP:-} ]] || rm -rf "$WORK"' EXIT  # KEEP=1: keep the data and logs
TIMING="--heartbeat-ms=100 --election-timeout-min-ms=1000 --election-timeout-max-ms=2000"
wait_http() { for _ in $(seq 600); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done; return 1; }
now() { date +%s.%N; }
declare -A PID
start_node() {  # n extra-flags...
  local n=$1; shift
  $BIN --node-id=n$n --listen=127.0.0.1:1440$n --data-dir="$WORK/c$n" $TIMING "$@" 2>>"$WORK/c$n.log" &
  PID[$n]=$!
}
status() { curl -s "http://127.0.0.1:1440$1/api/v1/cluster/status"; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }

start_node 1 --bootstrap
wait_http http://127.0.0.1:14401/api/v1/ready
start_node 2 --join=127.0.0.1:14401
start_node 3 --join=127.0.0.1:14401
for _ in $(seq 200); do
  [[ $(status 1 | grep -o '"voter":true' | wc -l) == 3 ]] && break
  sleep 0.1
done

# The largest WAL files and RSS on any node, sampled every 0.2 s, by phase
# (the word in $WORK/phase).
echo runs >"$WORK/phase"
(
  while :; do
    phase=$(cat "$WORK/phase")
    for n in 1 2 3; do
      s=$(stat -c %s "$WORK/c$n/state.db-wal" 2>/dev/null || echo 0)
      r=$(stat -c %s "$WORK/c$n/raft.db-wal" 2>/dev/null || echo 0)
      m=$(awk '/VmRSS/ {print $2}' "/proc/${PID[$n]}/status" 2>/dev/null || echo 0)
      echo "$phase $s $r $m"
    done
    sleep 0.2
  done
) >"$WORK/samples" 2>/dev/null &
SAMPLER=$!

run() {  # label
  local out
  out=$(wrk -t2 -c64 -d"${DURATION}s" --timeout 10s -s tools/bench/put_concordance.lua http://127.0.0.1:14401 | grep RESULT)
  # writes/s counts 2xx answers only (a 307 from a node that lost the
  # leadership is not a write).
  echo "| $1 | $(sed -E 's/.*requests=([0-9]+).*non2xx=([0-9]+) rps=([0-9.]+) p50_ms=([0-9.]+) p99_ms=([0-9.]+).*/\1 \2 \3 \4 \5/' <<<"$out" |
    awk -v d="$DURATION" '{ printf "%.0f | %s | %s | %s", ($1 - $2) / d, $4, $5, $2 }') | $(status 1 | field "['leader']['nodeId']") |"
}
echo "| keys | 64-conn writes/s | p50 ms | p99 ms | non-2xx | leader after |"
echo "|---|---|---|---|---|---|"
run "10,000"
echo load >"$WORK/phase"
load=$(python3 tools/bench/bulk_load.py 127.0.0.1:14401 --keys "$KEYS")
echo runs >"$WORK/phase"
run "$KEYS + 10,000, right after the load"
sleep 30
run "$KEYS + 10,000, 30 s later"
echo
echo "bulk load: $load"
report_phase() {  # phase what
  awk -v p="$1" -v w="$2" '$1 == p { if ($2 > s) s = $2; if ($3 > r) r = $3; if ($4 > m) m = $4 }
       END { printf "%s: largest state.db-wal %.1f MiB, raft.db-wal %.1f MiB, RSS %.0f MiB (any node)\n", w, s / 1048576, r / 1048576, m / 1024 }' "$WORK/samples"
}
report_phase load "during the bulk load"
report_phase runs "during the write runs"
echo "state.db $(du -m "$WORK/c1/state.db" | cut -f1) MiB, raft.db $(du -m "$WORK/c1/raft.db" | cut -f1) MiB on n1"

ready_after() {  # n: seconds from start to /api/v1/ready answering 200
  local t0=$1 n=$2
  wait_http "http://127.0.0.1:1440$n/api/v1/ready"
  awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'
}
kill -TERM "${PID[2]}"; wait "${PID[2]}" 2>/dev/null || true
t0=$(now); start_node 2 --join=127.0.0.1:14401
echo "n2 graceful restart: serving after $(ready_after "$t0" 2) s"
kill -9 "${PID[2]}"; wait "${PID[2]}" 2>/dev/null || true
t0=$(now); start_node 2 --join=127.0.0.1:14401
echo "n2 restart after kill -9: serving after $(ready_after "$t0" 2) s"

# A wiped follower: removed, its data deleted, started again with --join.
echo catchup >"$WORK/phase"
echo "leadership changes (all nodes' logs): $(cat "$WORK"/c*.log | grep -c 'is now leader')"
kill -TERM "${PID[3]}"; wait "${PID[3]}" 2>/dev/null || true
leader=$(status 1 | field "['leader']['address']")
curl -sf -X POST "http://$leader/api/v1/cluster/remove" -d '{"nodeId":"n3"}' >/dev/null
rm -rf "$WORK/c3"
target=$(status 1 | field "['commitIndex']")
t0=$(now); start_node 3 --join=127.0.0.1:14401
for _ in $(seq 1200); do
  applied=$(status 3 2>/dev/null | field "['appliedIndex']" 2>/dev/null || echo 0)
  [[ ${applied:-0} -ge $target ]] && break
  sleep 0.1
done
echo "wiped n3: applied the leader's commit index $target after $(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }') s ($(grep -c 'installed a snapshot' "$WORK/c3.log") snapshot installed)"
kill $SAMPLER
report_phase catchup "while the wiped follower caught up"
echo "Concordance $($BIN --version | awk '{print $2, $3, $4}'), $(nproc) cores, $(date -u +%F)"
