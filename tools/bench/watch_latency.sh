#!/usr/bin/env bash
# watch-latency on a 3-node cluster (fsync on): 1,000 gRPC subscribers spread
# over the three nodes, in two shapes, with concordance-bench:
#   (a) spread  each subscriber on its own namespace, 1,000 writes/s over them
#   (b) fanout  all 1,000 on one tenant, 100 writes/s (100,000 notifications/s)
# Latency is from each write's acknowledgement (and from its send) to each
# notification; the servers' CPU per notification is the three nodes'
# utime + stime over the run divided by the notifications received.
#
#   tools/bench/watch_latency.sh [seconds-per-run] [subscribers]
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-10}
SUBS=${2:-1000}
bazel build //concordance:concordance //tools:concordance-bench 2>/dev/null
BIN=${CONCORDANCE_BIN:-bazel-bin/concordance/concordance}  # another build: CONCORDANCE_BIN=path
BENCH=bazel-bin/tools/concordance-bench
mkdir -p "${BENCH_DIR:-$PWD/.benchtmp}"
WORK=$(mktemp -d "${BENCH_DIR:-$PWD/.benchtmp}/watch.XXXXXX")
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
# etcd's default timing (heartbeat 100 ms, election timeout 1,000 ms) for
# Concordance too: its own defaults (50 ms, 150-300 ms) make the leader step
# down when both followers stall in fsync at once for a few hundred ms, which
# this VM's shared disk does every few seconds (measured: fsync p50 0.3 ms,
# max 349 ms over 15 s; see docs/benchmarks.md).
TIMING="--heartbeat-ms=100 --election-timeout-min-ms=1000 --election-timeout-max-ms=2000"
wait_http() { for _ in $(seq 200); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done; return 1; }

$BIN --node-id=n1 --listen=127.0.0.1:14301 --data-dir="$WORK/c1" --bootstrap $TIMING 2>"$WORK/c1.log" &
PIDS=$!
wait_http http://127.0.0.1:14301/api/v1/ready
$BIN --node-id=n2 --listen=127.0.0.1:14302 --data-dir="$WORK/c2" --join=127.0.0.1:14301 $TIMING 2>"$WORK/c2.log" &
PIDS=$PIDS,$!
$BIN --node-id=n3 --listen=127.0.0.1:14303 --data-dir="$WORK/c3" --join=127.0.0.1:14301 $TIMING 2>"$WORK/c3.log" &
PIDS=$PIDS,$!
for _ in $(seq 200); do
  [[ $(curl -s http://127.0.0.1:14301/api/v1/cluster/status | grep -o '"voter":true' | wc -l) == 3 ]] && break
  sleep 0.1
done
ENDPOINTS=127.0.0.1:14301,127.0.0.1:14302,127.0.0.1:14303

echo "| shape | subscribers | writes/s | notifications/s | received / expected | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | before ack | from send p50 / p99 ms | server CPU µs/notification |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for shape in spread fanout; do
  rate=$([[ $shape == spread ]] && echo 1000 || echo 100)
  $BENCH --endpoints=$ENDPOINTS --workload=watch-latency --watch-shape=$shape --subscribers="$SUBS" \
    --rate="$rate" --writers=8 --duration="$DURATION" --server-pids="$PIDS" --progress=never --json 2>"$WORK/bench.err" |
    python3 -c 'import json,sys
r = json.loads(sys.stdin.read())
print("| %s | %d | %.0f | %.0f | %d / %d | %.2f | %.2f | %.2f | %.2f | %.2f | %d | %.2f / %.2f | %.1f |" % (
    r["shape"], r["subscribers"], r["writes_per_second"], r["notifications_per_second"], r["received"],
    r["expected"], r["p50_ms"], r["p90_ms"], r["p99_ms"], r["p999_ms"], r["max_ms"], r["before_ack"],
    r["from_send_p50_ms"], r["from_send_p99_ms"], r.get("server_cpu_us_per_op", 0)))' || cat "$WORK/bench.err" >&2
done

# What subscribers cost the write rate: writers as fast as answered (64,
# closed-loop, gRPC), first with no subscriber, then with $SUBS spread ones
# (each write notifies one). Alternated twice, as this VM drifts.
echo
echo "| subscribers | writes/s (64 writers, unpaced) | notifications/s | server CPU µs/write |"
echo "|---|---|---|---|"
for subs in 0 "$SUBS" 0 "$SUBS"; do
  $BENCH --endpoints=$ENDPOINTS --workload=watch-latency --watch-shape=spread --subscribers="$subs" \
    --rate=0 --writers=64 --duration="$DURATION" --server-pids="$PIDS" --progress=never --json 2>"$WORK/bench.err" |
    python3 -c 'import json,sys
r = json.loads(sys.stdin.read())
print("| %d | %.0f | %.0f | %.0f |" % (r["subscribers"], r["writes_per_second"], r["notifications_per_second"],
      r.get("server_cpu_us_per_write", 0)))' || cat "$WORK/bench.err" >&2
done
