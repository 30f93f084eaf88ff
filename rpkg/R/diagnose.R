# diagnose_fmalloc_runtime(): one object with everything about a runtime, and
# print(), summary() and plot() methods for it.
#
# SPDX-License-Identifier: GPL-2.0-or-later

#' Look inside a runtime's file
#'
#' Collects the runtime's state (path, mode, sizes, live vectors, pending
#' cleanup), its catalog ([list_fmalloc_allocations()]), libfmrt's
#' statistics (including the size-class table) and a full verification of
#' the file, and where each allocation sits in the file.
#'
#' `plot()` draws the file's occupancy with base graphics: a map of the file
#' from offset 0 to its end with every durable (named) and transient
#' allocation as a coloured block (gaps are free space, allocator metadata,
#' or allocations no entry names), and bars of bytes in use, free,
#' transient and overhead, so fragmentation shows at a glance.
#'
#' @param runtime A runtime, or `NULL` for the default one.
#' @return An object of class `fmalloc_diagnosis`: a list with `runtime`,
#'   `catalog`, `stats`, `verify` and `extents`. `verify` holds libfmrt's
#'   verify report: problem counts and texts, block counts, and
#'   `superblock_damaged`, one logical per superblock copy (`TRUE`: that copy
#'   fails its check while the other is in use, a power cut's trace that
#'   `fmrt repair` fixes; the print method says so).
#' @examples
#' f <- tempfile(fileext = ".heap")
#' rt <- open_fmalloc(f)
#' x <- save_fmalloc(runif(1e4), "x", runtime = rt)
#' d <- diagnose_fmalloc_runtime(rt)
#' d
#' summary(d)
#' plot(d)
#' cleanup_fmalloc(rt)
#' unlink(f)
#' @export
diagnose_fmalloc_runtime <- function(runtime = NULL) {
  runtime <- fm_runtime(runtime)
  info <- fm_check(rfm_info_(runtime))
  stats <- fm_check(rfm_stats_(runtime))
  verify <- fm_check(rfm_verify_(runtime))
  ext <- fm_check(rfm_extents_(runtime))
  extents <- data.frame(offset = ext$offset, bytes = ext$bytes, status = ext$status,
    name = ext$name, stringsAsFactors = FALSE)
  extents <- extents[order(extents$offset), , drop = FALSE]
  rownames(extents) <- NULL
  structure(list(
    runtime = info[c("path", "uuid", "mode", "readonly", "cleanup_requested", "live_vectors")],
    catalog = list_fmalloc_allocations(runtime),
    stats = stats,
    verify = verify,
    extents = extents
  ), class = "fmalloc_diagnosis")
}

#' @rdname diagnose_fmalloc_runtime
#' @param x,object An `fmalloc_diagnosis`.
#' @param ... Ignored (`plot()`: passed to [graphics::plot.default()] for the map).
#' @export
print.fmalloc_diagnosis <- function(x, ...) {
  r <- x$runtime
  s <- x$stats
  v <- x$verify
  cat(sprintf("Rfmalloc runtime: %s\n", r$path))
  cat(sprintf("  mode %s%s, format %s, heap %s%s\n", r$mode, if (r$readonly) " (read-only)" else "",
    s$format, r$uuid, if (r$cleanup_requested) ", cleanup pending" else ""))
  cat(sprintf("  file %s of at most %s\n", format_bytes(s$file_bytes), format_bytes(s$max_bytes)))
  cat(sprintf("  in use %s in %.0f allocations; free %s (largest block %s, fragmentation %.0f%%); overhead %s\n",
    format_bytes(s$in_use_bytes), s$allocations, format_bytes(s$free_bytes),
    format_bytes(s$largest_free_block), 100 * s$fragmentation, format_bytes(s$overhead_bytes)))
  cat(sprintf("  %.0f catalog entries, %.0f transient allocations, %.0f live vectors in this session\n",
    s$catalog_entries, s$transient_allocations, r$live_vectors))
  if (v$problems == 0) {
    cat(sprintf("  verify: healthy (%.0f spans checked)\n", v$spans))
  } else {
    cat(sprintf("  verify: %.0f PROBLEMS\n", v$problems))
    for (i in seq_along(v$problem_text)) {
      cat(sprintf("    at offset %.0f: %s\n", v$problem_offsets[i], v$problem_text[i]))
    }
  }
  if (sum(v$superblock_damaged) == 1) {
    bad <- which(v$superblock_damaged) - 1
    cat(sprintf("  superblock copy %d fails its check; copy %d is in use (fmrt repair rewrites it)\n", bad, 1 - bad))
  }
  if (v$unreachable_allocations > 0) {
    cat(sprintf("  %.0f allocations (%s) are named by no entry (fmrt repair --reclaim frees them)\n",
      v$unreachable_allocations, format_bytes(v$unreachable_bytes)))
  }
  if (nrow(x$catalog)) {
    cat("Catalog:\n")
    print(utils::head(x$catalog[, c("name", "type", "length", "bytes", "status")], 10L), row.names = FALSE)
    if (nrow(x$catalog) > 10L) cat(sprintf("  ... and %d more\n", nrow(x$catalog) - 10L))
  }
  invisible(x)
}

#' @rdname diagnose_fmalloc_runtime
#' @export
summary.fmalloc_diagnosis <- function(object, ...) {
  s <- object$stats
  structure(list(
    path = object$runtime$path,
    healthy = object$verify$problems == 0,
    file_bytes = s$file_bytes, in_use_bytes = s$in_use_bytes, free_bytes = s$free_bytes,
    fragmentation = s$fragmentation,
    entries = sum(object$catalog$status == "durable"),
    by_type = table(object$catalog$type[object$catalog$status == "durable"]),
    by_status = tapply(object$catalog$bytes, object$catalog$status, sum)
  ), class = "summary.fmalloc_diagnosis")
}

#' @export
print.summary.fmalloc_diagnosis <- function(x, ...) {
  types <- if (length(x$by_type)) {
    paste0(" (", paste(x$by_type, names(x$by_type), collapse = ", "), ")")
  } else ""
  cat(sprintf("%s: %s, %s used of %s (%.0f%% fragmented), %d entries%s\n", x$path,
    if (x$healthy) "healthy" else "DAMAGED", format_bytes(x$in_use_bytes), format_bytes(x$file_bytes),
    100 * x$fragmentation, x$entries, types))
  invisible(x)
}

#' @rdname diagnose_fmalloc_runtime
#' @param y Ignored.
#' @importFrom graphics par plot.new plot.window rect axis title legend barplot
#' @export
plot.fmalloc_diagnosis <- function(x, y, ...) {
  s <- x$stats
  e <- x$extents
  cols <- c(durable = "#2b8cbe", transient = "#fdae61", scratch = "#a6d96a", free = "grey92")
  old <- par(mfrow = c(2L, 1L), mar = c(6, 6, 3, 1))
  on.exit(par(old))
  end <- max(s$file_bytes, 1)
  unit <- if (end >= 2^30) 2^30 else if (end >= 2^20) 2^20 else 1024
  uname <- c("1024" = "KiB", "1048576" = "MiB", "1073741824" = "GiB")[as.character(unit)]
  plot.new()
  plot.window(xlim = c(0, end / unit), ylim = c(0, 1), ...)
  rect(0, 0, end / unit, 1, col = cols[["free"]], border = NA)
  if (nrow(e)) {
    rect(e$offset / unit, 0, (e$offset + pmax(e$bytes, end / 2000)) / unit, 1,
      col = cols[e$status], border = NA)
  }
  axis(1)
  title(main = sprintf("%s: file map", basename(x$runtime$path)), xlab = sprintf("offset (%s)", uname))
  legend("bottom", fill = cols, legend = c("named", "transient", "scratch", "free / other"),
    horiz = TRUE, bty = "n", cex = 0.8, inset = c(0, -0.75), xpd = TRUE)
  bytes <- c(
    "in use" = s$in_use_bytes,
    transient = sum(e$bytes[e$status == "transient"]),
    free = s$free_bytes,
    overhead = s$overhead_bytes
  )
  barplot(bytes / unit, horiz = TRUE, las = 1, col = c(cols[["durable"]], cols[["transient"]], cols[["free"]], "grey60"),
    main = sprintf("bytes (%s); fragmentation %.0f%%", uname, 100 * s$fragmentation))
  invisible(x)
}
