#!/usr/bin/env bash
# Sets up, builds and runs a single-node development Concordance on
# 127.0.0.1:4100 with its data in ./data (kept across restarts). Extra
# arguments go to the server (e.g. tools/dev.sh --api-key=secret).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
bazel build //concordance:concordance
mkdir -p data
exec bazel-bin/concordance/concordance --bootstrap --listen=127.0.0.1:4100 --data-dir=./data "$@"
