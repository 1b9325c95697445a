#!/usr/bin/env bash
# Concordance beside etcd on one machine, in one run: a 3-node Concordance
# cluster and a 3-node etcd cluster (Debian's etcd-server) on loopback, both
# with fsync on, both up for the whole run. The same `put` workload (256-byte
# values over 10,000 keys) goes to each leader at 1, 16, 64 and 256
# connections, alternating between the systems at each step:
#   wrk                Concordance REST PUT  vs  etcd's JSON gateway /v3/kv/put
#   concordance-bench  --protocol=http       vs  --protocol=etcd (same generator)
#   concordance-bench  --protocol=grpc       (Concordance only: etcd's native
#                      gRPC is not driven; its JSON gateway is the etcd column)
# Each Concordance row is cross-checked with the leader's own count of
# accepted writes (concordance_raft_proposals_total). Prints a Markdown table
# with the throughput ratio Concordance / etcd.
#
# Each row also gives the CPU (user + sys) each node spent per acknowledged
# write over the run, for both systems.
#
#   tools/bench/compare_etcd.sh [seconds-per-run]
#
# LEVELS="1 64" CLIENTS=wrk GRPC=no narrow a run (default: every row).
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-10}
for p in wrk etcd-server; do
  dpkg -s "$p" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$p" >/dev/null; }
done
bazel build //concordance:concordance //tools:concordance-bench 2>/dev/null
BIN=${CONCORDANCE_BIN:-bazel-bin/concordance/concordance}  # another build: CONCORDANCE_BIN=path
BENCH=bazel-bin/tools/concordance-bench
mkdir -p "${BENCH_DIR:-$PWD/.benchtmp}"
WORK=$(mktemp -d "${BENCH_DIR:-$PWD/.benchtmp}/compare.XXXXXX")
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT

# etcd's default timing (heartbeat 100 ms, election timeout 1,000 ms) for
# Concordance too: its own defaults (50 ms, 150-300 ms) make the leader step
# down when both followers stall in fsync at once for a few hundred ms, which
# this VM's shared disk does every few seconds (measured: fsync p50 0.3 ms,
# max 349 ms over 15 s; see docs/benchmarks.md).
TIMING="--heartbeat-ms=100 --election-timeout-min-ms=1000 --election-timeout-max-ms=2000"
wait_http() { for _ in $(seq 200); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done; return 1; }

# --- the clusters -----------------------------------------------------------
$BIN --node-id=n1 --listen=127.0.0.1:14101 --data-dir="$WORK/c1" --bootstrap $TIMING 2>"$WORK/c1.log" &
C_PIDS=($!)
wait_http http://127.0.0.1:14101/api/v1/ready
$BIN --node-id=n2 --listen=127.0.0.1:14102 --data-dir="$WORK/c2" --join=127.0.0.1:14101 $TIMING 2>"$WORK/c2.log" &
C_PIDS+=($!)
$BIN --node-id=n3 --listen=127.0.0.1:14103 --data-dir="$WORK/c3" --join=127.0.0.1:14101 $TIMING 2>"$WORK/c3.log" &
C_PIDS+=($!)
for _ in $(seq 200); do
  [[ $(curl -s http://127.0.0.1:14101/api/v1/cluster/status | grep -o '"voter":true' | wc -l) == 3 ]] && break
  sleep 0.1
done
C_LEADER=$(curl -s http://127.0.0.1:14101/api/v1/cluster/status |
  python3 -c "import json,sys; print(json.load(sys.stdin)['leader']['address'])")

E_PIDS=()
CLUSTER=e1=http://127.0.0.1:12381,e2=http://127.0.0.1:12382,e3=http://127.0.0.1:12383
for i in 1 2 3; do
  etcd --name e$i --data-dir "$WORK/e$i" --listen-client-urls http://127.0.0.1:1237$i \
    --advertise-client-urls http://127.0.0.1:1237$i --listen-peer-urls http://127.0.0.1:1238$i \
    --initial-advertise-peer-urls http://127.0.0.1:1238$i --initial-cluster "$CLUSTER" \
    --initial-cluster-state new >"$WORK/e$i.log" 2>&1 &
  E_PIDS+=($!)
done
for i in 1 2 3; do wait_http http://127.0.0.1:1237$i/health; done
E_LEADER=""
for _ in $(seq 50); do
  for i in 1 2 3; do
    is=$(curl -s -X POST http://127.0.0.1:1237$i/v3/maintenance/status -d '{}' |
      python3 -c "import json,sys; d=json.load(sys.stdin); print('yes' if d['header']['member_id']==d['leader'] else '')")
    [[ $is == yes ]] && E_LEADER=127.0.0.1:1237$i
  done
  [[ -n $E_LEADER ]] && break
  sleep 0.1
done
[[ -n $E_LEADER ]] || { echo "etcd elected no leader" >&2; exit 1; }

# --- one measurement: "writes/s p50 p99 errors ok" ----------------------------
proposals() {
  curl -s "http://$C_LEADER/metrics" | awk '$1 == "concordance_raft_proposals_total" {print $2}'
}
wrk_run() {  # conns script host:port
  local out threads=$(( $1 < 2 ? 1 : 2 ))
  out=$(wrk -t"$threads" -c"$1" -d"${DURATION}s" --timeout 10s -s "tools/bench/$2" "http://$3" 2>&1 | grep RESULT)
  # writes/s p50 p99 non-2xx acknowledged
  sed -E 's/.*requests=([0-9]+).*non2xx=([0-9]+) rps=([0-9.]+) p50_ms=([0-9.]+) p99_ms=([0-9.]+).*/\3 \4 \5 \2 \1/' <<<"$out" |
    awk '{ printf "%s %.2f %.2f %d %d\n", $1, $2, $3, $4, $5 - $4 }'

}
bench_run() {  # conns protocol host:port
  $BENCH --endpoints="$3" --protocol="$2" --connections="$1" --duration="$DURATION" --progress=never --json \
    2>/dev/null | python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); print("%.0f %.2f %.2f %d %d" % (r["per_second"], r["p50_ms"], r["p99_ms"], r["errors"], r["ok"]))'
}
# CPU (user + sys, from /proc/<pid>/stat) of each process, in clock ticks.
cpu_ticks() { for pid in "$@"; do awk '{ printf "%d ", $14 + $15 }' "/proc/$pid/stat"; done; }
TICK_US=$(( 1000000 / $(getconf CLK_TCK) ))
# "a/b/c = sum": CPU microseconds per acknowledged write, per node and summed.
cpu_per_write() {  # "ticks before" "ticks after" writes
  awk -v b="$1" -v a="$2" -v n="$3" -v t="$TICK_US" 'BEGIN {
    k = split(b, B, " "); split(a, A, " "); sum = 0; out = ""
    for (i = 1; i <= k; i++) { u = (n > 0 ? (A[i] - B[i]) * t / n : 0); sum += u; out = out (i > 1 ? "/" : "") sprintf("%.0f", u) }
    printf "%s = %.0f", out, sum }'
}
checked() {  # what the client counted, what the leader counted
  echo "$1 / $2"
}

echo "Concordance leader: $(curl -s http://127.0.0.1:14101/api/v1/cluster/status | python3 -c "import json,sys; print(json.load(sys.stdin)['leader']['nodeId'])")"
echo
echo "| connections | client | Concordance writes/s | p50 ms | p99 ms | etcd writes/s | p50 ms | p99 ms | Concordance / etcd | errors C / e | writes: client / leader | CPU µs/write C n1/n2/n3 = sum | etcd e1/e2/e3 = sum |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for c in ${LEVELS:-1 16 64 256}; do
  for client in ${CLIENTS:-wrk bench}; do
    before=$(proposals)
    cb=$(cpu_ticks "${C_PIDS[@]}")
    curl -s "http://$C_LEADER/metrics" >"$WORK/stages-before"
    if [[ $client == wrk ]]; then
      read -r cr cp50 cp99 cerr cok < <(wrk_run "$c" put_concordance.lua "$C_LEADER")
      curl -s "http://$C_LEADER/metrics" >"$WORK/stages-after"
      python3 tools/bench/stage_breakdown.py "$WORK/stages-before" "$WORK/stages-after" \
        "Leader's stage breakdown, wrk, $c connection(s):" >>"$WORK/stages.md"
      echo >>"$WORK/stages.md"
    else
      read -r cr cp50 cp99 cerr cok < <(bench_run "$c" http "$C_LEADER")
    fi
    ca=$(cpu_ticks "${C_PIDS[@]}")
    after=$(proposals)
    eb=$(cpu_ticks "${E_PIDS[@]}")
    if [[ $client == wrk ]]; then
      read -r er ep50 ep99 eerr eok < <(wrk_run "$c" put_etcd.lua "$E_LEADER")
      label="wrk (REST / JSON gateway)"
    else
      read -r er ep50 ep99 eerr eok < <(bench_run "$c" etcd "$E_LEADER")
      label="concordance-bench (REST / JSON gateway)"
    fi
    ea=$(cpu_ticks "${E_PIDS[@]}")
    ratio=$(awk -v a="$cr" -v b="$er" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
    echo "| $c | $label | $(printf %.0f "$cr") | $cp50 | $cp99 | $(printf %.0f "$er") | $ep50 | $ep99 | $ratio | $cerr / $eerr | $(checked "$cok" "$(awk -v a="$before" -v b="$after" 'BEGIN { printf "%.0f", b - a }')") | $(cpu_per_write "$cb" "$ca" "$cok") | $(cpu_per_write "$eb" "$ea" "$eok") |"
  done
  [[ ${GRPC:-yes} == yes ]] || continue
  before=$(proposals)
  cb=$(cpu_ticks "${C_PIDS[@]}")
  read -r gr gp50 gp99 gerr gok < <(bench_run "$c" grpc "$C_LEADER")
  ca=$(cpu_ticks "${C_PIDS[@]}")
  after=$(proposals)
  echo "| $c | concordance-bench (gRPC) | $gr | $gp50 | $gp99 | - | - | - | - | $gerr / - | $(checked "$gok" "$(awk -v a="$before" -v b="$after" 'BEGIN { printf "%.0f", b - a }')") | $(cpu_per_write "$cb" "$ca" "$gok") | - |"
done
echo
cat "$WORK/stages.md"
echo "etcd $(etcd --version 2>/dev/null | head -1 | awk '{print $3}'), Concordance $($BIN --version | awk '{print $2, $3, $4}'), $(nproc) cores, $(date -u +%F)"
