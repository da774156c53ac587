#!/usr/bin/env bash
# Makes sure a NATS server with JetStream is reachable on loopback and prints its URL as the LAST line of stdout
# (everything else goes to stderr):
#   1. 127.0.0.1:$SEMCODE_NATS_PORT_PROBE (default 4222) greets with a NATS INFO line that has JetStream on
#      -> nats://127.0.0.1:4222
#   2. else (apt-get install nats-server if missing) start our own in the background:
#      nats-server -a 127.0.0.1 -p 42229 -js -sd ${XDG_CACHE_HOME:-$HOME/.cache}/semcode-nats/jetstream
#      (pid in .../semcode-nats/nats.pid, log in .../nats.log; stop it with: kill "$(cat .../nats.pid)")
# Fails (non-zero) if no server answers.
set -euo pipefail
exec </dev/null
export DEBIAN_FRONTEND=noninteractive

HOST=127.0.0.1
PROBE_PORT=${SEMCODE_NATS_PORT_PROBE:-4222}
OWN_PORT=${SEMCODE_NATS_OWN_PORT:-42229}
DIR=${XDG_CACHE_HOME:-$HOME/.cache}/semcode-nats

log() { echo "ensure-nats: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo -n -E "$@"
  else die "must run as root (or with password-less sudo) to run: $*"; fi
}
# The INFO line a NATS server sends on connect, or nothing (bash /dev/tcp: no nc needed).
greeting() {
  timeout 3 bash -c "exec 3<>/dev/tcp/$HOST/$1 && IFS= read -r -t 2 line <&3 && printf '%s\n' \"\$line\"" 2>/dev/null || true
}
# 0: NATS with JetStream; 1: nothing listening; 2: something else (or NATS without JetStream)
probe() {
  local g
  g=$(greeting "$1")
  if [ -z "$g" ]; then timeout 3 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null && return 2 || return 1; fi
  case "$g" in INFO*'"jetstream":true'*) return 0 ;; *) return 2 ;; esac
}

rc=0; probe "$PROBE_PORT" || rc=$?
if [ "$rc" -eq 0 ]; then
  log "NATS with JetStream answers on $HOST:$PROBE_PORT"
  echo "nats://$HOST:$PROBE_PORT"
  exit 0
fi
[ "$rc" -eq 1 ] || log "$HOST:$PROBE_PORT answers but is not NATS with JetStream; starting our own"

rc=0; probe "$OWN_PORT" || rc=$?
if [ "$rc" -eq 0 ]; then
  log "our NATS server already runs on $HOST:$OWN_PORT"
  echo "nats://$HOST:$OWN_PORT"
  exit 0
fi
[ "$rc" -eq 1 ] || die "$HOST:$OWN_PORT is taken by something that is not NATS with JetStream; set SEMCODE_NATS_OWN_PORT"

if ! command -v nats-server >/dev/null 2>&1; then
  log "installing nats-server"
  as_root apt-get update -q >&2
  as_root apt-get install -y -q --no-install-recommends nats-server >&2
fi

mkdir -p "$DIR/jetstream"
log "starting nats-server on $HOST:$OWN_PORT (store $DIR/jetstream, log $DIR/nats.log)"
# setsid + all three streams redirected: the server must not hold the caller's pipe (e.g. $(... | tail -1)).
setsid nats-server -a "$HOST" -p "$OWN_PORT" -js -sd "$DIR/jetstream" -P "$DIR/nats.pid" \
  </dev/null >>"$DIR/nats.log" 2>&1 &
pid=$!
for ((i = 0; i < 100; i++)); do
  if probe "$OWN_PORT"; then
    log "nats-server (pid $pid) is ready"
    echo "nats://$HOST:$OWN_PORT"
    exit 0
  fi
  kill -0 "$pid" 2>/dev/null || { tail -n 20 "$DIR/nats.log" >&2 || true; die "nats-server exited"; }
  sleep 0.1
done
tail -n 20 "$DIR/nats.log" >&2 || true
die "nats-server did not answer on $HOST:$OWN_PORT within 10 s"
