#!/usr/bin/env bash
# Installs pgvector (>= 0.8, for iterative index scans) into the machine's PostgreSQL 15, idempotently.
#
# Debian 12 has no pgvector package; Debian 13 (trixie) has it as a source package that builds cleanly against
# bookworm's PostgreSQL 15 (see docs/infra.md). The trixie deb-src entry is temporary and private: it lives in
# the work dir with its own apt lists directory, so the machine's apt sources and package lists are never
# changed, and a trap removes it on any exit. The archive's address is read from the machine's apt sources.
#
# Env: SEMCODE_PGVECTOR_FORCE=1 rebuilds even if installed; PG_CONFIG (default /usr/lib/postgresql/15/bin/pg_config), XDG_CACHE_HOME (work dir parent).
# Needs root (or password-less sudo) when it has to install something. Exits non-zero on any failure.
set -euo pipefail
exec </dev/null
export DEBIAN_FRONTEND=noninteractive

PG_MAJOR=15
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/$PG_MAJOR/bin/pg_config}
MIN_VERSION=0.8.0
WORKDIR=${XDG_CACHE_HOME:-$HOME/.cache}/semcode-build

log() { echo "install-pgvector: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
trap 'rc=$?; log "FAILED (exit $rc) at line $LINENO: $BASH_COMMAND"' ERR
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo -n -E "$@"
  else die "must run as root (or with password-less sudo) to run: $*"; fi
}
# version_ge A B: true if A >= B (dpkg ordering, so 0.8.0 >= 0.8.0, 0.10.0 >= 0.8.0)
version_ge() { dpkg --compare-versions "$1" ge "$2"; }

sharedir() {
  if [ -x "$PG_CONFIG" ]; then "$PG_CONFIG" --sharedir; else echo "/usr/share/postgresql/$PG_MAJOR"; fi
}
installed_version() {
  local control
  control="$(sharedir)/extension/vector.control"
  [ -f "$control" ] || return 1
  sed -n "s/^default_version *= *'\{0,1\}\([^']*\)'\{0,1\}.*/\1/p" "$control"
}

if [ "${SEMCODE_PGVECTOR_FORCE:-}" != 1 ] && v=$(installed_version) && [ -n "$v" ]; then
  if version_ge "$v" "$MIN_VERSION"; then
    log "pgvector $v already installed in $(sharedir)/extension; nothing to do"
    echo "$v"
    exit 0
  fi
  log "pgvector $v is older than $MIN_VERSION; rebuilding"
fi

# --- build dependencies ------------------------------------------------------------------------------------
missing=()
for p in "postgresql-server-dev-$PG_MAJOR" build-essential; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing build deps: ${missing[*]}"
  as_root apt-get update -q
  as_root apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
[ -x "$PG_CONFIG" ] || die "$PG_CONFIG not found (is postgresql-client-$PG_MAJOR installed?)"

# --- the machine's Debian archive (never hard-coded) ---------------------------------------------------------
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -n "$codename" ] || die "cannot read VERSION_CODENAME from /etc/os-release"
find_mirror() {
  # deb822 stanzas (*.sources): the first URI of a stanza whose Suites contain exactly "$codename"
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v cn="$codename" '
      function flush() { if (types ~ /(^| )deb( |$)/ && uri != "" && found) { print uri; exit 0 } types=""; uri=""; found=0 }
      /^[ \t]*$/ { flush(); next }
      /^[ \t]*#/ { next }
      tolower($1) == "types:"  { types = ""; for (i = 2; i <= NF; i++) types = types " " $i; types = substr(types, 2) }
      tolower($1) == "uris:"   { uri = $2 }
      tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == cn) found = 1 }
      END { flush() }' "$f"
  done
  # one-line format: deb [opts] URI SUITE COMPONENTS...
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk -v cn="$codename" '$1 == "deb" && $3 == cn { print $2 }'
  done
}
MIRROR=$(find_mirror | head -n1)
[ -n "$MIRROR" ] || die "no Debian archive for suite '$codename' found in /etc/apt sources"
log "using Debian archive $MIRROR (from the machine's apt sources)"

# --- fetch Debian trixie's pgvector source via a temporary, private deb-src --------------------------------------
mkdir -p "$WORKDIR"
APTDIR=$(mktemp -d "$WORKDIR/apt.XXXXXX")
cleanup() {
  rm -rf "$APTDIR"   # the temporary trixie deb-src and its lists; the machine's apt state was never touched
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cat >"$APTDIR/trixie-src.sources" <<EOF
Types: deb-src
URIs: $MIRROR
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
mkdir -p "$APTDIR/lists/partial" "$APTDIR/parts.d"
APT_OPTS=(
  -o "Dir::Etc::SourceList=$APTDIR/trixie-src.sources"
  -o "Dir::Etc::SourceParts=$APTDIR/parts.d"
  -o "Dir::State::Lists=$APTDIR/lists"
  -o "Dir::Cache::pkgcache="
  -o "Dir::Cache::srcpkgcache="
  -o "APT::Get::List-Cleanup=0"
  # The work dir usually sits under a 0700 home the _apt sandbox user cannot enter; apt would fall back to
  # root with a warning anyway. Signatures (InRelease via Signed-By) and .dsc hashes are still verified.
  -o "APT::Sandbox::User=root"
)
log "fetching trixie's pgvector source package"
apt-get "${APT_OPTS[@]}" update -q >&2
SRCDIR="$APTDIR/src"
mkdir -p "$SRCDIR"
(cd "$SRCDIR" && apt-get "${APT_OPTS[@]}" source -q pgvector >&2)
BUILDDIR=$(find "$SRCDIR" -mindepth 1 -maxdepth 1 -type d -name 'pgvector-*' | sort -V | tail -n1)
[ -n "$BUILDDIR" ] || die "apt-get source pgvector produced no source tree"
src_version=$(sed -n "s/^default_version *= *'\{0,1\}\([^']*\)'\{0,1\}.*/\1/p" "$BUILDDIR/vector.control")
version_ge "$src_version" "$MIN_VERSION" || die "trixie's pgvector is $src_version, need >= $MIN_VERSION"

# --- build and install -------------------------------------------------------------------------------------------
log "building pgvector $src_version against $("$PG_CONFIG" --version)"
make -s -C "$BUILDDIR" -j"$(nproc)" PG_CONFIG="$PG_CONFIG" with_llvm=no >&2
as_root make -s -C "$BUILDDIR" install PG_CONFIG="$PG_CONFIG" with_llvm=no >&2

v=$(installed_version) || die "vector.control missing after install"
version_ge "$v" "$MIN_VERSION" || die "installed pgvector is $v, need >= $MIN_VERSION"
log "installed pgvector $v into $(sharedir)/extension"
echo "$v"
