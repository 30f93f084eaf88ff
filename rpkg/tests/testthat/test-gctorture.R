# Under gctorture (a garbage collection at every allocation) the glue's
# protection of R objects holds: create, save, load, subset, coercion and
# string writes on short vectors give the right values.  Kept to a few calls:
# each takes about a second under torture.
#
# SPDX-License-Identifier: GPL-2.0-or-later

test_that("create, save, load, subset and string writes are right under gctorture", {
  rt <- local_runtime()
  withr::local_options(rfmalloc.transient_threshold = 0)
  withr::defer(gctorture(FALSE))
  gctorture(TRUE)
  x <- create_fmalloc_vector("integer", 4, runtime = rt, name = "g")
  x[2] <- 5L
  s <- save_fmalloc(c("p", NA, "\u00e9"), "gs", runtime = rt)
  invisible(save_fmalloc(c(a = 1.5, b = NA, c = -Inf), "gd", runtime = rt))
  l <- load_fmalloc("gd", runtime = rt)
  sub <- l[c(3, 1, 9)]
  w <- create_fmalloc_vector("character", 2, runtime = rt)
  w[1] <- "tortured"
  co <- as.double(x)
  gctorture(FALSE)
  expect_identical(x, c(0L, 5L, 0L, 0L))
  expect_identical(load_fmalloc("g", runtime = rt), c(0L, 5L, 0L, 0L))
  expect_identical(s, c("p", NA, "\u00e9"))
  expect_identical(load_fmalloc("gs", runtime = rt), c("p", NA, "\u00e9"))
  expect_identical(l, c(a = 1.5, b = NA, c = -Inf))
  expect_identical(sub, c(a = 1.5, b = NA, c = -Inf)[c(3, 1, 9)])
  expect_true(is_fmalloc(sub))
  expect_identical(w, c("tortured", ""))
  expect_identical(co, c(0, 5, 0, 0))
  expect_true(is_fmalloc(co))
})
