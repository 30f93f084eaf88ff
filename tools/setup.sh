#!/usr/bin/env bash
# tools/setup.sh - from a fresh Debian 12 machine to an installed libfmrt.
#
#   1. installs the missing packages of tools/packages.txt (apt, as root);
#   2. configures build/ (only when needed) and compiles it;
#   3. installs into /usr/local (meson install) and runs ldconfig;
#   4. runs the installed fmrt-demo twice on one heap in a fresh temporary
#      directory: the second run finds the data the first one wrote.
#
# Safe to run again: every step skips what is already done.
# usage: bash tools/setup.sh        (FMRT_NO_APT=1: only check the packages)
#
# SPDX-License-Identifier: GPL-2.0-or-later
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=tools/lib.sh
. tools/lib.sh

fmrt_say "libfmrt setup in $(pwd)"

fmrt_say "step 1/4: packages"
fmrt_ensure_packages

fmrt_say "step 2/4: build"
fmrt_configure build "${FMRT_BUILD_OPTIONS[@]}" ||
  fmrt_die "configuring build/ failed (see Meson's message above)"
fmrt_compile build ||
  fmrt_die "compiling build/ failed (see the compiler errors above)"

fmrt_say "step 3/4: install"
fmrt_as_root meson install -C build --no-rebuild --only-changed ||
  fmrt_die "meson install -C build failed"
fmrt_as_root ldconfig
prefix=$(fmrt_option_value build prefix)
bindir=$(fmrt_option_value build bindir)
case $bindir in /*) ;; *) bindir=$prefix/$bindir ;; esac
demo=$bindir/fmrt-demo
[ -x "$demo" ] || fmrt_die "the installed demo $demo is missing"
lib=$(ldd "$demo" | awk '$1 ~ /^libfmrt\.so/ { print $3 }')
if [ -z "$lib" ] || [ "$lib" = "not" ]; then
  fmrt_die "$demo cannot find libfmrt.so.0 (is $prefix's libdir known to ldconfig?)"
fi
fmrt_say "installed libfmrt $(meson introspect --projectinfo build |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])') under $prefix"
fmrt_say "the installed $demo loads $lib"

fmrt_say "step 4/4: the installed demo, run twice on one heap"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fmrt-setup.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
heap=$tmp/demo.heap
printf '\n$ fmrt-demo %s   # run 1\n' "$heap"
"$demo" "$heap" || fmrt_die "the demo's first run failed"
printf '\n$ fmrt-demo %s   # run 2\n' "$heap"
"$demo" "$heap" | tee "$tmp/run2.txt" || fmrt_die "the demo's second run failed"
grep -q '^run 2: found the same data written by run 1 ' "$tmp/run2.txt" ||
  fmrt_die "the demo's second run did not find the data of the first"
echo
fmrt_say "setup done: libfmrt is installed in $prefix, and its heap outlived the process."
fmrt_say "next: bash tools/test.sh"
