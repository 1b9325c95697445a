#!/usr/bin/env bash
# Bazel's --workspace_status_command (.bazelrc): the commit a build is of,
# stamped into //util:version (concordance --version, status, /metrics).
# Outside a git checkout the commit is "unknown".
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
echo "STABLE_CONCORDANCE_COMMIT ${commit}"
