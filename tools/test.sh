#!/usr/bin/env bash
# tools/test.sh - runs every test suite of libfmrt; CI runs exactly this.
#
#   1. installs the missing packages of tools/packages.txt (as setup does);
#   2. build/: configures (only when needed), compiles, `meson test`
#      (the default setup: every suite but 'slow').  That includes suite
#      'r' (tests/r/): the R package rpkg/ installed into build/tests/r/lib
#      against build/'s libfmrt (PKG_CONFIG_PATH=build/meson-uninstalled;
#      a fresh Rscript must load it without LD_LIBRARY_PATH), its testthat
#      suite, examples/demo.R and the README's R code, and R CMD build +
#      R CMD check --no-manual, failing on any ERROR or WARNING;
#   3. build-asan/: the same under AddressSanitizer + UBSan (errors fatal),
#      but without suite 'r' (tests/r/meson.build leaves it out of sanitizer
#      builds: R cannot load an ASan-instrumented libfmrt);
#   4. with --slow: also `meson test -C build --setup=slow --suite slow`;
#   5. a fixed slice of the libFuzzer target (tests/fuzz/run_fuzz.sh): seed 1,
#      15,000 inputs, so every run tries the same inputs and a CI result can
#      be reproduced; open-ended fuzzing is `bash tests/fuzz/run_fuzz.sh SECONDS`.
#
# Ends with one line "N passed, M failed" (the meson runs together, the fuzz
# slice counting as one test) and exits non-zero when anything failed, a
# build failed or a run found no tests.  Tests that skip (suite 'r' when R
# is not installed, which tools/packages.txt prevents) count in neither.
# Needs no install: tools/setup.sh need not have run.
# usage: bash tools/test.sh [--slow]
#
# SPDX-License-Identifier: GPL-2.0-or-later
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=tools/lib.sh
. tools/lib.sh

slow=0
for arg in "$@"; do
  case $arg in
    --slow) slow=1 ;;
    -h | --help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) fmrt_die "unknown argument '$arg' (usage: bash tools/test.sh [--slow])" ;;
  esac
done

# Sanitizer reports stop the test and show where; user settings come after ours.
export ASAN_OPTIONS="halt_on_error=1:print_stacktrace=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

logs=$(mktemp -d "${TMPDIR:-/tmp}/fmrt-test.XXXXXX")
trap 'rm -rf "$logs"' EXIT

passed=0
failed=0
report=()  # one line per stage, repeated at the end

# A stage that failed before running its tests counts as one failure.
stage_failed() {
  failed=$((failed + 1))
  report+=("$1: FAILED ($2)")
  fmrt_warn "$1: $2"
}

# Runs `meson test "$@"` under label $1 and adds its counts to the totals.
run_meson_test() {
  local label=$1
  shift
  local log=$logs/$label.log rc=0
  fmrt_say "$label: meson test $*"
  meson test "$@" 2>&1 | tee "$log" || rc=$?
  # The summary block of meson test: "Ok: 12", "Fail: 0", ...
  count() { awk -v k="$1:" '$0 ~ "^" k { n = $NF } END { print n + 0 }' "$log"; }
  if ! grep -q '^Ok:' "$log"; then
    if grep -q -e '^No tests defined' -e '^No suitable tests defined' "$log"; then
      stage_failed "$label" "meson test found no tests"
    else
      stage_failed "$label" "meson test exited $rc without a summary"
    fi
    return
  fi
  local ok xfail fail xpass skip timeout
  ok=$(count 'Ok') xfail=$(count 'Expected Fail') fail=$(count 'Fail')
  xpass=$(count 'Unexpected Pass') skip=$(count 'Skipped') timeout=$(count 'Timeout')
  local p=$((ok + xfail)) f=$((fail + xpass + timeout))
  if [ $((p + f + skip)) -eq 0 ]; then
    stage_failed "$label" "meson test found no tests"
    return
  fi
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    f=1  # meson failed in a way its counts do not show
  fi
  passed=$((passed + p))
  failed=$((failed + f))
  report+=("$label: $p passed, $f failed, $skip skipped")
}

fmrt_say "step 1/4: packages"
fmrt_ensure_packages

fmrt_say "step 2/4: build/ (every suite but 'slow')"
if ! fmrt_configure build "${FMRT_BUILD_OPTIONS[@]}"; then
  stage_failed build "configuring build/ failed (see Meson's message above)"
elif ! fmrt_compile build; then
  stage_failed build "compiling build/ failed (see the compiler errors above)"
else
  run_meson_test build -C build --print-errorlogs
  if [ $slow = 1 ]; then
    run_meson_test build-slow -C build --setup=slow --suite slow --print-errorlogs
  fi
fi

fmrt_say "step 3/4: build-asan/ (AddressSanitizer + UBSan; no suite 'r')"
if ! fmrt_configure build-asan "${FMRT_ASAN_OPTIONS[@]}"; then
  stage_failed build-asan "configuring build-asan/ failed (see Meson's message above)"
elif ! fmrt_compile build-asan; then
  stage_failed build-asan "compiling build-asan/ failed (see the compiler errors above)"
else
  run_meson_test build-asan -C build-asan --print-errorlogs
fi

# The libFuzzer target on open + verify + repair, from the hostile-file
# corpus, under AddressSanitizer and UBSan (clang-14).  A fixed seed and a
# fixed number of inputs (not a time budget, which a slower machine would
# cut short at a different input) make the slice the same on every machine;
# 600 s is only an upper bound.
fuzz_runs=15000
fmrt_say "step 4/4: build-fuzz/, $fuzz_runs inputs (seed 1) of tests/fuzz/run_fuzz.sh"
if FMRT_FUZZ_ARGS="-seed=1 -runs=$fuzz_runs ${FMRT_FUZZ_ARGS:-}" bash tests/fuzz/run_fuzz.sh 600; then
  passed=$((passed + 1))
  report+=("fuzz: 1 passed, 0 failed ($fuzz_runs inputs, seed 1: no crash, leak or hang)")
else
  stage_failed fuzz "the fuzzer found a crash, leak or hang, or could not run (see above)"
fi

echo
for line in "${report[@]}"; do
  fmrt_say "$line"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
