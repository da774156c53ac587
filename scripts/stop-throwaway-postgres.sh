#!/usr/bin/env bash
# Stops the throwaway PostgreSQL cluster started by scripts/ensure-postgres.sh (it never touches the machine's
# own cluster). With --purge, also deletes its data directory. Does nothing if it is not running.
# Same env as ensure-postgres.sh: SEMCODE_PG_DIR overrides the directory.
set -euo pipefail
exec </dev/null

PGBIN=/usr/lib/postgresql/15/bin
log() { echo "stop-throwaway-postgres: $*" >&2; }
if [ "$(id -u)" -eq 0 ]; then as_pg() { runuser -u postgres -- "$@"; }; else as_pg() { "$@"; }; fi

# Where ensure-postgres.sh put it: the cache dir, or /var/tmp/semcode-pg if the postgres user cannot reach that.
dirs=()
if [ -n "${SEMCODE_PG_DIR:-}" ]; then dirs=("$SEMCODE_PG_DIR")
else dirs=("${XDG_CACHE_HOME:-$HOME/.cache}/semcode-pg" /var/tmp/semcode-pg); fi

found=0
for dir in "${dirs[@]}"; do
  [ -f "$dir/data/PG_VERSION" ] || continue
  found=1
  if [ -f "$dir/data/postmaster.pid" ]; then
    log "stopping the cluster in $dir/data"
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >&2
  else
    log "the cluster in $dir/data is not running"
  fi
  if [ "${1:-}" = --purge ]; then
    log "removing $dir"
    rm -rf "$dir"
  fi
done
[ "$found" -eq 1 ] || log "no throwaway cluster found (looked in ${dirs[*]})"
