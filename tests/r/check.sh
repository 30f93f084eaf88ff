#!/usr/bin/env bash
# tests/r/check.sh - R CMD build, then R CMD check --no-manual, of Rfmalloc
# (rpkg/) against the libfmrt of the build tree.  Fails when either fails or
# when the check reports any ERROR or WARNING (read from 00check.log); NOTEs
# are allowed and listed.  The check installs the package on its own, into
# its Rfmalloc.Rcheck/ (where the rpath leads to this build's libfmrt), and
# runs the examples, the vignettes (if any) and tests/testthat.R.
#
# usage: check.sh SOURCE_ROOT BUILD_ROOT WORK_DIR
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck source=tests/r/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh" || exit 1

[ $# -eq 1 ] || { echo "usage: check.sh SOURCE_ROOT BUILD_ROOT WORK_DIR" >&2; exit 2; }
work=$1
rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd -P)
fmrt_rpkg_stage "$srcroot/rpkg" "$work/Rfmalloc"
cd "$work" || exit 1

# Do not ask a time server whether file times are in the future (the check
# may run offline; "checking package dependencies" may then warn on stderr
# that it cannot read CRAN's index, which does not change its result).
# Only the system's R libraries, plus the check's own install.
export _R_CHECK_SYSTEM_CLOCK_=FALSE
unset R_LIBS R_LIBS_USER

echo "== R CMD build --no-manual (PKG_CONFIG_PATH=$PKG_CONFIG_PATH)"
if ! r_capped R CMD build --no-manual Rfmalloc; then
  echo "FAIL: R CMD build failed" >&2
  exit 1
fi
tarball=$(ls Rfmalloc_*.tar.gz)
echo "built $tarball ($(r_elapsed))"

echo "== R CMD check --no-manual $tarball"
rc=0
r_capped R CMD check --no-manual "$tarball" || rc=$?
log=Rfmalloc.Rcheck/00check.log
if [ ! -f "$log" ]; then
  echo "FAIL: R CMD check exited $rc and wrote no $log" >&2
  exit 1
fi

# Each check's result ends its "* checking ..." line (or a continuation of
# it), e.g. "* checking examples ... ERROR"; the last line is "Status: ...".
# (The result of "checking tests" stands alone on a later line: " ERROR".)
bad=$(grep -E '(\.\.\.|^) *(\[[^]]*\] *)?(ERROR|WARNING)$' "$log" || true)
notes=$(grep -E '(\.\.\.|^) *(\[[^]]*\] *)?NOTE$' "$log" || true)
status=$(grep -E '^Status:' "$log" | tail -n 1 || true)
echo
echo "== summary of $work/$log"
echo "${status:-no Status line}"
[ -z "$notes" ] || printf 'NOTEs (allowed):\n%s\n' "$notes"
if [ -n "$bad" ] || [ "$rc" -ne 0 ] || [ -z "$status" ] ||
   printf '%s' "$status" | grep -qE 'ERROR|WARNING'; then
  [ -z "$bad" ] || printf 'ERRORs/WARNINGs:\n%s\n' "$bad"
  # The failing tests' and examples' output, when they failed.
  for f in Rfmalloc.Rcheck/tests/*.Rout.fail; do
    [ -f "$f" ] || continue
    echo "== tail of $f"
    tail -n 80 "$f"
  done
  if grep -qE 'checking examples .*ERROR' "$log"; then
    echo "== tail of Rfmalloc.Rcheck/Rfmalloc-Ex.Rout"
    tail -n 60 Rfmalloc.Rcheck/Rfmalloc-Ex.Rout
  fi
  echo "FAIL: R CMD check exited $rc with: ${status:-no status}" >&2
  exit 1
fi
echo "check.sh: ok ($(r_elapsed))"
