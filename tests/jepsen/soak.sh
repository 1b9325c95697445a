#!/usr/bin/env bash
# A long fault-injection run, by hand: the fault scenarios of
# tests/jepsen/faults_test.cc one after another in a shuffled order, each on
# a fresh cluster with a fresh seed, until MINUTES have passed (the last one
# started finishes); then one table of operations by type, faults injected
# by type, indeterminate operations and the verdicts (linearizability,
# durability, watches, convergence: a scenario passes only if all hold).
#
#   tests/jepsen/soak.sh MINUTES [OUTDIR]
#
# Each scenario's output, its gtest XML and (when it fails) every node's log
# are kept in OUTDIR (default /tmp/concordance-soak). Replay one with
# CONCORDANCE_JEPSEN_SEED=<seed> and --gtest_filter=FaultsTest.<name>.
set -uo pipefail
cd "$(dirname "$0")/../.."
minutes=${1:?usage: tests/jepsen/soak.sh MINUTES [OUTDIR]}
out=${2:-/tmp/concordance-soak}
rm -rf "$out" && mkdir -p "$out"

bazel build //concordance:concordance //tests/jepsen:faults_test || exit 1
bin=$PWD/bazel-bin/concordance/concordance
test=$PWD/bazel-bin/tests/jepsen/faults_test
mapfile -t scenarios < <("$test" --gtest_list_tests | awk '/^[^ ]/ {s=$1} /^  / {print s $1}')
echo "${#scenarios[@]} scenarios; running for $minutes minutes into $out"

deadline=$(($(date +%s) + minutes * 60))
run=0
while (($(date +%s) < deadline)); do
  for name in $(printf '%s\n' "${scenarios[@]}" | shuf); do
    (($(date +%s) < deadline)) || break
    run=$((run + 1))
    seed=$((RANDOM * 32768 + RANDOM))
    dir="$out/$(printf '%03d' $run)-${name#FaultsTest.}"
    mkdir -p "$dir/tmp" "$dir/outputs"
    started=$(date +%s)
    CONCORDANCE_JEPSEN_SEED=$seed CONCORDANCE_TEST_BINARY=$bin TEST_TMPDIR="$dir/tmp" \
      TEST_UNDECLARED_OUTPUTS_DIR="$dir/outputs" \
      "$test" --gtest_filter="$name" --gtest_output="xml:$dir/result.xml" >"$dir/output.txt" 2>&1
    rc=$?
    rm -rf "$dir/tmp"
    printf '%4d  %-55s seed %-10s %4ds  %s\n' "$run" "$name" "$seed" $(($(date +%s) - started)) \
      "$([[ $rc == 0 ]] && echo pass || echo FAIL)"
  done
done
python3 tests/jepsen/soak_summary.py "$out"/*/result.xml
