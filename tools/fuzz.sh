#!/usr/bin/env bash
# The libFuzzer targets in fuzz/ (clang, ASan, UBSan).
#
#   tools/fuzz.sh build               build them all
#   tools/fuzz.sh run NAME SECONDS    fuzz one for a while (by hand): new
#                                     inputs go to a scratch corpus, a crash
#                                     to fuzz/crashes/; a crash input, once
#                                     fixed, belongs in fuzz/corpus/NAME/
#   tools/fuzz.sh smoke [RESULTS]     what tools/test.sh runs: every seed and
#                                     regression input of each fuzzer, then 4 s
#                                     of fuzzing each; one "PASS name" or
#                                     "FAIL name" line per fuzzer to RESULTS
#
# The fuzzers build in an output base of their own, so switching compilers
# never throws away the gcc build's cache; that base sits beside the usual
# ~/.cache/bazel ones.
set -uo pipefail
cd "$(dirname "$0")/.."

FUZZERS=(http_request_fuzzer jsonrpc_fuzzer websocket_fuzzer raft_message_fuzzer
         command_fuzzer snapshot_image_fuzzer)
BASE="${HOME}/.cache/concordance-fuzz-output-base"
bz() { bazel --output_base="$BASE" "$@"; }

build() {
  bz build --config=fuzz --symlink_prefix=/ //fuzz:fuzzers || return 1
  BIN="$(bz info --config=fuzz bazel-bin 2>/dev/null)/fuzz"
}

run_one() {  # name seconds [extra libFuzzer flags...]
  local name=$1 secs=$2
  shift 2
  local work
  work=$(mktemp -d "/tmp/fuzz-${name}.XXXXXX")
  mkdir -p fuzz/crashes
  # ASan: report leaks too; UBSan findings abort (-fno-sanitize-recover).
  # The Raft core logs every message it refuses: only FATAL is printed.
  GLOG_minloglevel=3 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    "$BIN/$name" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix="fuzz/crashes/${name}-" -print_final_stats=1 "$@" \
    "$work" "fuzz/corpus/$name"
  local rc=$?
  rm -rf "$work"
  return $rc
}

case "${1:-}" in
  build)
    build
    ;;
  run)
    [[ $# -ge 3 ]] || { echo "usage: tools/fuzz.sh run NAME SECONDS" >&2; exit 2; }
    build || exit 1
    run_one "$2" "$3" "${@:4}"
    ;;
  smoke)
    results=${2:-/dev/stdout}
    : > "$results.tmp" 2>/dev/null || results=/dev/stdout
    if ! build >/tmp/fuzz-build.log 2>&1; then
      tail -40 /tmp/fuzz-build.log >&2
      for f in "${FUZZERS[@]}"; do echo "FAIL $f (did not build)"; done > "$results"
      exit 1
    fi
    failed=0
    for f in "${FUZZERS[@]}"; do
      if run_one "$f" 4 >"/tmp/fuzz-smoke-$f.log" 2>&1; then
        echo "PASS $f"
      else
        echo "FAIL $f (log: /tmp/fuzz-smoke-$f.log)"
        tail -30 "/tmp/fuzz-smoke-$f.log" >&2
        failed=1
      fi
    done > "$results.tmp"
    cat "$results.tmp"
    [[ "$results" == /dev/stdout ]] || mv "$results.tmp" "$results"
    rm -f "$results.tmp"
    exit $failed
    ;;
  *)
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
