# tests/r/common.sh - sourced by the scripts of Meson's suite 'r'.
#
# Every script gets the source root and the build root as its first two
# arguments, builds Rfmalloc against the libfmrt of that build tree (found by
# rpkg/configure through PKG_CONFIG_PATH=<build>/meson-uninstalled, which
# holds libfmrt-uninstalled.pc), and exits 77 (a skip, for Meson) when R is
# not installed: the only reason these tests may skip.  Missing R packages
# (Rcpp, testthat, ...) are failures: tools/packages.txt declares them.
#
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
set -euo pipefail

if ! command -v R >/dev/null 2>&1 || ! command -v Rscript >/dev/null 2>&1; then
  echo "R is not installed (no R or Rscript on PATH): skipping suite 'r'"
  exit 77
fi

[ $# -ge 2 ] || { echo "usage: $0 SOURCE_ROOT BUILD_ROOT ..." >&2; exit 2; }
srcroot=$1
buildroot=$2
shift 2

# shellcheck source=tools/lib.sh
. "$srcroot/tools/lib.sh"

# Only this build's libfmrt: pkg-config looks in its meson-uninstalled/ and
# nowhere else a user's environment points; no LD_LIBRARY_PATH (the rpath
# that rpkg/configure adds must be enough).
export PKG_CONFIG_PATH=$buildroot/meson-uninstalled
unset LD_LIBRARY_PATH LD_PRELOAD
export LC_ALL=C.UTF-8
[ -f "$PKG_CONFIG_PATH/libfmrt-uninstalled.pc" ] || {
  echo "FAIL: $PKG_CONFIG_PATH/libfmrt-uninstalled.pc is missing (not a Meson build tree?)" >&2
  exit 1
}

# Runs "$@" and kills it, with every process it started, if together they
# hold more than FMRT_R_TEST_MAX_MB (default 4096) MiB of anonymous memory:
# a runaway R test then fails by itself, with this message, instead of
# having the kernel's OOM killer pick a process of the machine.  File-backed
# pages (the heap files) do not count.
r_capped() {
  local cap_kb=$(( ${FMRT_R_TEST_MAX_MB:-4096} * 1024 )) pid watcher rc=0
  "$@" &
  pid=$!
  (
    while kill -0 "$pid" 2>/dev/null; do
      # The process tree under $pid, and the sum of its RssAnon.
      pids=$(ps -eo pid=,ppid= | awk -v root="$pid" '
        { parent[$1] = $2 }
        END {
          tree[root] = 1
          do { grew = 0; for (p in parent) if (!(p in tree) && (parent[p] in tree)) { tree[p] = 1; grew = 1 } } while (grew)
          for (p in tree) print p
        }')
      kb=0
      for p in $pids; do
        k=$(awk '/^RssAnon:/ { print $2 }' "/proc/$p/status" 2>/dev/null || true)
        kb=$((kb + ${k:-0}))
      done
      if [ "$kb" -gt "$cap_kb" ]; then
        echo "FAIL: the R processes of this test hold $((kb / 1024)) MiB of anonymous memory," \
          "more than FMRT_R_TEST_MAX_MB=$((cap_kb / 1024)); killing them" >&2
        # shellcheck disable=SC2086
        kill -KILL $pids 2>/dev/null || true
        exit 0
      fi
      sleep 0.2
    done
  ) &
  watcher=$!
  wait "$pid" || rc=$?
  kill "$watcher" 2>/dev/null || true
  wait "$watcher" 2>/dev/null || true
  return "$rc"
}

r_elapsed() { echo "$(( $(date +%s) - r_started )) s"; }
r_started=$(date +%s)
