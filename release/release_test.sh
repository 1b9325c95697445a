#!/usr/bin/env bash
# The release tarball unpacks to the documented layout, its systemd unit is
# hardened as docs/operations.md says, and the unit's own command line, with
# the example environment file's settings, starts a node that serves (here
# by hand: the test machine has no systemd to run it under), answers
# concordancectl from the tarball over TLS, reloads on SIGHUP and stops
# cleanly on SIGTERM.
#
#   release_test.sh TARBALL VERSION
set -euo pipefail
tarball=$1 version=$2
work=$(mktemp -d "${TEST_TMPDIR:-/tmp}/release.XXXXXX")
fail() { echo "FAIL: $*" >&2; [[ -f $work/node.log ]] && tail -20 "$work/node.log" >&2; exit 1; }
tar -xzf "$tarball" -C "$work"
top=$work/concordance-$version-linux-amd64
[[ $(basename "$tarball") == "concordance-$version-linux-amd64.tar.gz" ]] || fail "tarball name $(basename "$tarball")"
for f in bin/concordance bin/concordancectl systemd/concordance.service systemd/concordance.env.example \
         README.md docs/operations.md docs/security.md; do
  [[ -e $top/$f ]] || fail "missing $f"
done
[[ -x $top/bin/concordance && -x $top/bin/concordancectl ]] || fail "binaries not executable"
"$top/bin/concordance" --version | grep -q "$version" || fail "concordance --version does not say $version"

unit=$top/systemd/concordance.service
for d in "User=concordance" "StateDirectory=concordance" "NoNewPrivileges=yes" "ProtectSystem=strict" \
         "Restart=on-failure" "EnvironmentFile=/etc/concordance/concordance.env" "CapabilityBoundingSet=" \
         "ExecReload=/bin/kill -HUP \$MAINPID"; do
  grep -qxF "$d" "$unit" || fail "the unit lacks $d"
done
if command -v systemd-analyze >/dev/null; then
  # Offline checks of the unit's syntax (the binary path must exist).
  sed "s|/usr/local/bin/concordance|$top/bin/concordance|" "$unit" > "$work/concordance.service"
  systemd-analyze verify "$work/concordance.service" || fail "systemd-analyze verify rejects the unit"
fi

# The example environment file, with this machine's address, keys and a
# certificate made here.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=node1 \
  -addext "subjectAltName=IP:127.0.0.1" -keyout "$work/node.key" -out "$work/node.pem" 2>/dev/null
# Port 0: the node takes a free port (and advertises the one it bound).
sed -e "s|^CONCORDANCE_LISTEN=.*|CONCORDANCE_LISTEN=127.0.0.1:0|" \
    -e "s|^CONCORDANCE_ADVERTISE=.*|CONCORDANCE_ADVERTISE=|" \
    -e "s|/etc/concordance/tls/node|$work/node|g" \
    -e "s|replace-with-a-random-key|api-$RANDOM$RANDOM|" \
    -e "s|replace-with-another-random-key|agent-$RANDOM$RANDOM|" \
    -e "s|replace-with-a-third-random-key|peer-$RANDOM$RANDOM|" \
    "$top/systemd/concordance.env.example" > "$work/concordance.env"
env_vars=()
# (As systemd reads an EnvironmentFile: NAME=value per line, the value to
# the end of the line.)
while IFS= read -r l; do
  if [[ $l =~ ^([A-Z_]+)=\"?([^\"]*)\"?$ ]]; then
    l="${BASH_REMATCH[1]}=${BASH_REMATCH[2]}"  # systemd drops the quotes
    env_vars+=("$l")
    export "$l"
  fi
done < "$work/concordance.env"

# ExecStart as systemd expands it: ${VAR} is one word, $VAR splits on spaces.
line=$(sed -n 's/^ExecStart=//p' "$unit")
args=()
for tok in $line; do
  if [[ $tok =~ ^\$([A-Z_]+)$ ]]; then
    for w in ${!BASH_REMATCH[1]}; do args+=("$w"); done
  else
    while [[ $tok =~ \$\{([A-Z_]+)\} ]]; do
      name=${BASH_REMATCH[1]}
      tok=${tok//\$\{$name\}/${!name}}
    done
    args+=("$tok")
  fi
done
[[ ${args[0]} == /usr/local/bin/concordance ]] || fail "ExecStart runs ${args[0]}"
args[0]=$top/bin/concordance
args=("${args[@]//\/var\/lib\/concordance/$work/state}")
echo "running: ${args[*]}"
env -i PATH=/usr/bin:/bin "${env_vars[@]}" "${args[@]}" 2>"$work/node.log" &
pid=$!
port=
for _ in $(seq 300); do
  port=$(sed -n 's/.* serving on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$work/node.log")
  [[ -n $port ]] && break
  kill -0 $pid 2>/dev/null || fail "the node exited"
  sleep 0.1
done
[[ -n $port ]] || fail "the node never said where it serves"
ctl() { "$top/bin/concordancectl" --endpoints=127.0.0.1:$port --cacert="$work/node.pem" --timeout=2s "$@"; }
export CONCORDANCE_API_KEY
for _ in $(seq 300); do ctl endpoint health >/dev/null 2>&1 && break; sleep 0.1; done
ctl endpoint health >/dev/null || fail "the node does not answer over TLS"
ctl put tenant:release/settings k '"v"' >/dev/null || fail "put"
[[ $(ctl -o json get tenant:release/settings k) == *'"v"'* ]] || fail "get"
[[ -f $work/state/raft.db && -f $work/state/state.db ]] || fail "no data in the state directory"
kill -HUP $pid
for _ in $(seq 300); do grep -q "reloaded the TLS certificate" "$work/node.log" && break; sleep 0.1; done
grep -q "reloaded the TLS certificate" "$work/node.log" || fail "no reload on SIGHUP"
kill -TERM $pid
status=0; wait $pid || status=$?
[[ $status == 0 ]] || fail "exit $status after SIGTERM"
echo "release_test: ok"
