# R/structures.R: create_fmalloc_matrix/array, as_fmalloc_matrix/array
# (views without copying for Rfmalloc vectors), create_fmalloc_data_frame
# and as_fmalloc_data_frame.
#
# SPDX-License-Identifier: GPL-2.0-or-later

test_that("create_fmalloc_matrix makes a zero matrix whose writes and shape are stored", {
  rt <- local_runtime()
  m <- create_fmalloc_matrix("double", 2, 3, runtime = rt, name = "m", dimnames = list(c("a", "b"), NULL))
  zero <- materialize_fmalloc(m)
  # Write before any expectation: testthat keeps references to the objects
  # it checks, after which R copies on write.
  m[, 2] <- c(1, 2)
  m["b", 3] <- -1
  expect_identical(zero, matrix(0, 2, 3, dimnames = list(c("a", "b"), NULL)))
  expect_true(is.matrix(m))
  expect_true(is_fmalloc(m))
  want <- matrix(c(0, 0, 1, 2, 0, -1), 2, dimnames = list(c("a", "b"), NULL))
  expect_identical(m, want)
  expect_identical(load_fmalloc("m", runtime = rt), want)
  expect_identical(m %*% t(m), want %*% t(want))
  expect_identical(apply(m, 1, sum), apply(want, 1, sum))
  expect_identical(t(m), t(want))
  for (type in c("logical", "integer", "complex", "raw", "character")) {
    x <- create_fmalloc_matrix(type, 2, 2, runtime = rt)
    expect_identical(typeof(x), type)
    expect_identical(dim(x), c(2L, 2L))
  }
})

test_that("create_fmalloc_array stores dim and dimnames with a generated or given name", {
  rt <- local_runtime()
  a <- create_fmalloc_array("integer", c(2, 2, 2), runtime = rt, name = "a",
                            dimnames = list(c("x", "y"), NULL, c("p", "q")))
  a[1, 2, "q"] <- 5L
  want <- array(0L, c(2, 2, 2), dimnames = list(c("x", "y"), NULL, c("p", "q")))
  want[1, 2, 2] <- 5L
  expect_identical(a, want)
  expect_identical(load_fmalloc("a", runtime = rt), want)
  anon <- create_fmalloc_array("double", 4, runtime = rt)
  l <- list_fmalloc_allocations(rt)
  expect_identical(l$shape[l$name == "a"], "array 2x2x2")
  generated <- l$name[startsWith(l$name, ".anon/")]
  expect_identical(dim(load_fmalloc(generated, runtime = rt)), 4L)
  z <- create_fmalloc_array("double", c(0, 3), runtime = rt)
  expect_identical(dim(z), c(0L, 3L))
})

test_that("bad shapes are fmrt_error_invalid", {
  rt <- local_runtime()
  expect_fm_error(create_fmalloc_matrix("double", -1, 2, runtime = rt), "invalid", "dim")
  expect_fm_error(create_fmalloc_matrix("double", 1.5, 2, runtime = rt), "invalid")
  expect_fm_error(create_fmalloc_matrix("double", c(1, 2), 2, runtime = rt), "invalid")
  expect_fm_error(create_fmalloc_matrix("double", 2, 2, dimnames = list("a"), runtime = rt), "invalid", "dimnames")
  expect_fm_error(create_fmalloc_matrix("double", 2, 2, dimnames = list(c("a", "b", "c"), NULL), runtime = rt),
                  "invalid", "dimnames")
  expect_fm_error(create_fmalloc_matrix("list", 2, 2, runtime = rt), "invalid", "lists")
  expect_fm_error(create_fmalloc_matrix("foo", 2, 2, runtime = rt), "invalid", "type")
  expect_fm_error(create_fmalloc_array("double", c(2, NA), runtime = rt), "invalid")
  expect_fm_error(create_fmalloc_array("double", numeric(), runtime = rt), "invalid")
  expect_fm_error(create_fmalloc_array("double", c(1e10, 1e10), runtime = rt), "invalid")
  expect_fm_error(as_fmalloc_matrix(1:6, nrow = 4, runtime = rt), "invalid", "do not match")
  expect_fm_error(as_fmalloc_array(list(1, 2), runtime = rt), "type")
  expect_identical(nrow(list_fmalloc_allocations(rt)), 0L)
})

test_that("as_fmalloc_matrix of an Rfmalloc vector is a view: same data, no copy, source unchanged", {
  rt <- local_runtime()
  v <- save_fmalloc(as.double(1:6), "v", runtime = rt)
  before <- heap_info(rt)$in_use_bytes
  m <- as_fmalloc_matrix(v, nrow = 2)
  expect_identical(m, matrix(as.double(1:6), 2))
  expect_true(is_fmalloc(m))
  expect_identical(heap_info(rt)$in_use_bytes, before)
  expect_null(dim(v))
  expect_null(dim(load_fmalloc("v", runtime = rt)))
  m2 <- as_fmalloc_matrix(v, ncol = 2, dimnames = list(NULL, c("a", "b")))
  expect_identical(m2, matrix(as.double(1:6), ncol = 2, dimnames = list(NULL, c("a", "b"))))
  a <- as_fmalloc_array(v, dim = c(1, 2, 3))
  expect_identical(a, array(as.double(1:6), c(1, 2, 3)))
  # The view is read-only: assigning copies.
  m[1, 1] <- 100
  expect_identical(m[1, 1], 100)
  expect_identical(load_fmalloc("v", runtime = rt), as.double(1:6))
  expect_identical(v, as.double(1:6))
  # A view of a created vector sees later writes to it.
  w <- create_fmalloc_vector("integer", 4, runtime = rt, name = "w")
  mw <- as_fmalloc_matrix(w, nrow = 2)
  w[4] <- 4L
  expect_identical(mw[2, 2], 4L)
})

test_that("as_fmalloc_matrix/array of an ordinary vector copies it into the file with the shape", {
  rt <- local_runtime()
  om <- as_fmalloc_matrix(1:6, ncol = 2, runtime = rt, name = "om")
  expect_identical(om, matrix(1:6, ncol = 2))
  expect_true(is_fmalloc(om))
  expect_identical(load_fmalloc("om", runtime = rt), matrix(1:6, ncol = 2))
  keep <- matrix(c("a", "b", "c", "d"), 2, dimnames = list(c("r", "s"), c("x", "y")))
  expect_identical(as_fmalloc_matrix(keep, runtime = rt, name = "keep"), keep)
  expect_identical(load_fmalloc("keep", runtime = rt), keep)
  col <- as_fmalloc_matrix(c(a = 1, b = 2), runtime = rt)
  expect_identical(col, matrix(c(1, 2), ncol = 1))
  arr <- as_fmalloc_array(1:8, dim = c(2, 2, 2), runtime = rt, name = "arr")
  expect_identical(load_fmalloc("arr", runtime = rt), array(1:8, c(2, 2, 2)))
  expect_fm_error(as_fmalloc_matrix(1:4, runtime = rt, name = "om"), "exists")
})

test_that("create_fmalloc_data_frame stores every column and the frame", {
  rt <- local_runtime()
  d <- create_fmalloc_data_frame(id = 1:3, who = c("ann", "bob", "cy"), runtime = rt, name = "people")
  want <- data.frame(id = 1:3, who = c("ann", "bob", "cy"))
  expect_identical(d, want)
  expect_true(all(vapply(d, is_fmalloc, TRUE)))
  expect_identical(load_fmalloc("people", runtime = rt), want)
  expect_identical(d[d$id > 1, ], want[want$id > 1, ])
  expect_identical(materialize_fmalloc(d$who), c("ann", "bob", "cy"))
  f <- create_fmalloc_data_frame(g = c("u", "v"), stringsAsFactors = TRUE, row.names = c("a", "b"), runtime = rt)
  expect_identical(f, data.frame(g = c("u", "v"), stringsAsFactors = TRUE, row.names = c("a", "b")))
  # Rfmalloc columns of the same runtime are referenced, not copied.
  x <- save_fmalloc(c(1.5, 2.5), "x", runtime = rt)
  invisible(create_fmalloc_data_frame(x = x, runtime = rt, name = "dx"))
  expect_fm_error(remove_fmalloc("x", runtime = rt), "referenced", "'dx'")
  expect_fm_error(create_fmalloc_data_frame(a = 1:2, b = 1:3, runtime = rt), "invalid", "data frame")
  expect_fm_error(create_fmalloc_data_frame(id = 1, runtime = rt, name = "people"), "exists")
})

test_that("as_fmalloc_data_frame stores a data frame or a list of columns", {
  rt <- local_runtime()
  df <- data.frame(a = 1:2, b = c("x", "y"))
  d1 <- as_fmalloc_data_frame(df, runtime = rt, name = "d1")
  expect_identical(d1, df)
  expect_identical(load_fmalloc("d1", runtime = rt), df)
  d2 <- as_fmalloc_data_frame(list(a = 1:2, b = c("x", "y")), runtime = rt, name = "d2")
  expect_identical(d2, df)
  expect_true(is_fmalloc(d2$b))
  expect_fm_error(as_fmalloc_data_frame(1:3, runtime = rt), "type")
})
