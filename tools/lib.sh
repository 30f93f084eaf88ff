# tools/lib.sh - shared by tools/setup.sh and tools/test.sh (sourced, not run;
# the scripts of suite 'r', tests/r/*.sh, source it too).
#
# Owns four things so the scripts do them the same way: the Debian packages
# (listed in tools/packages.txt), the Meson options of each build directory,
# configuring/compiling a build directory idempotently, and copying the R
# package's sources out of rpkg/ for a clean build.
# The caller has already done `set -euo pipefail`; all but the R package
# functions also expect it to have cd'd to the repo root.
#
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash disable=SC2034  # the option arrays are used by the callers

# Options of the main build directory `build/`, shared by setup and test so
# neither reconfigures what the other made.  The prefix is where setup installs.
FMRT_BUILD_OPTIONS=(-Dprefix=/usr/local -Dtests=enabled)

# Options of `build-asan/` (tools/test.sh): AddressSanitizer and UBSan, and
# UBSan made fatal; the benchmarks are left out.
FMRT_ASAN_OPTIONS=(-Dtests=enabled -Dbench=disabled
  '-Db_sanitize=address,undefined' -Db_lundef=false
  -Dc_args=-fno-sanitize-recover=all -Dcpp_args=-fno-sanitize-recover=all)

fmrt_say() { printf '==> %s\n' "$*"; }
fmrt_warn() { printf 'WARNING: %s\n' "$*" >&2; }
fmrt_die() { printf '\nERROR: %s\n' "$*" >&2; exit 1; }

# Runs a command as root: directly when we are root, else through sudo.
fmrt_as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    fmrt_die "this step needs root (and sudo is not installed): $*"
  fi
}

# The package names from tools/packages.txt, one per line.
fmrt_packages() {
  sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' tools/packages.txt
}

# Installs the packages of tools/packages.txt that are not installed yet.
# Set FMRT_NO_APT=1 to only check (and fail with the list when some are missing).
fmrt_ensure_packages() {
  command -v dpkg-query >/dev/null 2>&1 ||
    fmrt_die "dpkg-query not found: these scripts expect Debian 12 (bookworm)."
  local pkg missing=()
  while read -r pkg; do
    if [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null)" != "ii " ]; then
      missing+=("$pkg")
    fi
  done < <(fmrt_packages)
  if [ ${#missing[@]} -eq 0 ]; then
    fmrt_say "packages: all $(fmrt_packages | wc -l) from tools/packages.txt are installed"
    return 0
  fi
  fmrt_say "packages: missing ${missing[*]}"
  if [ "${FMRT_NO_APT:-0}" = 1 ]; then
    fmrt_die "FMRT_NO_APT=1 is set, so not installing them; install them with
  apt-get install ${missing[*]}"
  fi
  export DEBIAN_FRONTEND=noninteractive
  fmrt_as_root apt-get update ||
    fmrt_die "apt-get update failed (network? sources.list?)"
  fmrt_as_root apt-get install -y "${missing[@]}" ||
    fmrt_die "apt-get install failed for: ${missing[*]}"
  for pkg in "${missing[@]}"; do
    [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null)" = "ii " ] ||
      fmrt_die "package $pkg is still not installed after apt-get install"
  done
  fmrt_say "packages: installed ${missing[*]}"
}

# Prints the value of Meson option $2 in build directory $1 (lists joined by
# spaces, booleans as true/false).  Fails when the directory cannot be read.
fmrt_option_value() {
  meson introspect --buildoptions "$1" 2>/dev/null | python3 -c '
import json, sys
name = sys.argv[1]
for o in json.load(sys.stdin):
    if o["name"] == name:
        v = o["value"]
        if isinstance(v, bool):
            v = "true" if v else "false"
        elif isinstance(v, list):
            v = " ".join(v)
        print(v)
        sys.exit(0)
sys.exit(1)' "$2"
}

# Prints the -Dname=value arguments whose value differs from what build
# directory $1 has now, one per line (values may hold spaces); prints nothing
# when all agree.  Fails when the
# directory cannot be introspected (another Meson version, half-made).
fmrt_changed_options() {
  local dir=$1
  shift
  local json
  json=$(meson introspect --buildoptions "$dir" 2>/dev/null) || return 1
  printf '%s' "$json" | python3 -c '
import json, shlex, sys
current = {o["name"]: o["value"] for o in json.load(sys.stdin)}
for arg in sys.argv[1:]:
    name, _, want = arg[2:].partition("=")
    have = current.get(name)
    if isinstance(have, bool):
        same = want == ("true" if have else "false")
    elif isinstance(have, list):
        # compiler arguments split like a shell, other arrays at commas
        same = have in (shlex.split(want), want.split(","))
    else:
        same = have is not None and str(have) == want
    if not same:
        print(arg)' "$@"
}

# Configures build directory $1 with options $2...: `meson setup` when it is
# not configured, `meson configure` when some option differs, nothing else
# (ninja re-runs Meson by itself when a meson.build changed).  A directory
# Meson cannot read (another Meson version) is wiped and set up again.
fmrt_configure() {
  local dir=$1
  shift
  local changed
  if [ -f "$dir/meson-private/coredata.dat" ]; then
    if changed=$(fmrt_changed_options "$dir" "$@"); then
      if [ -z "$changed" ]; then
        fmrt_say "$dir/: already configured"
        return 0
      fi
      local changed_args
      mapfile -t changed_args <<<"$changed"  # one option per line
      fmrt_say "$dir/: reconfiguring: ${changed_args[*]}"
      meson configure "$dir" "${changed_args[@]}"
      return
    fi
    fmrt_say "$dir/: Meson cannot read it (made by another Meson version?); wiping it"
    meson setup --wipe "$dir" "$@"
    return
  fi
  fmrt_say "$dir/: configuring: meson setup $dir $*"
  meson setup "$dir" "$@"
}

# Compiles build directory $1.  Quiet when there is nothing to do.
fmrt_compile() {
  fmrt_say "$1/: compiling"
  meson compile -C "$1"
}

# --- The R package Rfmalloc (rpkg/) -------------------------------------------
# Used by tools/setup.sh (install into R's site library) and by the scripts of
# Meson's suite 'r' (tests/r/*.sh, which source this file from the source tree).

# Copies the R package sources $1 (normally rpkg/) to the new directory $2,
# without what an in-place build leaves behind (src/*.o, src/*.so,
# src/Makevars, *.Rcheck, 00LOCK-*): every install and check builds a clean
# copy, never in rpkg/ itself, and never reuses object files compiled
# against another libfmrt.
fmrt_rpkg_stage() {
  local from=$1 to=$2
  mkdir -p "$to"
  tar -C "$from" -cf - \
    --exclude='./src/*.o' --exclude='./src/*.so' --exclude='./src/*.dll' \
    --exclude='./src/Makevars' --exclude='./src/symbols.rds' \
    --exclude='*.Rcheck' --exclude='00LOCK-*' --exclude='*.tar.gz' . |
    tar -C "$to" -xf -
}

# Prints one hash of what an install of the staged package $1 depends on:
# every file of the package except tests/ (R CMD INSTALL does not install
# them), by path and content.
fmrt_rpkg_hash() {
  (cd "$1" && find . -path ./tests -prune -o -type f -print | LC_ALL=C sort |
    while IFS= read -r f; do printf '%s\n' "$f"; sha256sum <"$f"; done) |
    sha256sum | cut -d' ' -f1
}
