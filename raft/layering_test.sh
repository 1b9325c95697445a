#!/usr/bin/env bash
# raft/ is a pure state machine: its core and simulator include nothing from
# gateway/ or concordance/, no SQLite, no sockets, no threads, no clocks.
# (simulate_main.cc, the CLI, may time itself with <chrono>.)
set -u
cd "${TEST_SRCDIR}/${TEST_WORKSPACE}/raft"
bad=$(grep -nE '#include *[<"](gateway/|concordance/|storage/(raft_log|kv_store|sqlite)\.h|sqlite3\.h|sys/socket\.h|netinet/|arpa/|boost/|thread>|mutex>|condition_variable>|future>|chrono>|ctime>|time\.h|sys/time\.h|absl/synchronization/|absl/time/)' \
      $(ls *.h *.cc testing/*.h testing/*.cc sim/*.h sim/*.cc 2>/dev/null | grep -v simulate_main.cc))
if [[ -n "$bad" ]]; then
  echo "raft/ must stay pure; offending includes:"
  echo "$bad"
  exit 1
fi
n=$(ls *.h *.cc testing/*.h testing/*.cc sim/*.h sim/*.cc | wc -l)
echo "checked $n files: no I/O, threads or clocks"
