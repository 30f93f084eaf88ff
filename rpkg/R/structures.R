# Matrices, arrays and data frames of Rfmalloc vectors.
#
# A matrix or array is one stored vector with dim (and dimnames) among its
# stored attributes; a data frame is a stored list whose columns are stored
# vectors. Reshaping an Rfmalloc vector makes a new R object over the same
# file data (no copy), leaving what other references see unchanged.
#
# SPDX-License-Identifier: GPL-2.0-or-later

fm_dim <- function(dim, call = sys.call(-1)) {
  if (!is.numeric(dim) || !length(dim) || anyNA(dim) || any(dim < 0) || any(dim != floor(dim)) ||
      any(dim > .Machine$integer.max)) {
    fm_invalid("'dim' must be a vector of non-negative whole numbers", call)
  }
  if (prod(dim) > 4503599627370496) fm_invalid("the array has more elements than R allows", call)
  as.integer(dim)
}

fm_check_dimnames <- function(dimnames, dim, call = sys.call(-1)) {
  if (is.null(dimnames)) return(NULL)
  if (!is.list(dimnames) || length(dimnames) != length(dim)) {
    fm_invalid(sprintf("'dimnames' must be a list of length %d", length(dim)), call)
  }
  for (k in seq_along(dim)) {
    d <- dimnames[[k]]
    if (!is.null(d) && length(d) != dim[k]) {
      fm_invalid(sprintf("length of 'dimnames' [%d] (%d) does not match the extent %d", k, length(d), dim[k]), call)
    }
  }
  lapply(dimnames, function(d) if (is.null(d)) NULL else as.character(d))
}

# Sets dim/dimnames on v in place (no copy) and, for a named entry, stores
# them with it.
fm_shape <- function(v, dim, dimnames, store) {
  attrs <- list(dim = dim)
  if (!is.null(dimnames)) attrs$dimnames <- dimnames
  rfm_set_attributes_(v, attrs)
  info <- rfm_vector_info_(v)
  if (store && !is.null(info) && !is.na(info$name)) {
    fm_check(rfm_put_attributes_(rfm_runtime_of_(v), info$name, serialize(attrs, NULL, version = 3L)), NULL)
  }
  v
}

#' Create a matrix or an array in a heap file
#'
#' As [create_fmalloc_vector()], with `dim` (and `dimnames`) set on the
#' vector and stored with it, so [load_fmalloc()] gives the matrix back.
#' The result is a base R matrix or array (`is.matrix()`, `m[i, j]`, `t()`,
#' `%*%`, `apply()` work as usual) whose data live in the file.
#'
#' @inheritParams create_fmalloc_vector
#' @param nrow,ncol The extents of a matrix.
#' @param dim The extents of an array.
#' @param dimnames `NULL` or a list with one entry (`NULL` or names) per
#'   extent.
#' @return A matrix or array whose data are an Rfmalloc vector.
#' @examples
#' f <- tempfile(fileext = ".heap")
#' rt <- open_fmalloc(f)
#' m <- create_fmalloc_matrix("double", 2, 3, runtime = rt, name = "m",
#'                            dimnames = list(c("a", "b"), NULL))
#' m[, 2] <- c(1, 2)
#' m %*% t(m)
#' a <- create_fmalloc_array("integer", c(2, 2, 2), runtime = rt)
#' dim(a)
#' cleanup_fmalloc(rt)
#' unlink(f)
#' @export
create_fmalloc_matrix <- function(type, nrow, ncol, dimnames = NULL, runtime = NULL,
                                  zero_initialize = TRUE, name = NULL) {
  dim <- fm_dim(c(nrow, ncol))
  if (length(dim) != 2L) fm_invalid("'nrow' and 'ncol' must be single numbers")
  create_fmalloc_array(type, dim, dimnames, runtime, zero_initialize, name)
}

#' @rdname create_fmalloc_matrix
#' @export
create_fmalloc_array <- function(type, dim, dimnames = NULL, runtime = NULL,
                                 zero_initialize = TRUE, name = NULL) {
  dim <- fm_dim(dim)
  dimnames <- fm_check_dimnames(dimnames, dim)
  if (identical(type, "list")) fm_invalid("matrices and arrays of lists are not supported")
  v <- create_fmalloc_vector(type, prod(dim), runtime, zero_initialize, name)
  fm_shape(v, dim, dimnames, TRUE)
}

#' Give data in a heap file the shape of a matrix, an array or a data frame
#'
#' An ordinary R object is copied into the file (under `name`, or a
#' generated name) with its new shape. An Rfmalloc vector gets the new shape
#' without copying its data: the result is a new R object over the same
#' file data with its own attributes, so the attributes other references see
#' are unchanged. It is read-only (assigning into it makes a copy, as for a
#' loaded vector), but it shows the file's data: writes made in place through
#' a writable reference to the same vector are seen through it.
#'
#' @param x A vector (ordinary or Rfmalloc); for `as_fmalloc_data_frame()` a
#'   data frame or a list of columns.
#' @param nrow,ncol Extents; by default a one-column matrix, or computed
#'   from the other extent as [matrix()] does.
#' @param dim The extents of an array (default: `dim(x)`, else `length(x)`).
#' @param dimnames `NULL` or a list of names per extent.
#' @param runtime A runtime, or `NULL` for the default one (or, for an
#'   Rfmalloc `x`, its own).
#' @param name The catalog name for a copy; `NULL` for a generated one.
#' @param ... For `as_fmalloc_data_frame()`: passed to
#'   [create_fmalloc_data_frame()].
#' @return A matrix, array or data frame whose data live in the file.
#' @examples
#' f <- tempfile(fileext = ".heap")
#' rt <- open_fmalloc(f)
#' v <- save_fmalloc(as.double(1:6), "v", runtime = rt)
#' m <- as_fmalloc_matrix(v, nrow = 2)   # no copy
#' m
#' dim(v)                                # v itself is unchanged
#' d <- as_fmalloc_data_frame(data.frame(a = 1:2, b = c("x", "y")), runtime = rt)
#' d
#' cleanup_fmalloc(rt)
#' unlink(f)
#' @export
as_fmalloc_matrix <- function(x, nrow = NULL, ncol = NULL, dimnames = NULL, runtime = NULL,
                              name = NULL) {
  n <- length(x)
  if (is.null(nrow) && is.null(ncol) && length(dim(x)) == 2L) {
    return(as_fmalloc_array(x, dim(x), if (is.null(dimnames)) base::dimnames(x) else dimnames, runtime, name))
  }
  if (is.null(nrow) && is.null(ncol)) {
    nrow <- n
    ncol <- 1
  } else if (is.null(nrow)) {
    nrow <- if (ncol > 0) ceiling(n / ncol) else 0
  } else if (is.null(ncol)) {
    ncol <- if (nrow > 0) ceiling(n / nrow) else 0
  }
  dim <- fm_dim(c(nrow, ncol))
  if (length(dim) != 2L) fm_invalid("'nrow' and 'ncol' must be single numbers")
  as_fmalloc_array(x, dim, dimnames, runtime, name)
}

#' @rdname as_fmalloc_matrix
#' @export
as_fmalloc_array <- function(x, dim = NULL, dimnames = NULL, runtime = NULL, name = NULL) {
  if (is.null(dim)) {
    dim <- if (is.null(base::dim(x))) length(x) else base::dim(x)
    if (is.null(dimnames)) dimnames <- base::dimnames(x)
  }
  dim <- fm_dim(dim)
  dimnames <- fm_check_dimnames(dimnames, dim)
  if (!is.atomic(x) || is.null(x)) {
    stop(fm_condition("type", sprintf("cannot make a matrix or array of an object of type '%s'", typeof(x)),
      sys.call()))
  }
  if (prod(dim) != length(x)) {
    fm_invalid(sprintf("the dims [product %.0f] do not match the length of the data [%.0f]",
      prod(dim), length(x)))
  }
  if (is_fmalloc(x)) {
    v <- rfm_view_(x)
    return(fm_shape(v, dim, dimnames, FALSE))
  }
  runtime <- fm_runtime(runtime)
  if (is.null(name)) name <- rfm_generated_name_() else name <- fm_name(name)
  y <- as.vector(x)
  if (is.factor(x)) y <- x
  attributes(y) <- c(attributes(y)[setdiff(names(attributes(y)), c("dim", "dimnames", "names"))],
    list(dim = dim), if (!is.null(dimnames)) list(dimnames = dimnames))
  save_fmalloc(y, name, runtime)
}

#' Create a data frame whose columns live in a heap file
#'
#' Builds the data frame as [data.frame()] does, then stores every column in
#' the file (columns given as ordinary R vectors are copied in; Rfmalloc
#' columns of the same runtime are referenced, not copied) and the frame
#' itself as a list under `name`, so [load_fmalloc()] gives it back whole.
#'
#' @param ... Columns, as for [data.frame()].
#' @param row.names,check.names,stringsAsFactors As for [data.frame()].
#' @param runtime A runtime, or `NULL` for the default one.
#' @param name The catalog name; `NULL` for a generated one.
#' @return A data frame of Rfmalloc columns.
#' @examples
#' f <- tempfile(fileext = ".heap")
#' rt <- open_fmalloc(f)
#' d <- create_fmalloc_data_frame(id = 1:3, who = c("ann", "bob", "cy"),
#'                                runtime = rt, name = "people")
#' d[d$id > 1, ]
#' identical(materialize_fmalloc(d$who), c("ann", "bob", "cy"))
#' cleanup_fmalloc(rt)
#' unlink(f)
#' @export
create_fmalloc_data_frame <- function(..., row.names = NULL, check.names = TRUE,
                                      stringsAsFactors = FALSE, runtime = NULL, name = NULL) {
  runtime <- fm_runtime(runtime)
  if (is.null(name)) name <- rfm_generated_name_() else name <- fm_name(name)
  df <- tryCatch(
    data.frame(..., row.names = row.names, check.names = check.names,
      stringsAsFactors = stringsAsFactors),
    error = function(e) fm_invalid(paste("cannot make a data frame:", conditionMessage(e)), NULL))
  save_fmalloc(df, name, runtime)
}

#' @rdname as_fmalloc_matrix
#' @export
as_fmalloc_data_frame <- function(x, runtime = NULL, name = NULL, ...) {
  if (!is.list(x)) {
    stop(fm_condition("type", "'x' must be a data frame or a list of columns", sys.call()))
  }
  if (is.data.frame(x)) {
    runtime <- fm_runtime(runtime)
    if (is.null(name)) name <- rfm_generated_name_() else name <- fm_name(name)
    return(save_fmalloc(x, name, runtime))
  }
  do.call(create_fmalloc_data_frame, c(x, list(runtime = runtime, name = name, ...)))
}
