#!/usr/bin/env bash
# Makes sure a PostgreSQL 15 server with pgvector (>= 0.8) is reachable on loopback with trust auth, and prints
# an admin connection URL for the tests as the LAST line of stdout (everything else goes to stderr):
#
#   1. 127.0.0.1:$SEMCODE_PG_PORT_PROBE (default 5432) answers and `psql -U postgres` works without a password
#      -> postgres://postgres@127.0.0.1:5432/postgres
#   2. else install the PostgreSQL 15 packages if missing, and start the machine's cluster
#      (pg_ctlcluster --skip-systemctl-redirect 15 main start) if it is configured on the probed port
#   3. else run a throwaway cluster (initdb as the postgres user, trust auth, 127.0.0.1:54329) in
#      ${XDG_CACHE_HOME:-$HOME/.cache}/semcode-pg, or /var/tmp/semcode-pg when that path is not reachable by
#      the postgres user (e.g. under root's 0700 home). Stop it with scripts/stop-throwaway-postgres.sh.
#   then install pgvector via scripts/install-pgvector.sh and check the server can see it.
# Fails (non-zero) if no server can be had: it never prints a URL it has not connected to.
#
# Env: SEMCODE_PG_PORT_PROBE (5432; another port simulates "5432 unavailable"), SEMCODE_PG_THROWAWAY_PORT
# (54329), SEMCODE_PG_CLUSTER (main), SEMCODE_PG_DIR (throwaway data dir, overrides the default above).
set -euo pipefail
exec </dev/null
export DEBIAN_FRONTEND=noninteractive
export PGCONNECT_TIMEOUT=5

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PG_MAJOR=15
PGBIN=/usr/lib/postgresql/$PG_MAJOR/bin
HOST=127.0.0.1
PROBE_PORT=${SEMCODE_PG_PORT_PROBE:-5432}
THROWAWAY_PORT=${SEMCODE_PG_THROWAWAY_PORT:-54329}
CLUSTER=${SEMCODE_PG_CLUSTER:-main}

log() { echo "ensure-postgres: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo -n -E "$@"
  else die "must run as root (or with password-less sudo) to run: $*"; fi
}
url_for() { echo "postgres://postgres@$HOST:$1/postgres"; }
answers() { [ -x "$PGBIN/pg_isready" ] && "$PGBIN/pg_isready" -q -h "$HOST" -p "$1" -t 3; }
# A password-less (trust) admin connection works on port $1.
trust_ok() { "$PGBIN/psql" -w -X -q -h "$HOST" -p "$1" -U postgres -d postgres -Atc 'SELECT 1' >/dev/null 2>&1; }
wait_ready() { # port seconds
  local i
  for ((i = 0; i < $2 * 5; i++)); do answers "$1" && return 0; sleep 0.2; done
  return 1
}

finish() { # port: ensure pgvector, check the server sees it, print the URL
  local port=$1 v
  bash "$HERE/install-pgvector.sh" >&2 || die "installing pgvector failed"
  v=$("$PGBIN/psql" -w -X -h "$HOST" -p "$port" -U postgres -d postgres -Atc \
    "SELECT default_version FROM pg_available_extensions WHERE name = 'vector'") ||
    die "cannot query pg_available_extensions on port $port"
  [ -n "$v" ] || die "the server on port $port does not see the vector extension"
  log "ready: PostgreSQL on $HOST:$port, pgvector $v available"
  url_for "$port"
  exit 0
}

ensure_packages() { # returns 0 if it had to install them
  [ ! -x "$PGBIN/postgres" ] || [ ! -x "$PGBIN/psql" ] || [ ! -x "$PGBIN/initdb" ] || [ ! -x "$PGBIN/pg_isready" ] || return 1
  log "installing PostgreSQL $PG_MAJOR packages"
  # (called in conditions, where set -e does not apply: check each step)
  as_root apt-get update -q >&2 || die "apt-get update failed"
  as_root apt-get install -y -q --no-install-recommends "postgresql-$PG_MAJOR" "postgresql-client-$PG_MAJOR" >&2 ||
    die "installing the PostgreSQL $PG_MAJOR packages failed"
}

# --- 1. a server already answers -----------------------------------------------------------------------------
if answers "$PROBE_PORT"; then
  if trust_ok "$PROBE_PORT"; then
    log "server on $HOST:$PROBE_PORT answers and trusts postgres"
    finish "$PROBE_PORT"
  fi
  log "server on $HOST:$PROBE_PORT answers but a password-less connection as postgres fails; using a throwaway cluster"
else
  # --- 2. packages, then the machine's own cluster ---------------------------------------------------------------
  if ensure_packages && answers "$PROBE_PORT" && trust_ok "$PROBE_PORT"; then finish "$PROBE_PORT"; fi
  cluster_port=$(pg_lsclusters -h 2>/dev/null | awk -v v="$PG_MAJOR" -v c="$CLUSTER" '$1 == v && $2 == c { print $3 }' || true)
  if [ -z "$cluster_port" ]; then
    log "no cluster $PG_MAJOR/$CLUSTER on this machine"
  elif [ "$cluster_port" != "$PROBE_PORT" ]; then
    log "cluster $PG_MAJOR/$CLUSTER is configured on port $cluster_port, not $PROBE_PORT; not using it"
  else
    log "starting cluster $PG_MAJOR/$CLUSTER"
    if as_root pg_ctlcluster --skip-systemctl-redirect "$PG_MAJOR" "$CLUSTER" start >&2 && wait_ready "$PROBE_PORT" 30; then
      if trust_ok "$PROBE_PORT"; then finish "$PROBE_PORT"; fi
      log "cluster $PG_MAJOR/$CLUSTER started but does not trust postgres on $HOST:$PROBE_PORT"
    else
      log "could not start cluster $PG_MAJOR/$CLUSTER"
    fi
  fi
fi

# --- 3. a throwaway cluster --------------------------------------------------------------------------------------
ensure_packages || true
if [ "$(id -u)" -eq 0 ]; then
  RUNAS=postgres
  as_pg() { runuser -u postgres -- "$@"; }
else
  RUNAS=$(id -un)
  as_pg() { "$@"; }
fi
PGDIR=${SEMCODE_PG_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/semcode-pg}
if [ -z "${SEMCODE_PG_DIR:-}" ]; then
  parent=$(dirname "$PGDIR")
  mkdir -p "$parent"
  if ! as_pg test -x "$parent"; then
    log "$parent is not reachable by user $RUNAS; using /var/tmp/semcode-pg instead"
    PGDIR=/var/tmp/semcode-pg
  fi
fi
[ ! -L "$PGDIR" ] || die "$PGDIR is a symlink; refusing to use it"
PGDATA=$PGDIR/data

if answers "$THROWAWAY_PORT"; then
  trust_ok "$THROWAWAY_PORT" || die "something answers on $HOST:$THROWAWAY_PORT but not as a trusting PostgreSQL"
  log "throwaway cluster already running on $HOST:$THROWAWAY_PORT"
  finish "$THROWAWAY_PORT"
fi

port_open() { timeout 3 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null; }
if port_open "$THROWAWAY_PORT"; then
  die "$HOST:$THROWAWAY_PORT is taken by something that is not PostgreSQL; set SEMCODE_PG_THROWAWAY_PORT to a free port"
fi

init_cluster() {
  log "initdb $PGDATA (as $RUNAS)"
  rm -rf "$PGDATA"
  as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >&2
}
start_cluster() {
  log "starting throwaway cluster on $HOST:$THROWAWAY_PORT (log: $PGDIR/postgres.log)"
  as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDIR/postgres.log" -w -t 60 \
    -o "-c listen_addresses=$HOST -p $THROWAWAY_PORT -k $PGDATA" start >&2
}

if [ "$(id -u)" -eq 0 ]; then install -d -o postgres -g postgres -m 700 "$PGDIR"; else install -d -m 700 "$PGDIR"; fi
fresh=0
if [ ! -f "$PGDATA/PG_VERSION" ]; then init_cluster; fresh=1; fi
if ! start_cluster; then
  [ "$fresh" -eq 0 ] || { tail -n 20 "$PGDIR/postgres.log" >&2 || true; die "the fresh throwaway cluster did not start"; }
  log "the existing throwaway cluster did not start; re-initialising it"
  init_cluster
  start_cluster || { tail -n 20 "$PGDIR/postgres.log" >&2 || true; die "the throwaway cluster did not start"; }
fi
wait_ready "$THROWAWAY_PORT" 30 || die "throwaway cluster does not answer on $HOST:$THROWAWAY_PORT"
trust_ok "$THROWAWAY_PORT" || die "throwaway cluster on $HOST:$THROWAWAY_PORT refuses a trust connection"
finish "$THROWAWAY_PORT"
