#!/usr/bin/env bash
# Installs the Debian packages Concordance needs to build, run and test.
# Idempotent: checks what is installed first and runs `apt-get update` only
# when something is missing. Takes well under 5 s when everything is present.
set -euo pipefail

PACKAGES=(
  # build
  bazel-bootstrap bazel-rules-java g++ pkg-config
  protobuf-compiler protobuf-compiler-grpc libprotobuf-dev libgrpc++-dev
  libabsl-dev libsqlite3-dev rapidjson-dev libgoogle-glog-dev libgflags-dev
  libgtest-dev libgmock-dev libbenchmark-dev libboost-dev libssl-dev
  # tests and scripts
  python3 python3-websockets curl sqlite3 procps
  openssl  # certificates for the TLS tests
  libfaketime  # a skewed clock for one node (tests/jepsen)
  clang-14 libclang-rt-14-dev  # the fuzzers: libFuzzer, ASan, UBSan (tools/fuzz.sh)
)

missing=()
# "name status" for every package dpkg knows; architecture suffixes dropped.
installed=$(dpkg-query -W -f='${binary:Package} ${db:Status-Abbrev}\n' "${PACKAGES[@]}" 2>/dev/null |
  awk '$2 == "ii" { sub(/:.*/, "", $1); print $1 }' || true)
for p in "${PACKAGES[@]}"; do
  if ! grep -Fxq "$p" <<<"$installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "setup: installing ${missing[*]}" >&2
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done" >&2
