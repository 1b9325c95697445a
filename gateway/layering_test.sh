#!/usr/bin/env bash
# gateway/ is the wire: it includes nothing from concordance/ (the node) or
# raft/ (the consensus core), and no SQLite. concordance/ implements the
# interfaces gateway/ owns (backend.h, raft_transport.h), never the reverse.
set -u
cd "${TEST_SRCDIR}/${TEST_WORKSPACE}/gateway"
bad=$(grep -nE '#include *[<"](concordance/|raft/|storage/(raft_log|kv_store|sqlite)\.h|sqlite3\.h)' *.h *.cc)
if [[ -n "$bad" ]]; then
  echo "gateway/ must not depend on the node, the Raft core or SQLite; offending includes:"
  echo "$bad"
  exit 1
fi
echo "checked $(ls *.h *.cc | wc -l) files: no includes of concordance/, raft/ or SQLite"
