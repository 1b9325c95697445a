#!/usr/bin/env bash
# Sets up, builds and runs a single-node development Concordance on
# 127.0.0.1:4100 with its data in ./data (kept across restarts).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
if ! bazel query //concordance:concordance >/dev/null 2>&1; then
  echo "dev.sh: the concordance server is not built yet (//concordance:concordance does not exist)." >&2
  exit 1
fi
bazel build //concordance:concordance
mkdir -p data
exec bazel-bin/concordance/concordance --bootstrap --listen=127.0.0.1:4100 --data-dir=./data "$@"
