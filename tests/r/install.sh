#!/usr/bin/env bash
# tests/r/install.sh - installs Rfmalloc (rpkg/) into an R library inside the
# build tree, against the libfmrt of that build tree, and checks that a fresh
# Rscript without LD_LIBRARY_PATH loads it and uses this build's libfmrt.
#
# Idempotent and safe to run concurrently: under a lock on the library, it
# installs only when the stamp (a hash of the package sources and of fmrt.h,
# the pkg-config flags and the R version) differs from the last install's.
# The suite's other tests that need the package (testthat.sh, demo.sh) run
# it first, so the order in which Meson starts them does not matter.
#
# usage: install.sh SOURCE_ROOT BUILD_ROOT R_LIBRARY LIBFMRT_SO
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck source=tests/r/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh" || exit 1

[ $# -eq 2 ] || { echo "usage: install.sh SOURCE_ROOT BUILD_ROOT R_LIBRARY LIBFMRT_SO" >&2; exit 2; }
rlib=$1
libfmrt_so=$2
case $libfmrt_so in /*) ;; *) libfmrt_so=$buildroot/$libfmrt_so ;; esac
mkdir -p "$rlib"
rlib=$(cd "$rlib" && pwd -P)

exec 9>"$rlib/.install.lock"
flock 9

stage=$rlib/.stage
rm -rf "$stage"
fmrt_rpkg_stage "$srcroot/rpkg" "$stage/Rfmalloc"
# A rebuilt libfmrt.so alone needs no reinstall: the package links it
# dynamically (through the rpath), and its ABI is stable.
stamp="rpkg $(fmrt_rpkg_hash "$stage/Rfmalloc")
fmrt.h $(sha256sum <"$srcroot/libfmrt/include/fmrt.h" | cut -d' ' -f1)
pkg-config $(pkg-config --modversion libfmrt) $(pkg-config --cflags --libs libfmrt)
$(R --version | head -n 1)"

if [ -f "$rlib/Rfmalloc/DESCRIPTION" ] && [ -f "$rlib/.stamp" ] &&
   [ "$(cat "$rlib/.stamp")" = "$stamp" ]; then
  echo "Rfmalloc in $rlib is up to date (same sources, same fmrt.h)"
else
  echo "installing Rfmalloc into $rlib (PKG_CONFIG_PATH=$PKG_CONFIG_PATH)"
  rm -f "$rlib/.stamp"
  if ! R CMD INSTALL --no-multiarch --library="$rlib" "$stage/Rfmalloc" >"$rlib/.install.log" 2>&1; then
    cat "$rlib/.install.log"
    echo "FAIL: R CMD INSTALL of rpkg failed (log above)" >&2
    exit 1
  fi
  cat "$rlib/.install.log"
  printf '%s\n' "$stamp" >"$rlib/.stamp"
  echo "installed in $(r_elapsed)"
fi
rm -rf "$stage"

# The shared object must find this build's libfmrt through its rpath.
so=$rlib/Rfmalloc/libs/Rfmalloc.so
want=$(cd "$(dirname "$libfmrt_so")" && pwd -P)
echo "== ldd $so (libfmrt)"
ldd "$so" | grep libfmrt || true
got=$(ldd "$so" | awk '$1 ~ /^libfmrt\.so/ { print $3 }')
if [ -z "$got" ] || [ "$got" = not ]; then
  echo "FAIL: $so does not find libfmrt without LD_LIBRARY_PATH (no rpath?)" >&2
  exit 1
fi
got_dir=$(cd "$(dirname "$got")" && pwd -P)
if [ "$got_dir" != "$want" ]; then
  echo "FAIL: $so loads $got, not the libfmrt of this build in $want" >&2
  exit 1
fi
readelf -d "$so" | grep -E 'RPATH|RUNPATH' || true

# Fresh R processes: library(Rfmalloc) loads from our library and maps this
# build's libfmrt; a vector saved by one process is found by name by the next.
echo "== fresh Rscript processes, no LD_LIBRARY_PATH"
heap=$(mktemp -d "${TMPDIR:-/tmp}/rfm-install.XXXXXX")
trap 'rm -rf "$heap"' EXIT
export R_LIBS=$rlib FMRT_WANT_DIR=$want FMRT_HEAP=$heap/smoke.heap
Rscript --vanilla -e '
  suppressPackageStartupMessages(library(Rfmalloc))
  where <- normalizePath(dirname(find.package("Rfmalloc")))
  cat("Rfmalloc", format(packageVersion("Rfmalloc")), "from", where, "\n")
  stopifnot(identical(where, normalizePath(Sys.getenv("R_LIBS"))))
  maps <- unique(sub(".* ", "", grep("libfmrt", readLines("/proc/self/maps"), value = TRUE)))
  cat("libfmrt mapped from", maps, "\n")
  stopifnot(length(maps) == 1L,
            identical(normalizePath(dirname(maps)), Sys.getenv("FMRT_WANT_DIR")))
  rt <- open_fmalloc(Sys.getenv("FMRT_HEAP"))
  x <- save_fmalloc(c(2.5, 3.5), "smoke", runtime = rt)
  cleanup_fmalloc(rt)
'
Rscript --vanilla -e '
  suppressPackageStartupMessages(library(Rfmalloc))
  rt <- open_fmalloc(Sys.getenv("FMRT_HEAP"), readonly = TRUE)
  stopifnot(identical(load_fmalloc("smoke", runtime = rt) + 0, c(2.5, 3.5)))
  cat("a second process found the vector the first saved: ok\n")
'
echo "install.sh: ok ($(r_elapsed))"
