# Vectors: create, save, load, remove, list, and ordinary copies.
#
# SPDX-License-Identifier: GPL-2.0-or-later

fm_types <- c("logical", "integer", "numeric", "double", "complex", "raw", "character", "list")

fm_length <- function(length, call = sys.call(-1)) {
  if (!is.numeric(length) || length(length) != 1L || is.na(length)) {
    fm_invalid("'length' must be a single non-NA number", call)
  }
  if (length < 0) fm_invalid("'length' must not be negative", call)
  if (length != floor(length)) fm_invalid("'length' must be a whole number", call)
  if (length > 4503599627370496) fm_invalid("'length' is larger than R's longest vector", call)
  as.double(length)
}

fm_name <- function(name, call = sys.call(-1)) {
  name <- fm_string(name, "name", call)
  if (nchar(name, type = "bytes") > 4096L) fm_invalid("'name' is longer than 4096 bytes", call)
  name
}

#' Create a vector in a heap file
#'
#' Allocates a vector of `type` and `length` whose data live in the
#' runtime's file. In a persistent runtime the vector is stored under `name`
#' (or a generated name starting with `.anon/`) and is found again by
#' [load_fmalloc()] in a later session. Assignments such as `x[i] <- v` on the
#' returned vector write into the file while `x` is R's only reference to
#' it. As with any R vector, a second reference makes R copy before writing,
#' and the copy is what changes: a second binding (`y <- x`), or a tool that
#' keeps the value of every top-level expression (knitr does). There, create
#' and fill in one expression (`{ x <- create_fmalloc_vector(...); x[i] <- v }`),
#' or reload with `load_fmalloc(name, writable = TRUE)` in the expression
#' that writes. Assign by position: R duplicates an ALTREP vector before an
#' assignment by name (`x["a"] <- v`). Like any unreferenced R vector, a created vector used in
#' arithmetic before it is bound may serve as the result buffer.
#'
#' @param type One of `"logical"`, `"integer"`, `"numeric"` (or `"double"`),
#'   `"complex"`, `"raw"`, `"character"`, or `"list"`. A list is stored as a
#'   list record of `length` NULL elements and returned as an ordinary R list
#'   (R 4.2 has no ALTREP lists): fill it with Rfmalloc vectors of the same
#'   runtime and store it again with `save_fmalloc(l, name, overwrite = TRUE)`.
#' @param length The number of elements: a non-negative whole number.
#' @param runtime A runtime, or `NULL` for the default one.
#' @param zero_initialize Fill with zeros (`FALSE`, `0`, `""`). With `FALSE`
#'   the contents are unspecified (fastest for data about to be overwritten).
#' @param name The catalog name; `NULL` for a generated name (persistent) or
#'   none (scratch).
#' @return An Rfmalloc vector of the given type.
#' @examples
#' f <- tempfile(fileext = ".heap")
#' rt <- open_fmalloc(f)
#' x <- create_fmalloc_vector("numeric", 4, runtime = rt, name = "x")
#' x[2:3] <- c(1.1, 2.2)
#' x
#' s <- create_fmalloc_vector("character", 2, runtime = rt)
#' s[1] <- "hello"
#' s
#' cleanup_fmalloc(rt)
#' unlink(f)
#' @export
create_fmalloc_vector <- function(type, length, runtime = NULL, zero_initialize = TRUE,
                                  name = NULL) {
  if (!is.character(type) || length(type) != 1L || is.na(type) || !(type %in% fm_types)) {
    fm_invalid(sprintf("unknown type %s: use one of %s",
      if (is.character(type) && length(type) == 1L) sQuote(type, FALSE) else "argument",
      paste(fm_types, collapse = ", ")))
  }
  length <- fm_length(length)
  zero_initialize <- fm_flag(zero_initialize, "zero_initialize")
  if (!is.null(name)) name <- fm_name(name)
  runtime <- fm_runtime(runtime)
  if (type == "list") {
    if (is.null(name)) name <- rfm_generated_name_()
    x <- vector("list", length)
    fm_save_list(x, name, runtime, FALSE)
    return(x)
  }
  fm_check(rfm_create_(runtime, type, length, zero_initialize, name))
}

#' Store an R vector in a heap file under a name
#'
#' Copies `x` (an ordinary vector or an Rfmalloc vector) into the runtime's
#' file under `name`, with its attributes, and returns the file-backed vector.
#' The copy is durable after [sync_fmalloc()] or the runtime's close.
#'
#' @param x A logical, integer, double, complex, raw or character vector.
#' @param name The catalog name (1 to 4096 bytes of UTF-8).
#' @param runtime A runtime, or `NULL` for the default one.
#' @param overwrite Replace an existing entry of that name. Vectors R still
#'   holds from the replaced entry stay valid until they are collected.
#' @return The Rfmalloc vector now stored under `name`.
#' @examples
#' f <- tempfile(fileext = ".heap")
#' rt <- open_fmalloc(f)
#' v <- save_fmalloc(c(a = 1L, b = 2L), "v", runtime = rt)
#' v
#' cleanup_fmalloc(rt)
#' unlink(f)
#' @export
save_fmalloc <- function(x, name, runtime = NULL, overwrite = FALSE) {
  name <- fm_name(name)
  overwrite <- fm_flag(overwrite, "overwrite")
  runtime <- fm_runtime(runtime)
  if (is.list(x) && (is.null(oldClass(x)) || is.data.frame(x))) {
    if (!overwrite && !inherits(rfm_load_list_(runtime, name), "rfmalloc_failure")) {
      stop(fm_condition("exists", sprintf(
        "an entry named '%s' already exists (use overwrite = TRUE)", name), sys.call()))
    }
    fm_save_list(x, name, runtime, overwrite)
    return(load_fmalloc(name, runtime))
  }
  if (!(typeof(x) %in% c("logical", "integer", "double", "complex", "raw", "character"))) {
    stop(fm_condition("type", sprintf(
      "cannot store an object of type '%s': logical, integer, double, complex, raw and character vectors can be stored",
      typeof(x)), sys.call()))
  }
  a <- attributes(x)
  blob <- if (length(a)) serialize(a, NULL, version = 3L) else NULL
  # A list this replaces leaves its own children behind otherwise.
  old_children <- if (overwrite) fm_list_children(runtime, name) else character(0)
  v <- fm_check(rfm_save_(runtime, x, name, overwrite, blob))
  fm_drop_children(runtime, name, old_children)
  if (length(a)) rfm_set_attributes_(v, a)
  v
}

#' Find a stored vector by name
#'
#' Returns the vector stored under `name`, its data mapped from the file
#' (nothing is read until used), with the attributes it was saved with.
#' Unless `writable = TRUE`, the stored data never change through R's value
#' semantics: `load_fmalloc("a") + 1` or `y[1] <- 0` work on copies.
#'
#' @param name The catalog name.
#' @param runtime A runtime, or `NULL` for the default one.
#' @param writable Let assignments on the returned vector write into the
#'   file (not for read-only runtimes).
#' @return An Rfmalloc vector.
#' @examples
#' f <- tempfile(fileext = ".heap")
#' rt <- open_fmalloc(f)
#' invisible(save_fmalloc(letters[1:3], "abc", runtime = rt))
#' y <- load_fmalloc("abc", runtime = rt)
#' y[1] <- "z"          # a copy: the stored vector is unchanged
#' load_fmalloc("abc", runtime = rt)
#' cleanup_fmalloc(rt)
#' unlink(f)
#' @export
load_fmalloc <- function(name, runtime = NULL, writable = FALSE) {
  name <- fm_name(name)
  writable <- fm_flag(writable, "writable")
  runtime <- fm_runtime(runtime)
  rec <- fm_check(rfm_load_list_(runtime, name))
  if (!is.null(rec)) {
    l <- fm_load_list(rec, name, runtime, writable)
    blob <- fm_check(rfm_entry_attributes_(runtime, name))
    if (!is.null(blob)) attributes(l) <- unserialize(blob)
    return(l)
  }
  fm_check(rfm_load_(runtime, name, writable))
}

#' Remove a stored vector
#'
#' Removes `name` from the catalog and frees its space. Vectors R still
#' holds keep their data until they are garbage-collected.
#'
#' @param name The catalog name.
#' @param runtime A runtime, or `NULL` for the default one.
#' @return `TRUE`, invisibly.
#' @examples
#' f <- tempfile(fileext = ".heap")
#' rt <- open_fmalloc(f)
#' invisible(save_fmalloc(1:3, "x", runtime = rt))
#' remove_fmalloc("x", runtime = rt)
#' nrow(list_fmalloc_allocations(rt))
#' cleanup_fmalloc(rt)
#' unlink(f)
#' @export
remove_fmalloc <- function(name, runtime = NULL) {
  name <- fm_name(name)
  runtime <- fm_runtime(runtime)
  refs <- fm_check(rfm_referrers_(runtime, name))
  if (length(refs)) {
    stop(fm_condition("referenced", sprintf(
      "cannot remove '%s': it is an element of the stored list%s %s; remove or re-save %s first",
      name, if (length(refs) > 1L) "s" else "", paste0("'", refs, "'", collapse = ", "),
      if (length(refs) > 1L) "them" else "it"), sys.call()))
  }
  fm_remove_tree(name, runtime)
  invisible(TRUE)
}

#' Is this an Rfmalloc vector?
#'
#' `TRUE` when the data of `x` live in a heap file, also when R has wrapped
#' the vector (e.g. after an attribute change).
#'
#' @param x Any R object.
#' @return `TRUE` or `FALSE`.
#' @examples
#' f <- tempfile(fileext = ".heap")
#' rt <- open_fmalloc(f)
#' x <- create_fmalloc_vector("integer", 3, runtime = rt)
#' is_fmalloc(x)
#' is_fmalloc(1:3)
#' cleanup_fmalloc(rt)
#' unlink(f)
#' @export
is_fmalloc <- function(x) rfm_is_(x)

#' An ordinary in-memory copy
#'
#' Copies an Rfmalloc vector, with its attributes, into an ordinary R vector.
#' Anything else is returned unchanged.
#'
#' @param x A vector.
#' @return An ordinary R vector equal to `x`.
#' @examples
#' f <- tempfile(fileext = ".heap")
#' rt <- open_fmalloc(f)
#' x <- save_fmalloc(c(1, 2, 3), "x", runtime = rt)
#' m <- materialize_fmalloc(x)
#' is_fmalloc(m)
#' identical(m, c(1, 2, 3))
#' cleanup_fmalloc(rt)
#' unlink(f)
#' @export
materialize_fmalloc <- function(x) {
  if (!is_fmalloc(x)) return(x)
  rfm_materialize_(x)
}

#' What a heap file holds
#'
#' One row per catalog entry (durable), then one per transient or unnamed
#' allocation this session's vectors hold.
#'
#' @param runtime A runtime, or `NULL` for the default one.
#' @return A data frame with columns `name`, `type`, `length`, `bytes`,
#'   `shape` (class and dims from the stored attributes, e.g. `"matrix 2x3"`,
#'   `"factor"`, `"data.frame 10x4"`), `status` (`"durable"`, `"transient"`
#'   or `"scratch"`) and `created`.
#' @examples
#' f <- tempfile(fileext = ".heap")
#' rt <- open_fmalloc(f)
#' invisible(save_fmalloc(1:10, "ten", runtime = rt))
#' list_fmalloc_allocations(rt)
#' cleanup_fmalloc(rt)
#' unlink(f)
#' @export
list_fmalloc_allocations <- function(runtime = NULL) {
  runtime <- fm_runtime(runtime)
  l <- fm_check(rfm_list_(runtime))
  small <- function(v) if (all(is.na(v) | v <= .Machine$integer.max)) as.integer(v) else v
  shape <- vapply(seq_along(l$name), function(i) {
    if (l$status[i] != "durable" || l$type[i] == "unknown") return("")
    blob <- rfm_entry_attributes_(runtime, l$name[i])
    if (is.null(blob) || inherits(blob, "rfmalloc_failure")) return("")
    a <- tryCatch(unserialize(blob), error = function(e) NULL)
    fm_shape_summary(a, l$length[i])
  }, "")
  data.frame(
    name = l$name, type = l$type, length = small(l$length), bytes = small(l$bytes),
    shape = shape, status = l$status,
    created = as.POSIXct(l$created, origin = "1970-01-01"),
    stringsAsFactors = FALSE
  )
}

# "matrix 2x3", "factor", "data.frame 3x2", "" from stored attributes.
fm_shape_summary <- function(a, length) {
  if (!is.list(a)) return("")
  parts <- character(0)
  cls <- a$class
  dim <- a$dim
  if (!is.null(cls)) parts <- paste(cls, collapse = "/")
  if (!is.null(dim)) {
    if (is.null(cls)) parts <- if (length(dim) == 2L) "matrix" else "array"
    parts <- c(parts, paste(dim, collapse = "x"))
  } else if (identical(cls, "data.frame")) {
    rn <- a$row.names
    nr <- if (is.integer(rn) && length(rn) == 2L && is.na(rn[1L])) abs(rn[2L]) else length(rn)
    parts <- c(parts, paste0(nr, "x", length))
  }
  paste(parts, collapse = " ")
}
