#!/usr/bin/env bash
# tools/setup.sh - from a fresh Debian 12 machine to an installed libfmrt
# and Rfmalloc, its R package.
#
#   1. installs the missing packages of tools/packages.txt (apt, as root);
#   2. configures build/ (only when needed) and compiles it;
#   3. installs into /usr/local (meson install) and runs ldconfig;
#   4. runs the installed fmrt-demo twice on one heap in a fresh temporary
#      directory: the second run finds the data the first one wrote;
#   5. installs the R package Rfmalloc (rpkg/) into R's site library
#      (R CMD INSTALL, against the libfmrt just installed, found with
#      pkg-config), unless the same version, built from the same sources
#      against the same libfmrt, is installed already;
#   6. runs the R demo examples/demo.R in two Rscript processes on one heap:
#      the first creates and fills named vectors, the second finds them by
#      name and prints them.
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

fmrt_say "step 1/6: packages"
fmrt_ensure_packages

fmrt_say "step 2/6: build"
fmrt_configure build "${FMRT_BUILD_OPTIONS[@]}" ||
  fmrt_die "configuring build/ failed (see Meson's message above)"
fmrt_compile build ||
  fmrt_die "compiling build/ failed (see the compiler errors above)"

fmrt_say "step 3/6: install"
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

fmrt_say "step 4/6: the installed demo, run twice on one heap"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fmrt-setup.XXXXXX")
chmod 755 "$tmp"  # R CMD INSTALL may run as root through sudo
trap 'rm -rf "$tmp"' EXIT
heap=$tmp/demo.heap
printf '\n$ fmrt-demo %s   # run 1\n' "$heap"
"$demo" "$heap" || fmrt_die "the demo's first run failed"
printf '\n$ fmrt-demo %s   # run 2\n' "$heap"
"$demo" "$heap" | tee "$tmp/run2.txt" || fmrt_die "the demo's second run failed"
grep -q '^run 2: found the same data written by run 1 ' "$tmp/run2.txt" ||
  fmrt_die "the demo's second run did not find the data of the first"
echo

# The R package, built against the installed libfmrt: rpkg/configure asks
# pkg-config, which looks first in the directory of the libfmrt.pc that
# meson install wrote, and records that libdir as the package's rpath.
fmrt_say "step 5/6: the R package Rfmalloc (rpkg/)"
if ! command -v R >/dev/null 2>&1 || ! command -v Rscript >/dev/null 2>&1; then
  fmrt_die "R is not installed (r-base-dev is in tools/packages.txt)"
fi
libdir=$(fmrt_option_value build libdir)
case $libdir in /*) ;; *) libdir=$prefix/$libdir ;; esac
pcdir=$libdir/pkgconfig
[ -f "$pcdir/libfmrt.pc" ] || fmrt_die "the installed $pcdir/libfmrt.pc is missing"
includedir=$(fmrt_option_value build includedir)
case $includedir in /*) ;; *) includedir=$prefix/$includedir ;; esac
# R's system site library (/usr/local/lib/R/site-library on Debian).
site=$(Rscript --vanilla -e 'cat(.Library.site[1])')
[ -d "$site" ] || fmrt_die "R reports no site library (.Library.site)"
stage=$tmp/rpkg/Rfmalloc
fmrt_rpkg_stage rpkg "$stage"
version=$(sed -n 's/^Version:[[:space:]]*//p' "$stage/DESCRIPTION")
# Reinstall when the version, the sources, or what it is compiled against
# (libfmrt's version and header, R's version) differ from the last
# install's; a rebuilt libfmrt.so.0 alone needs no reinstall (a stable ABI,
# linked dynamically).  The stamp lives inside the installed package, so any
# other reinstall (R CMD INSTALL by hand, remove.packages) discards it.
stamp="Rfmalloc $version
sources $(fmrt_rpkg_hash "$stage")
libfmrt $(PKG_CONFIG_PATH=$pcdir pkg-config --modversion libfmrt) $(sha256sum <"$includedir/fmrt.h" | cut -d' ' -f1)
$(R --version | head -n 1)"
installed=$site/Rfmalloc
have=$(sed -n 's/^Version:[[:space:]]*//p' "$installed/DESCRIPTION" 2>/dev/null || true)
if [ "$have" = "$version" ] && [ -f "$installed/fmrt-setup.stamp" ] &&
   [ "$(cat "$installed/fmrt-setup.stamp")" = "$stamp" ]; then
  fmrt_say "Rfmalloc $version in $site is up to date (same sources, same libfmrt)"
else
  fmrt_say "installing Rfmalloc $version into $site${have:+ (replacing $have)}"
  fmrt_as_root env -u LD_LIBRARY_PATH PKG_CONFIG_PATH="$pcdir" \
    R CMD INSTALL --no-multiarch --library="$site" "$stage" ||
    fmrt_die "R CMD INSTALL of rpkg/ failed (see above)"
  printf '%s\n' "$stamp" >"$tmp/fmrt-setup.stamp"
  fmrt_as_root cp "$tmp/fmrt-setup.stamp" "$installed/fmrt-setup.stamp"
fi
so=$installed/libs/Rfmalloc.so
rlib=$(env -u LD_LIBRARY_PATH ldd "$so" | awk '$1 ~ /^libfmrt\.so/ { print $3 }')
if [ -z "$rlib" ] || [ "$rlib" = "not" ]; then
  fmrt_die "$so cannot find libfmrt.so.0 (no rpath to $libdir?)"
fi
fmrt_say "the installed Rfmalloc loads $rlib"

# Two R processes: the second finds what the first stored, by name.  R_LIBS
# puts the site library first, before any user library.
fmrt_say "step 6/6: the R demo (examples/demo.R), two Rscript processes on one heap"
rheap=$tmp/demo-r.heap
printf '\n$ Rscript examples/demo.R write %s   # process 1\n' "$rheap"
env -u LD_LIBRARY_PATH R_LIBS="$site" Rscript --vanilla examples/demo.R write "$rheap" ||
  fmrt_die "the R demo's first process failed"
printf '\n$ Rscript examples/demo.R read %s    # process 2\n' "$rheap"
env -u LD_LIBRARY_PATH R_LIBS="$site" Rscript --vanilla examples/demo.R read "$rheap" |
  tee "$tmp/r2.txt" || fmrt_die "the R demo's second process failed"
for want in ' [1]   1   4   9  16  25  36  49  64  81 100' \
  '[1] 0.5 1.0 1.5 2.0 2.5 3.0' '[1] "alpha" "beta"  "gamma" "delta"'; do
  grep -qxF -- "$want" "$tmp/r2.txt" ||
    fmrt_die "the R demo's second process did not print: $want"
done
grep -q '^process 2 (pid [0-9]*): found the vectors process [0-9]* stored, by name$' "$tmp/r2.txt" ||
  fmrt_die "the R demo's second process did not find the vectors of the first"
echo
fmrt_say "setup done: libfmrt is installed in $prefix and Rfmalloc in $site;"
fmrt_say "their heaps outlived the processes that wrote them."
fmrt_say "next: bash tools/test.sh"
