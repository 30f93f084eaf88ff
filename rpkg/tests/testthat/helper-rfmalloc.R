# Fixtures shared by the test files: a fresh heap file per test, runtimes
# closed when the test ends, child R processes with this library path, and
# helpers that compare results (values and warnings) with base R's.
#
# SPDX-License-Identifier: GPL-2.0-or-later

# A path for a new heap file, deleted when the calling test ends.
local_heap_path <- function(env = parent.frame()) {
  f <- tempfile("rfm-", fileext = ".heap")
  withr::defer(unlink(f), envir = env)
  f
}

# A runtime on a new heap file (or `path`), closed when the calling test ends.
local_runtime <- function(path = NULL, ..., env = parent.frame()) {
  if (is.null(path)) path <- local_heap_path(env)
  rt <- open_fmalloc(path, ...)
  withr::defer(cleanup_fmalloc(rt), envir = env)
  rt
}

# init_fmalloc(path, ...), and the default runtime closed when the calling
# test ends.
local_default_runtime <- function(path, ..., env = parent.frame()) {
  withr::defer(cleanup_fmalloc(), envir = env)
  init_fmalloc(path, ...)
}

# Runs `fun` in a fresh R process that sees the same libraries (the
# installed Rfmalloc among them); returns its value.
in_child <- function(fun, args = list()) {
  skip_if_not_installed("callr")
  callr::r(fun, args, libpath = .libPaths(), package = FALSE)
}

# Statistics of a runtime (internal; used to count allocations in the file).
heap_info <- function(rt) c(Rfmalloc:::rfm_info_(rt), Rfmalloc:::rfm_stats_(rt))

# Value and warning messages of evaluating `expr` (errors become a value too).
outcome <- function(expr) {
  warnings <- character()
  value <- withCallingHandlers(
    tryCatch(expr, error = function(e) structure(conditionMessage(e), class = "caught_error")),
    warning = function(w) {
      warnings <<- c(warnings, conditionMessage(w))
      invokeRestart("muffleWarning")
    }
  )
  list(value = value, warnings = warnings)
}

# expect that `actual` evaluates to exactly what `expected` does, warnings
# included.
expect_same_as_base <- function(actual, expected, label = NULL) {
  a <- outcome(actual)
  e <- outcome(expected)
  expect_identical(a, e, label = label %||% deparse(substitute(actual)))
}

`%||%` <- function(a, b) if (is.null(a)) b else a

# The class vector every Rfmalloc error has.
fm_classes <- function(kind) c(paste0("fmrt_error_", kind), "fmrt_error", "error", "condition")

# expect an Rfmalloc error of `kind` (and, optionally, a message pattern).
expect_fm_error <- function(expr, kind, regexp = NULL) {
  e <- expect_error(expr, class = paste0("fmrt_error_", kind), regexp = regexp)
  expect_identical(class(e), fm_classes(kind))
  invisible(e)
}

# Bytes of a file, for "left unchanged" checks.
file_bytes <- function(f) readBin(f, "raw", file.size(f))

# Runs libfmrt's `fmrt verify` on a heap file that is not open read-write,
# expecting no problems (and, with clean = TRUE, a clean last close).
# Without the fmrt tool on the PATH there is nothing to check.
expect_heap_verifies <- function(f, clean = NA) {
  tool <- Sys.which("fmrt")
  if (!nzchar(tool)) return(invisible(NULL))
  out <- suppressWarnings(system2(tool, c("verify", shQuote(f)), stdout = TRUE, stderr = TRUE))
  expect_null(attr(out, "status"), label = paste("fmrt verify exit status:", paste(out, collapse = "\n")))
  expect_true(any(grepl("no problems", out, fixed = TRUE)), label = paste(out, collapse = "\n"))
  if (!is.na(clean)) {
    last <- sub("^last close: *", "", grep("^last close:", out, value = TRUE))
    expect_identical(last, if (clean) "clean" else "unclean")
  }
  invisible(out)
}
