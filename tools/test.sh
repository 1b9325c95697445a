#!/usr/bin/env bash
# Runs every test: setup, then `bazel test //...` (unit tests, the Raft
# simulator's CI run, the multi-process server and cluster suites), then a
# short run of each fuzzer (tools/fuzz.sh smoke), then the example that uses
# Concordance from another Bazel workspace (examples/bazel-consumer). Ends with
# a line `N passed, N failed` counting test cases (gtest cases from each
# test.xml), not targets. Exits non-zero on any failure.
#
# Extra arguments go to `bazel test` (e.g. tools/test.sh //storage/...).
set -uo pipefail
cd "$(dirname "$0")/.."

tools/setup.sh || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }

targets=("$@")
if ((${#targets[@]} == 0)); then targets=("//..."); fi

bep=$(mktemp /tmp/concordance-bep.XXXXXX.json)
trap 'rm -f "$bep"' EXIT

bazel test --keep_going --build_event_json_file="$bep" "${targets[@]}"
bazel_rc=$?

# The fuzzers (clang, ASan, UBSan): every seed and regression input, then a
# few seconds of fuzzing each. Only with the whole suite.
fuzz_results=()
fuzz_rc=0
if (($# == 0)); then
  fuzz_file=$(mktemp /tmp/concordance-fuzz.XXXXXX)
  trap 'rm -f "$bep" "$fuzz_file"' EXIT
  tools/fuzz.sh smoke "$fuzz_file"
  fuzz_rc=$?
  # Concordance used from another Bazel workspace (its own Bazel server).
  consumer_file=$(mktemp /tmp/concordance-consumer.XXXXXX)
  trap 'rm -f "$bep" "$fuzz_file" "$consumer_file"' EXIT
  if ! examples/bazel-consumer/check.sh "$consumer_file"; then
    fuzz_rc=1
    grep -q . "$consumer_file" || echo "FAIL examples/bazel-consumer (check.sh ended early)" >>"$consumer_file"
  fi
  fuzz_results=("$fuzz_file" "$consumer_file")
fi

python3 tools/test_summary.py "$bep" "${fuzz_results[@]}"
summary_rc=$?

if ((bazel_rc != 0 || summary_rc != 0 || fuzz_rc != 0)); then exit 1; fi
exit 0
