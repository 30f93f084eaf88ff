#!/usr/bin/env bash
# tests/fuzz/run_fuzz.sh - fuzzes libfmrt's open and verify for a bounded
# time; CI runs it for a minute.
#
#   1. build-fuzz/: configures it (only when needed) with clang-14, the fuzz
#      targets, AddressSanitizer + UBSan (fatal, but for the known library
#      bugs listed in tests/fuzz/ubsan_ignore.txt) and the coverage
#      instrumentation libFuzzer needs (-fsanitize=fuzzer-no-link), and
#      compiles the target and the seed corpus (make_corpus --small); only
#      those: libfmrt.so itself does not link under clang's sanitizers;
#   2. copies the seeds and tests/corpus/regressions/ into a fresh working
#      corpus, build-fuzz/fuzz-work/corpus/;
#   3. runs fuzz-open-verify on it for SECONDS (default 60) with -timeout=10
#      and -rss_limit_mb=4096;
#   4. prints one summary line; exits non-zero when the fuzzer found a crash,
#      a leak, a timeout or an out-of-memory (its reproducer's path is
#      printed: replay it with `build-fuzz/tests/fuzz/fuzz-open-verify FILE`).
#
# usage: bash tests/fuzz/run_fuzz.sh [SECONDS]
#   FMRT_FUZZ_BUILD   build directory (default build-fuzz)
#   FMRT_FUZZ_ARGS    more libFuzzer arguments (e.g. -seed=1, or -fork=2
#                     -ignore_crashes=1 to go on past a finding)
#
# SPDX-License-Identifier: GPL-2.0-or-later
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=tools/lib.sh
. tools/lib.sh

seconds=${1:-60}
case $seconds in '' | *[!0-9]*) fmrt_die "SECONDS must be a number (usage: bash tests/fuzz/run_fuzz.sh [SECONDS])" ;; esac
build=${FMRT_FUZZ_BUILD:-build-fuzz}

for tool in clang-14 clang++-14; do
  command -v $tool >/dev/null 2>&1 || fmrt_die "$tool not found (apt-get install clang-14 libfuzzer-14-dev)"
done

# The ignore list names known library bugs the fuzzer would hit on every
# input (see the file); everything else UBSan finds is fatal.
sanitize_args="-fsanitize=fuzzer-no-link -fno-sanitize-recover=all -fsanitize-ignorelist=$PWD/tests/fuzz/ubsan_ignore.txt"
case $PWD in *[[:space:]]*) fmrt_die "the checkout's path must not contain spaces: $PWD" ;; esac
fuzz_options=(-Dfuzz=enabled -Dtests=enabled -Dbench=disabled
  '-Db_sanitize=address,undefined' -Db_lundef=false
  "-Dc_args=$sanitize_args" "-Dcpp_args=$sanitize_args")

# A directory configured with another compiler cannot be switched: wipe it.
if [ -f "$build/meson-info/intro-compilers.json" ] &&
  ! grep -q '"id": "clang"' "$build/meson-info/intro-compilers.json"; then
  fmrt_say "$build/: configured with another compiler; wiping it"
  rm -rf "$build"
fi
# As fmrt_configure, but the compiler arguments hold spaces: the changed
# options come one per line and are passed quoted.
if [ ! -f "$build/meson-private/coredata.dat" ]; then
  fmrt_say "$build/: configuring: meson setup $build ${fuzz_options[*]}"
  CC=clang-14 CXX=clang++-14 meson setup "$build" "${fuzz_options[@]}" ||
    fmrt_die "configuring $build/ failed (see Meson's message above)"
elif changed=$(fmrt_changed_options "$build" "${fuzz_options[@]}"); then
  if [ -n "$changed" ]; then
    mapfile -t changed_args <<<"$changed"
    fmrt_say "$build/: reconfiguring: ${changed_args[*]}"
    meson configure "$build" "${changed_args[@]}" || fmrt_die "reconfiguring $build/ failed"
  else
    fmrt_say "$build/: already configured"
  fi
else
  fmrt_say "$build/: Meson cannot read it; wiping it"
  CC=clang-14 CXX=clang++-14 meson setup --wipe "$build" "${fuzz_options[@]}" ||
    fmrt_die "configuring $build/ failed (see Meson's message above)"
fi
meson compile -C "$build" tests/fuzz/fuzz-open-verify tests/fuzz/fuzz-seeds ||
  fmrt_die "compiling $build/ failed (see the compiler errors above)"

target=$build/tests/fuzz/fuzz-open-verify
seeds=$build/tests/fuzz/seeds
[ -x "$target" ] || fmrt_die "$target was not built"
[ -d "$seeds" ] || fmrt_die "the seed corpus $seeds was not written"

work=$build/fuzz-work
rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
cp "$seeds"/* "$work/corpus/"
rm -f "$work/corpus/MANIFEST.tsv"
for f in tests/corpus/regressions/*; do
  case $(basename "$f") in README | MANIFEST.tsv) continue ;; esac
  [ -f "$f" ] && cp "$f" "$work/corpus/regression-$(basename "$f")"
done
before=$(find "$work/corpus" -type f | wc -l)

fmrt_say "fuzzing for $seconds s on $before inputs ($target)"
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
# The log keeps everything; the terminal gets it without the NEW/REDUCE lines.
set +e
# shellcheck disable=SC2086  # FMRT_FUZZ_ARGS is a list of words
"$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" ${FMRT_FUZZ_ARGS:-} "$work/corpus" 2>&1 |
  tee "$work/fuzz.log" | grep -v -e '^#[0-9]*[[:space:]]*\(NEW\|REDUCE\)'
status=("${PIPESTATUS[@]}")
set -e
rc=${status[0]}

# The final stats of a plain run; with -fork=N, the last "#N" status line.
execs=$(awk '/^stat::number_of_executed_units:/ { print $2 }' "$work/fuzz.log" | tail -1)
if [ -z "$execs" ]; then
  execs=$(sed -n 's/^#\([0-9][0-9]*\)[:[:space:]].*/\1/p' "$work/fuzz.log" | tail -1)
fi
after=$(find "$work/corpus" -type f | wc -l)
mapfile -t found < <(find "$work/artifacts" -type f | sort)
echo
if [ ${#found[@]} -gt 0 ] || [ "$rc" -ne 0 ]; then
  for f in "${found[@]}"; do
    fmrt_warn "reproducer: $f"
  done
  echo "fuzz: FOUND ${#found[@]} problem(s) after ${execs:-?} runs in $seconds s (libFuzzer exit $rc); log $work/fuzz.log"
  exit 1
fi
echo "fuzz: no crash, leak or timeout in ${execs:-?} runs over $seconds s; corpus $before -> $after inputs"
