#!/usr/bin/env bash
# The standalone binaries on a machine without any of their libraries: builds
# `concordance` and `concordancectl` with --config=static, makes a minimal
# Debian root (debootstrap --variant=minbase: no -dev packages, no gRPC,
# protobuf, Abseil, SQLite, glog, gflags or OpenSSL libraries), and inside
# it (chroot) starts a single node and then a 3-node cluster, writing and
# reading through concordancectl. Needs root and the Debian mirror (once,
# ~30 s and ~200 MB; the root is kept for the next run).
#
#   tools/static_check.sh [root-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=${1:-/var/tmp/concordance-minroot}
command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
bazel build --config=static //concordance:concordance //tools:concordancectl 2>/dev/null
if [[ ! -x $ROOT/bin/sh ]]; then
  echo "making a minimal root in $ROOT (debootstrap --variant=minbase bookworm)"
  debootstrap --variant=minbase bookworm "$ROOT" http://deb.debian.org/debian >/dev/null
fi
install -m 755 bazel-bin/concordance/concordance bazel-bin/tools/concordancectl "$ROOT/usr/local/bin/"
echo "binaries: $(stat -c %s bazel-bin/concordance/concordance) and $(stat -c %s bazel-bin/tools/concordancectl) bytes (with -g1 debug info)"
echo "shared libraries they need:"; ldd bazel-bin/concordance/concordance | sed 's/^/  /'
echo "library packages in the root (of gRPC, protobuf, Abseil, SQLite, glog, gflags, OpenSSL, or -dev):"
chroot "$ROOT" dpkg-query -W -f '${Package}\n' | grep -E -- '-dev$|grpc|protobuf|absl|sqlite|glog|gflags|libssl' | sed 's/^/  /' || echo "  none"

mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
rm -rf "$ROOT/tmp/cc" && mkdir -p "$ROOT/tmp/cc"
trap 'pkill -f "^/usr/local/bin/concordance --node-id=s" || true; sleep 0.5; umount "$ROOT/proc" 2>/dev/null || true' EXIT
in_root() { chroot "$ROOT" "$@"; }
ctl() { in_root /usr/local/bin/concordancectl --timeout=2s "$@"; }
wait_ready() {  # endpoint
  for _ in $(seq 100); do ctl --endpoints="$1" endpoint health >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "no answer from $1" >&2; return 1
}
start() {  # id port flags...
  local id=$1 port=$2; shift 2
  in_root /usr/local/bin/concordance --node-id="$id" --listen=127.0.0.1:"$port" \
    --data-dir=/tmp/cc/"$id" "$@" 2>>"$ROOT/tmp/cc/$id.log" &
}

echo "--- one node"
start s1 14601 --bootstrap
wait_ready 127.0.0.1:14601
ctl --endpoints=127.0.0.1:14601 put tenant:demo/settings theme '"dark"' >/dev/null
ctl --endpoints=127.0.0.1:14601 get tenant:demo/settings theme | grep -E '^(value|version) '

echo "--- three nodes"
start s2 14602 --join=127.0.0.1:14601
start s3 14603 --join=127.0.0.1:14601
for _ in $(seq 200); do
  [[ $(ctl --endpoints=127.0.0.1:14601 -o json member list 2>/dev/null | grep -o '"voter": *true' | wc -l) == 3 ]] && break
  sleep 0.1
done
ctl --endpoints=127.0.0.1:14601,127.0.0.1:14602,127.0.0.1:14603 cluster status
ctl --endpoints=127.0.0.1:14603 put tenant:demo/settings lang '"en"' >/dev/null
ctl --endpoints=127.0.0.1:14602 get tenant:demo/settings lang | grep -E '^value '
echo "static_check: ok"
