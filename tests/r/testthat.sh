#!/usr/bin/env bash
# tests/r/testthat.sh - runs Rfmalloc's testthat suite (rpkg/tests/testthat,
# testthat's 3rd edition) against the package installed in the build tree by
# install.sh (which it runs first: idempotent, under a lock).
#
# The test files are run where they are, in the source tree, so a test added
# there runs without reinstalling; child R processes (callr) inherit R_LIBS
# and so load the same installed package.  Fails when a test fails or
# errors, and when there is no test file at all.
#
# usage: testthat.sh SOURCE_ROOT BUILD_ROOT R_LIBRARY LIBFMRT_SO
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck source=tests/r/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh" || exit 1

[ $# -eq 2 ] || { echo "usage: testthat.sh SOURCE_ROOT BUILD_ROOT R_LIBRARY LIBFMRT_SO" >&2; exit 2; }
rlib=$1
bash "$(dirname "${BASH_SOURCE[0]}")/install.sh" "$srcroot" "$buildroot" "$@"
rlib=$(cd "$rlib" && pwd -P)

tests=$srcroot/rpkg/tests/testthat
if ! ls "$tests"/test*.R >/dev/null 2>&1; then
  echo "FAIL: no test files (test*.R) in $tests" >&2
  exit 1
fi

echo "== testthat::test_dir($tests)"
export R_LIBS=$rlib NOT_CRAN=true
# shellcheck disable=SC2016  # R code, not shell
r_capped Rscript --vanilla -e '
  library(testthat)
  options(warn = 1, testthat.progress.max_fails = 1000L)
  res <- test_dir(commandArgs(TRUE)[1], package = "Rfmalloc",
                  load_package = "installed", stop_on_failure = FALSE,
                  reporter = ProgressReporter$new(show_praise = FALSE, update_interval = Inf))
  df <- as.data.frame(res)
  cat(sprintf("\ntestthat: %d files, %d tests, %d expectations: %d failed, %d errors, %d skipped, %d warnings\n",
      length(unique(df$file)), nrow(df), sum(df$nb), sum(df$failed), sum(df$error),
      sum(df$skipped), sum(df$warning)))
  if (nrow(df) == 0L || any(df$failed > 0) || any(df$error)) quit(status = 1)
' "$tests"
echo "testthat.sh: ok ($(r_elapsed))"
