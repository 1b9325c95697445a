#!/usr/bin/env bash
# Runs docs/operations.md's procedures as written, on one machine (three
# nodes on 127.0.0.1:4101-4103, a restored cluster on 4111), in a scratch
# directory, and prints every command with its output — what the doc pastes.
# Stops everything it started when it ends.
#
#   tools/walkthrough_operations.sh
set -uo pipefail
cd "$(dirname "$0")/.."
bazel build //concordance:concordance //tools:concordancectl 2>/dev/null || exit 1
export PATH=$PWD/bazel-bin/tools:$PWD/bazel-bin/concordance:$PATH
for port in 4101 4102 4103 4104 4111; do
  if curl -s -o /dev/null "http://127.0.0.1:$port/api/v1/health"; then
    echo "port $port is in use: stop what serves it first" >&2
    exit 1
  fi
done
SCRATCH=$(mktemp -d /tmp/concordance-ops.XXXXXX)
cd "$SCRATCH"
# Every node started is recorded, so that all of them (restarted ones too)
# are stopped at the end.
trap 'kill $(cat "$SCRATCH/pids" 2>/dev/null) 2>/dev/null; wait 2>/dev/null; rm -rf "$SCRATCH"' EXIT

show() { echo "\$ $*"; timeout 60 bash -c "$*" 2>&1; local rc=$?; [[ $rc == 0 ]] || echo "(exit $rc)"; }
# Waits (up to 30 s) until every member answers and one leads.
healthy() { for _ in $(seq 300); do concordancectl cluster status >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }
ready() { for _ in $(seq 300); do curl -sf "http://$1/api/v1/ready" >/dev/null && return 0; sleep 0.1; done; return 1; }

echo "## Starting a cluster"
show 'mkdir -p keys && for k in api agent peer; do openssl rand -hex 32 > keys/$k.key; done && chmod 600 keys/*'
KEYS="--api-key-file=keys/api.key --agent-key-file=keys/agent.key --peer-key-file=keys/peer.key"
start() {  # n [more flags]
  local n=$1; shift
  concordance --node-id=node$n --listen=127.0.0.1:410$n --data-dir=node$n $KEYS "$@" 2>>node$n.log &
  echo $! >> pids
  echo $! > pid.node$n
}
# Stops node n with `signal` and waits until it has exited.
stop() {  # n signal
  local pid
  pid=$(cat pid.node$1)
  kill -"$2" "$pid"
  wait "$pid" 2>/dev/null
}
start 1 --bootstrap; ready 127.0.0.1:4101
start 2 --join=127.0.0.1:4101
start 3 --join=127.0.0.1:4101
echo "(node1 --bootstrap, node2 and node3 --join=127.0.0.1:4101 started)"
export CONCORDANCE_ENDPOINTS=127.0.0.1:4101,127.0.0.1:4102,127.0.0.1:4103
export CONCORDANCE_API_KEY=$(cat keys/api.key)
VOTERS3='until [ "$(concordancectl member list -o json | grep -o '"'"'"voter":true'"'"' | wc -l)" = 3 ]; do sleep 0.5; done'
show "$VOTERS3"
show concordancectl cluster status
show 'curl -s -H "Authorization: Bearer $(cat keys/agent.key)" http://127.0.0.1:4102/api/v1/cluster/status | head -c 300; echo'
show concordancectl put tenant:acme/settings theme "'\"dark\"'"
show 'curl -s --location-trusted -X PUT -H "Authorization: Bearer $CONCORDANCE_API_KEY" http://127.0.0.1:4103/api/v1/kv/tenant:acme/settings/lang -d '"'"'{"value":"en"}'"'"'; echo'

echo; echo "## Rolling upgrade"
leader() { concordancectl cluster status -o json | /usr/bin/python3 -c 'import json,sys; print([m["nodeId"] for m in json.load(sys.stdin)["members"] if m["role"] == "leader"][0])'; }
upgrade() {  # node number
  local n=$1
  stop "$n" TERM
  start "$n"   # the new binary, the same data dir and flags (no --join needed)
  show 'until concordancectl cluster status > /dev/null 2>&1; do sleep 0.5; done'
}
L=$(leader)
show "concordancectl cluster status | awk 'NR == 1 || /leader/'"
for n in 1 2 3; do
  [[ node$n == "$L" ]] && continue
  echo "(stop node$n with SIGTERM, start it again on its data dir; wait for cluster status to exit 0)"
  upgrade "$n"
done
show concordancectl member transfer
L_NUM=${L#node}
echo "(stop $L with SIGTERM, start it again; wait for cluster status to exit 0)"
upgrade "$L_NUM"
show concordancectl cluster status
show concordancectl get tenant:acme/settings theme -o json

echo; echo "## Replacing a failed node"
stop 3 KILL 2>/dev/null
echo "(node3 killed with SIGKILL)"
show concordancectl cluster status
show concordancectl member remove node3
concordance --node-id=node4 --listen=127.0.0.1:4104 --data-dir=node4 $KEYS --join=127.0.0.1:4101 2>>node4.log &
echo $! >> pids
echo "(node4 started with an empty data dir and --join=127.0.0.1:4101)"
export CONCORDANCE_ENDPOINTS=127.0.0.1:4101,127.0.0.1:4102,127.0.0.1:4104
show "$VOTERS3"
show concordancectl member list

echo; echo "## Backup and restore"
show concordancectl snapshot save backup.db
show "sqlite3 backup.db 'PRAGMA integrity_check' 2>/dev/null || /usr/bin/python3 -c \"import sqlite3; print(sqlite3.connect('backup.db').execute('PRAGMA integrity_check').fetchone()[0])\""
concordance --node-id=restored1 --listen=127.0.0.1:4111 --data-dir=restored1 $KEYS --bootstrap --restore=backup.db 2>>restored1.log &
echo $! >> pids
echo "(restored1 started: --bootstrap --restore=backup.db on 127.0.0.1:4111)"
ready 127.0.0.1:4111
show concordancectl --endpoints=127.0.0.1:4111 get tenant:acme/settings theme
show concordancectl --endpoints=127.0.0.1:4111 changes --tenant=acme --since=0
