#!/usr/bin/env bash
# The cost of TLS: two 3-node clusters on this machine (fsync on), one in
# cleartext and one with TLS on the port and on the /raft links (peers
# verified by CA and node id; certificates made here with openssl; no client
# certificates, which wrk cannot present). 256-byte PUTs to each
# leader at 1 and 64 connections, REST (wrk, https:// for TLS) and gRPC
# (concordance-bench, --cacert for TLS), cleartext and TLS back to back for
# each row; CPU is user + sys of the three nodes over each run, per
# acknowledged write.
#
#   tools/bench/tls_cost.sh [seconds-per-run]
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${1:-10}
dpkg -s wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
bazel build //concordance:concordance //tools:concordance-bench 2>/dev/null
BIN=${CONCORDANCE_BIN:-bazel-bin/concordance/concordance}  # another build: CONCORDANCE_BIN=path
BENCH=bazel-bin/tools/concordance-bench
mkdir -p "${BENCH_DIR:-$PWD/.benchtmp}"
WORK=$(mktemp -d "${BENCH_DIR:-$PWD/.benchtmp}/tls.XXXXXX")
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
TIMING="--heartbeat-ms=100 --election-timeout-min-ms=1000 --election-timeout-max-ms=2000"

# --- certificates: a CA, one certificate per node (its IP and node id) ------
ssl() { openssl "$@" 2>/dev/null; }
ssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=bench-ca \
  -keyout "$WORK/ca.key" -out "$WORK/ca.pem"
for n in n1 n2 n3; do
  ssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=$n \
    -keyout "$WORK/$n.key" -out "$WORK/$n.csr"
  printf "subjectAltName=IP:127.0.0.1,DNS:%s\nextendedKeyUsage=serverAuth,clientAuth\n" $n >"$WORK/$n.ext"
  ssl x509 -req -in "$WORK/$n.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial -days 2 \
    -extfile "$WORK/$n.ext" -out "$WORK/$n.pem"
done

# --- the clusters: "plain" on 1470x, "tls" on 1471x --------------------------
declare -A LEADER PIDS
status() {  # scheme port
  curl -s --cacert "$WORK/ca.pem" --cert "$WORK/n1.pem" --key "$WORK/n1.key" "$1://127.0.0.1:$2/api/v1/cluster/status"
}
start_cluster() {  # name base-port scheme
  local name=$1 base=$2 scheme=$3 pids=()
  for i in 1 2 3; do
    local flags=(--node-id=n$i --listen=127.0.0.1:$((base + i)) --data-dir="$WORK/$name$i" $TIMING)
    if [[ $scheme == https ]]; then
      flags+=(--tls-cert-file="$WORK/n$i.pem" --tls-key-file="$WORK/n$i.key" --peer-tls-ca-file="$WORK/ca.pem"
        --peer-tls-require-node-id)
    fi
    if ((i == 1)); then flags+=(--bootstrap); else flags+=(--join=127.0.0.1:$((base + 1))); fi
    $BIN "${flags[@]}" 2>"$WORK/$name$i.log" &
    pids+=($!)
    if ((i == 1)); then
      for _ in $(seq 200); do status $scheme $((base + 1)) | grep -q '"role":"leader"' && break; sleep 0.1; done
    fi
  done
  for _ in $(seq 300); do
    [[ $(status $scheme $((base + 1)) | grep -o '"voter":true' | wc -l) == 3 ]] && break
    sleep 0.1
  done
  LEADER[$name]=$(status $scheme $((base + 1)) | python3 -c "import json,sys; print(json.load(sys.stdin)['leader']['address'])")
  PIDS[$name]="${pids[*]}"
}
start_cluster plain 14700 http
start_cluster tls 14710 https

cpu_ticks() { for pid in $1; do awk '{ printf "%d ", $14 + $15 }' "/proc/$pid/stat"; done; }
TICK_US=$(( 1000000 / $(getconf CLK_TCK) ))
cpu_us() {  # before after writes
  awk -v b="$1" -v a="$2" -v n="$3" -v t="$TICK_US" 'BEGIN { k = split(b, B, " "); split(a, A, " "); s = 0
    for (i = 1; i <= k; i++) s += A[i] - B[i]; printf "%.0f", (n > 0 ? s * t / n : 0) }'
}
# "writes/s p50 p99 ok"
wrk_run() {  # conns scheme host:port
  local out threads=$(( $1 < 2 ? 1 : 2 ))
  out=$(wrk -t"$threads" -c"$1" -d"${DURATION}s" --timeout 10s -s tools/bench/put_concordance.lua "$2://$3" 2>&1 | grep RESULT)
  sed -E 's/.*requests=([0-9]+).*non2xx=([0-9]+) rps=([0-9.]+) p50_ms=([0-9.]+) p99_ms=([0-9.]+).*/\3 \4 \5 \1 \2/' <<<"$out" |
    awk '{ printf "%.0f %.2f %.2f %d\n", ($5 > 0 ? 0 : $1), $2, $3, $4 - $5 }'
}
bench_run() {  # conns scheme host:port
  local tls=()
  [[ $2 == https ]] && tls=(--cacert="$WORK/ca.pem")
  $BENCH --endpoints="$3" --protocol=grpc --connections="$1" --duration="$DURATION" --progress=never --json "${tls[@]}" \
    2>/dev/null | python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); print("%.0f %.2f %.2f %d" % (r["per_second"], r["p50_ms"], r["p99_ms"], r["ok"] if r["errors"] == 0 else 0))'
}
measure() {  # client conns cluster -> "writes/s p50 p99 cpu"
  local scheme=http
  [[ $3 == tls ]] && scheme=https
  local before after r
  before=$(cpu_ticks "${PIDS[$3]}")
  if [[ $1 == wrk ]]; then r=$(wrk_run "$2" $scheme "${LEADER[$3]}"); else r=$(bench_run "$2" $scheme "${LEADER[$3]}"); fi
  after=$(cpu_ticks "${PIDS[$3]}")
  read -r rate p50 p99 ok <<<"$r"
  echo "$rate $p50 $p99 $(cpu_us "$before" "$after" "$ok")"
}

echo "leaders: cleartext ${LEADER[plain]}, TLS ${LEADER[tls]}"
echo
echo "| client | connections | cleartext writes/s | p50 ms | p99 ms | CPU µs/write (3 nodes) | TLS writes/s | p50 ms | p99 ms | CPU µs/write (3 nodes) | TLS / cleartext |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for c in 1 64; do
  for client in wrk bench; do
    read -r pr pp50 pp99 pcpu < <(measure $client $c plain)
    read -r tr tp50 tp99 tcpu < <(measure $client $c tls)
    label=$([[ $client == wrk ]] && echo "REST (wrk)" || echo "gRPC (concordance-bench)")
    awk -v l="$label" -v c=$c -v pr=$pr -v pp50=$pp50 -v pp99=$pp99 -v pc=$pcpu -v tr=$tr -v tp50=$tp50 -v tp99=$tp99 -v tc=$tcpu \
      'BEGIN { printf "| %s | %d | %d | %.2f | %.2f | %d | %d | %.2f | %.2f | %d | %.2f |\n", l, c, pr, pp50, pp99, pc, tr, tp50, tp99, tc, (pr > 0 ? tr / pr : 0) }'
  done
done
echo
echo "Concordance $($BIN --version | head -1), $(nproc) cores, $(date -u +%F)"
