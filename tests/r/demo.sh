#!/usr/bin/env bash
# tests/r/demo.sh - the R code of the documentation, run against the package
# installed in the build tree by install.sh (which it runs first):
#   * examples/demo.R, as tools/setup.sh runs it: "write" in one Rscript
#     process, "read" in a second, which must print the stored vectors;
#   * every ```r block of README.md, in order, each as its own Rscript
#     process, all in one empty temporary directory (so a block may open a
#     heap file an earlier block wrote, as a later R session would); each
#     must exit 0.
#
# usage: demo.sh SOURCE_ROOT BUILD_ROOT R_LIBRARY LIBFMRT_SO
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck source=tests/r/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh" || exit 1

[ $# -eq 2 ] || { echo "usage: demo.sh SOURCE_ROOT BUILD_ROOT R_LIBRARY LIBFMRT_SO" >&2; exit 2; }
bash "$(dirname "${BASH_SOURCE[0]}")/install.sh" "$srcroot" "$buildroot" "$@"
rlib=$(cd "$1" && pwd -P)
export R_LIBS=$rlib

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rfm-demo.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "== examples/demo.R write, then read in a second process"
r_capped Rscript --vanilla "$srcroot/examples/demo.R" write "$tmp/demo.heap"
r_capped Rscript --vanilla "$srcroot/examples/demo.R" read "$tmp/demo.heap" | tee "$tmp/read.txt"
for want in ' [1]   1   4   9  16  25  36  49  64  81 100' \
  '[1] 0.5 1.0 1.5 2.0 2.5 3.0' '[1] "alpha" "beta"  "gamma" "delta"'; do
  grep -qxF -- "$want" "$tmp/read.txt" || {
    echo "FAIL: the second process did not print: $want" >&2
    exit 1
  }
done
grep -q '^process 2 (pid [0-9]*): found the vectors process [0-9]* stored, by name$' "$tmp/read.txt" || {
  echo "FAIL: the second process did not find the vectors of the first" >&2
  exit 1
}

echo "== the R blocks of README.md"
mkdir "$tmp/readme"
awk -v dir="$tmp/readme" '
  /^```r[[:space:]]*$/ { n++; file = sprintf("%s/block%d.R", dir, n); inblock = 1; next }
  /^```/ && inblock { inblock = 0; close(file); next }
  inblock { print > file }
' "$srcroot/README.md"
blocks=$(find "$tmp/readme" -name 'block*.R' | LC_ALL=C sort -V)
if [ -z "$blocks" ]; then
  echo "FAIL: README.md has no \`\`\`r block" >&2
  exit 1
fi
mkdir "$tmp/wd"
for block in $blocks; do
  echo "-- README.md, R block $(basename "$block" .R | tr -dc 0-9):"
  (cd "$tmp/wd" && r_capped Rscript --vanilla "$block") || {
    echo "FAIL: README.md's R block $(basename "$block") failed" >&2
    exit 1
  }
done
echo "demo.sh: ok ($(r_elapsed))"
