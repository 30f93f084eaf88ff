# Runtimes: open heap files, the session's default runtime, cleanup, sync,
# copies.
#
# SPDX-License-Identifier: GPL-2.0-or-later

#' @useDynLib Rfmalloc, .registration = TRUE
#' @importFrom Rcpp evalCpp
NULL

fm_state <- new.env(parent = emptyenv())
fm_state$default <- NULL

fm_string <- function(x, what, call = sys.call(-1)) {
  if (!is.character(x) || length(x) != 1L || is.na(x) || !nzchar(x)) {
    fm_invalid(sprintf("'%s' must be a single non-empty string", what), call)
  }
  enc2utf8(x)
}

fm_flag <- function(x, what, call = sys.call(-1)) {
  if (!is.logical(x) || length(x) != 1L || is.na(x)) {
    fm_invalid(sprintf("'%s' must be TRUE or FALSE", what), call)
  }
  x
}

# The runtime argument, or the default runtime when it is NULL.
fm_runtime <- function(runtime, call = sys.call(-1)) {
  if (is.null(runtime)) {
    runtime <- fm_state$default
    if (is.null(runtime)) {
      stop(fm_condition("closed",
        "no default runtime: call init_fmalloc() first, or pass 'runtime'", call))
    }
  }
  if (!inherits(runtime, "fmalloc_runtime") || typeof(runtime) != "externalptr") {
    fm_invalid("'runtime' is not an Rfmalloc runtime (make one with open_fmalloc())", call)
  }
  runtime
}

#' Open a heap file as a runtime
#'
#' Opens (creating when needed) a heap in a memory-mapped file. A
#' persistent runtime keeps its data in `filepath`, where a later R session
#' finds them by name; a scratch runtime lives in an unlinked file that
#' disappears when it is closed or R exits. Any number of runtimes may be
#' open at once. Opening a path this session already has open (in the same
#' mode) returns the same runtime.
#'
#' A read-write runtime holds its file exclusively; read-only runtimes share
#' it with other read-only openers (in this or other R processes). Vectors of
#' a read-only runtime are never written in place: R copies them before any
#' change.
#'
#' @param filepath Path of the heap file. For `mode = "scratch"`, a
#'   directory to hold the unlinked file, a path that does not exist yet, or
#'   `NULL` for the temporary directory.
#' @param size_gb Largest size the file may grow to, in GiB (address space
#'   reserved up front; the file itself grows as data are stored). `NULL`:
#'   the size recorded in the file, or 256 GiB for a new file.
#' @param mode `"persistent"` or `"scratch"`.
#' @param readonly Open an existing file read-only.
#' @return An object of class `fmalloc_runtime`.
#' @seealso [init_fmalloc()], [cleanup_fmalloc()]
#' @examples
#' f <- tempfile(fileext = ".heap")
#' rt <- open_fmalloc(f)
#' x <- create_fmalloc_vector("double", 5, runtime = rt, name = "x")
#' x[] <- 1:5
#' rt
#' cleanup_fmalloc(rt)
#' unlink(f)
#' @export
open_fmalloc <- function(filepath, size_gb = NULL, mode = c("persistent", "scratch"),
                         readonly = FALSE) {
  mode <- tryCatch(match.arg(mode), error = function(e) {
    fm_invalid("'mode' must be \"persistent\" or \"scratch\"", NULL)
  })
  readonly <- fm_flag(readonly, "readonly")
  if (mode == "scratch" && is.null(filepath)) {
    path <- NULL
  } else {
    path <- fm_string(filepath, "filepath")
    path <- path.expand(path)
    if (mode == "persistent" && dir.exists(path)) {
      fm_invalid(sprintf("'%s' is a directory, not a heap file", path))
    }
  }
  if (mode == "scratch" && readonly) {
    fm_invalid("a scratch runtime cannot be read-only")
  }
  max_gb <- 0
  if (!is.null(size_gb)) {
    if (!is.numeric(size_gb) || length(size_gb) != 1L || is.na(size_gb) || size_gb <= 0 ||
        !is.finite(size_gb)) {
      fm_invalid("'size_gb' must be NULL or a positive number")
    }
    max_gb <- as.double(size_gb)
  }
  fm_check(rfm_open_(path, max_gb, mode == "scratch", readonly))
}

#' Open a heap file and make it the default runtime
#'
#' As [open_fmalloc()], and the runtime becomes the default used by every
#' function whose `runtime` argument is `NULL`.
#'
#' @param filepath Path of the heap file.
#' @param ... Passed to [open_fmalloc()].
#' @return `TRUE`.
#' @examples
#' f <- tempfile(fileext = ".heap")
#' init_fmalloc(f)
#' v <- create_fmalloc_vector("integer", 3)
#' v[1:3] <- 1:3
#' v
#' cleanup_fmalloc()
#' unlink(f)
#' @export
init_fmalloc <- function(filepath, ...) {
  rt <- open_fmalloc(filepath, ...)
  fm_state$default <- rt
  TRUE
}

#' Close a runtime
#'
#' Requests the close of `runtime` (the default runtime when `NULL`). Vectors
#' of the runtime that R still holds stay usable: the file is synced and
#' unmapped when the last of them is garbage-collected. The runtime itself
#' can no longer create, save or load vectors. Calling it again, or with no
#' default runtime, does nothing and returns `FALSE`.
#'
#' @param runtime A runtime, or `NULL` for the default one.
#' @return `TRUE` when a close was requested, invisibly.
#' @examples
#' f <- tempfile(fileext = ".heap")
#' rt <- open_fmalloc(f)
#' cleanup_fmalloc(rt)
#' cleanup_fmalloc(rt) # already requested: FALSE
#' unlink(f)
#' @export
cleanup_fmalloc <- function(runtime = NULL) {
  if (is.null(runtime)) {
    runtime <- fm_state$default
    if (is.null(runtime)) return(invisible(FALSE))
  }
  runtime <- fm_runtime(runtime)
  if (identical(runtime, fm_state$default)) fm_state$default <- NULL
  open <- rfm_is_open_(runtime)
  if (is.na(open)) fm_invalid("'runtime' is not an Rfmalloc runtime (make one with open_fmalloc())")
  if (!open) return(invisible(FALSE))
  invisible(fm_check(rfm_cleanup_(runtime)))
}

#' Make everything written so far durable
#'
#' Flushes the runtime's file to disk (`msync` then `fsync`): data written
#' into vectors and every catalog change. Closing a runtime syncs too.
#'
#' @param runtime A runtime, or `NULL` for the default one.
#' @return `TRUE`, invisibly.
#' @examples
#' f <- tempfile(fileext = ".heap")
#' rt <- open_fmalloc(f)
#' x <- save_fmalloc(c(1.5, 2.5), "x", runtime = rt)
#' sync_fmalloc(rt)
#' cleanup_fmalloc(rt)
#' unlink(f)
#' @export
sync_fmalloc <- function(runtime = NULL) {
  invisible(fm_check(rfm_sync_(fm_runtime(runtime))))
}

#' Copy an open runtime's file (a backup)
#'
#' Writes a consistent copy of the runtime's heap file to the new file
#' `path`, while the runtime stays open: every vector stored under a name is
#' in the copy, and `open_fmalloc(path)` finds them there as in the original.
#' The copy shares disk blocks with the original where the file system can
#' (btrfs, XFS); elsewhere it is a full copy that keeps the file's holes. It
#' is written under a temporary name and given its name only when complete;
#' an existing file is never replaced. Temporaries (large intermediate
#' results R made from Rfmalloc vectors) are reclaimed when the copy is
#' first opened, as after any session that ended without closing.
#'
#' @param path Path of the new file; it must not exist.
#' @param runtime A runtime, or `NULL` for the default one. Read-only and
#'   scratch runtimes can be copied too (a scratch heap saved to a file).
#' @return `path`, invisibly.
#' @examples
#' f <- tempfile(fileext = ".heap")
#' backup <- tempfile(fileext = ".heap")
#' rt <- open_fmalloc(f)
#' x <- save_fmalloc(c(1.5, 2.5), "x", runtime = rt)
#' copy_fmalloc_runtime(backup, rt)
#' cleanup_fmalloc(rt)
#' rt2 <- open_fmalloc(backup)
#' load_fmalloc("x", runtime = rt2)
#' cleanup_fmalloc(rt2)
#' unlink(c(f, backup))
#' @export
copy_fmalloc_runtime <- function(path, runtime = NULL) {
  rt <- fm_runtime(runtime)
  path <- path.expand(fm_string(path, "path"))
  fm_check(rfm_copy_(rt, path))
  invisible(path)
}

#' @rdname open_fmalloc
#' @param x A runtime.
#' @param ... Ignored.
#' @export
print.fmalloc_runtime <- function(x, ...) {
  if (!isTRUE(rfm_is_open_(x))) {
    cat("<fmalloc_runtime: closed>\n")
    return(invisible(x))
  }
  i <- fm_check(rfm_info_(x))
  s <- fm_check(rfm_stats_(x))
  cat(sprintf("<fmalloc_runtime %s%s: %s>\n", i$mode, if (i$readonly) ", read-only" else "", i$path))
  cat(sprintf("  file %s of at most %s; %s in %g allocations; %g catalog entries; %g live vectors%s\n",
    format_bytes(s$file_bytes), format_bytes(s$max_bytes), format_bytes(s$in_use_bytes),
    s$allocations, s$catalog_entries, i$live_vectors,
    if (i$cleanup_requested) "; cleanup pending" else ""))
  invisible(x)
}

format_bytes <- function(b) {
  units <- c("B", "KiB", "MiB", "GiB", "TiB")
  k <- if (b > 0) min(length(units) - 1L, floor(log(b, 1024))) else 0
  if (k == 0) sprintf("%.0f B", b) else sprintf("%.1f %s", b / 1024^k, units[k + 1L])
}
