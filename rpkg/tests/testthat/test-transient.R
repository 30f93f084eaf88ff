# Temporaries: copies R makes of Rfmalloc vectors (subsets, duplicates,
# coercions) become transient allocations in the file from
# getOption("rfmalloc.transient_threshold") bytes on; they equal base R's
# results, never enter the catalog, are freed with R's garbage collector and
# are reclaimed when a process dies holding them.
#
# SPDX-License-Identifier: GPL-2.0-or-later

fixed <- list(
  logical = c(TRUE, NA, FALSE, TRUE),
  integer = c(10L, NA, -30L, 40L),
  double = c(1.5, NaN, -Inf, -0),
  complex = c(1i, NA, 2 + 2i, complex(real = NaN, imaginary = 1)),
  raw = as.raw(c(1, 2, 254, 255))
)

indices <- list(
  int = c(1L, 4L, 2L, 2L), dbl = c(4, 1, 3.9, 2), na_int = c(1L, NA, 3L), na_dbl = c(NA, 2, NA),
  out = c(5, 100, 1), zero = c(0, 2, 0), neg = -c(1, 3), lgl = c(TRUE, FALSE), lgl_na = c(NA, TRUE, FALSE, TRUE),
  lgl_long = c(TRUE, FALSE, TRUE, FALSE, TRUE, TRUE), empty = integer(), huge = c(3e9, 1),
  all = TRUE
)

transient_rows <- function(rt) {
  l <- list_fmalloc_allocations(rt)
  l[l$status == "transient", ]
}

test_that("subsets equal base R's, out-of-range and NA indices included, at threshold 0", {
  withr::local_options(rfmalloc.transient_threshold = 0)
  rt <- local_runtime()
  for (type in names(fixed)) {
    orig <- fixed[[type]]
    x <- save_fmalloc(orig, type, runtime = rt)
    for (ix in names(indices)) {
      i <- indices[[ix]]
      expect_identical(x[i], orig[i], label = paste(type, ix))
    }
    y <- x[c(2, 1, 5)]
    expect_true(is_fmalloc(y))
    expect_identical(y, orig[c(2, 1, 5)])
    expect_identical(x[[3]], orig[[3]])
  }
  durable <- list_fmalloc_allocations(rt)
  expect_setequal(durable$name[durable$status == "durable"], names(fixed))
  expect_true(all(is.na(durable$name[durable$status != "durable"])))
})

test_that("subsets keep names, and character subsets are right", {
  withr::local_options(rfmalloc.transient_threshold = 0)
  rt <- local_runtime()
  named <- c(a = 1, b = 2, c = NA)
  x <- save_fmalloc(named, "n", runtime = rt)
  expect_identical(x[c("c", "a", "zz")], named[c("c", "a", "zz")])
  expect_identical(x[c(3, 1, 7)], named[c(3, 1, 7)])
  expect_identical(x[-2], named[-2])
  s <- c(p = "x", q = NA, r = "\u00e9")
  fs <- save_fmalloc(s, "s", runtime = rt)
  for (ix in list(c(3, 1, 9), c(NA, 2), -1, c(TRUE, NA), c("r", "nope"))) {
    expect_identical(fs[ix], s[ix])
  }
  m <- matrix(c(1.5, 2, 3, 4), 2)
  fm <- save_fmalloc(m, "m", runtime = rt)
  expect_identical(fm[2, ], m[2, ])
  expect_identical(fm[, 2, drop = FALSE], m[, 2, drop = FALSE])
  expect_identical(fm[cbind(c(1, 2), c(2, 1))], m[cbind(c(1, 2), c(2, 1))])
})

test_that("transient copies are listed as transient, never named, and freed by gc", {
  withr::local_options(rfmalloc.transient_threshold = 0)
  f <- local_heap_path()
  rt <- local_runtime(f)
  x <- save_fmalloc(c(10L, 20L, 30L, 40L), "x", runtime = rt)
  lg <- save_fmalloc(c(TRUE, NA), "lg", runtime = rt)
  before <- heap_info(rt)
  sub <- x[c(4, 1)]
  dup <- x
  dup[2] <- 99L # duplicates into the file
  dbl <- as.double(x) # coercion
  dbl_l <- as.numeric(lg)
  expect_identical(sub, c(40L, 10L))
  expect_identical(dup, c(10L, 99L, 30L, 40L))
  expect_identical(x, c(10L, 20L, 30L, 40L))
  expect_identical(dbl, c(10, 20, 30, 40))
  expect_identical(dbl_l, c(1, NA))
  for (v in list(sub, dup, dbl, dbl_l)) expect_true(is_fmalloc(v))
  tr <- transient_rows(rt)
  expect_identical(nrow(tr), 4L)
  expect_true(all(is.na(tr$name)))
  expect_setequal(paste(tr$type, tr$length), c("integer 2", "integer 4", "double 4", "double 2"))
  expect_identical(heap_info(rt)$transient_allocations, before$transient_allocations + 4)
  expect_setequal(list_fmalloc_allocations(rt)$name[list_fmalloc_allocations(rt)$status == "durable"], c("x", "lg"))
  # Transients are not found by name, and sync does not make them durable.
  sync_fmalloc(rt)
  expect_identical(heap_info(rt)$catalog_entries, 2)
  rm(sub, dup, dbl, dbl_l, v)
  gc()
  expect_identical(nrow(transient_rows(rt)), 0L)
  expect_identical(heap_info(rt)$transient_allocations, before$transient_allocations)
  expect_identical(heap_info(rt)$in_use_bytes, before$in_use_bytes)
})

test_that("transient copies are writable and behave as ordinary vectors", {
  withr::local_options(rfmalloc.transient_threshold = 0)
  rt <- local_runtime()
  x <- save_fmalloc(as.double(1:10), "x", runtime = rt)
  y <- x[1:5]
  y[2] <- -2
  y[6] <- 6 # grows: R makes an ordinary vector
  expect_identical(y, c(1, -2, 3, 4, 5, 6))
  z <- x[3:4]
  z <- z * 10
  expect_identical(z, c(30, 40))
  expect_identical(load_fmalloc("x", runtime = rt), as.double(1:10))
})

test_that("the threshold decides which copies go into the file", {
  rt <- local_runtime()
  x <- save_fmalloc(as.double(1:1000), "x", runtime = rt)
  i <- save_fmalloc(1:1000, "i", runtime = rt)
  withr::local_options(rfmalloc.transient_threshold = 1000)
  small <- x[1:100] # 800 bytes
  large <- x[1:200] # 1600 bytes
  expect_false(is_fmalloc(small))
  expect_true(is_fmalloc(large))
  expect_identical(small, as.double(1:100))
  expect_identical(large, as.double(1:200))
  expect_false(is_fmalloc(as.double(i[1:100]))) # an ordinary subset, then an ordinary coercion
  expect_true(is_fmalloc(as.double(i)))
  expect_identical(as.double(i), as.double(1:1000))
  # The default (option unset): 1 MiB.
  withr::local_options(rfmalloc.transient_threshold = NULL)
  expect_false(is_fmalloc(x[1:1000]))
  big <- save_fmalloc(as.double(1:2e5), "big", runtime = rt)
  expect_true(is_fmalloc(big[1:2e5])) # 1.6 MB
  expect_false(is_fmalloc(big[1:1e5])) # 0.8 MB
  # Bad option values fall back to the default.
  for (bad in list("0", -1, NA, c(0, 0))) {
    withr::local_options(rfmalloc.transient_threshold = bad)
    expect_false(is_fmalloc(x[1:1000]))
    expect_true(is_fmalloc(big[1:2e5]))
  }
})

test_that("repeated large subsets do not grow the file without bound", {
  f <- local_heap_path()
  rt <- local_runtime(f)
  x <- save_fmalloc(as.double(1:1e6), "x", runtime = rt)
  for (i in 1:200) y <- x[1:1e6] # 8 MB each, 1.6 GB in all
  expect_true(is_fmalloc(y))
  expect_identical(y[c(1, 1e6)], c(1, 1e6))
  expect_lt(file.size(f), 200 * 2^20)
  expect_lt(nrow(transient_rows(rt)), 25)
  rm(y)
  gc()
  expect_identical(nrow(transient_rows(rt)), 0L)
  cleanup_fmalloc(rt)
  rm(x)
  gc()
  expect_heap_verifies(f, clean = TRUE)
})

test_that("a closed or read-only runtime makes ordinary copies", {
  withr::local_options(rfmalloc.transient_threshold = 0)
  f <- local_heap_path()
  rt <- open_fmalloc(f)
  x <- save_fmalloc(c(1, 2, 3), "x", runtime = rt)
  cleanup_fmalloc(rt)
  y <- x[2:3]
  expect_false(is_fmalloc(y))
  expect_identical(y, c(2, 3))
  z <- x
  z[1] <- 0
  expect_false(is_fmalloc(z))
  expect_identical(x, c(1, 2, 3))
})

test_that("a process that dies holding transients leaves only durable allocations", {
  skip_if_not_installed("callr")
  f <- local_heap_path()
  p <- callr::r_bg(function(f) {
    library(Rfmalloc)
    rt <- open_fmalloc(f)
    x <- save_fmalloc(as.double(1:1e5), "a", runtime = rt)
    keep <- create_fmalloc_vector("integer", 10, runtime = rt, name = "keep")
    keep[1] <- 1L
    options(rfmalloc.transient_threshold = 0)
    y <- x[1:5e4]
    z <- as.double(keep)
    w <- x
    w[1] <- 0
    sync_fmalloc(rt)
    cat("ready\n")
    Sys.sleep(60)
  }, list(f = f), libpath = .libPaths(), package = FALSE, stdout = "|", stderr = "|")
  withr::defer(if (p$is_alive()) p$kill())
  p$poll_io(20000)
  expect_identical(p$read_output_lines(), "ready")
  p$kill()
  expect_false(p$is_alive())
  expect_heap_verifies(f, clean = FALSE)
  rt <- local_runtime(f)
  info <- heap_info(rt)
  expect_identical(info$transient_allocations, 0)
  expect_gte(info$reclaimed_at_open, 3)
  l <- list_fmalloc_allocations(rt)
  expect_setequal(l$name, c("a", "keep"))
  expect_identical(unique(l$status), "durable")
  expect_identical(load_fmalloc("a", runtime = rt), as.double(1:1e5))
  expect_identical(load_fmalloc("keep", runtime = rt), c(1L, rep(0L, 9)))
  # The reclaimed space is reused: the file does not grow for a new copy.
  size <- file.size(f)
  withr::local_options(rfmalloc.transient_threshold = 0)
  y <- load_fmalloc("a", runtime = rt)[1:5e4]
  expect_true(is_fmalloc(y))
  expect_identical(file.size(f), size)
})
