# Value semantics: stored data change only through a vector the user asked
# to write (a created vector held once, or load_fmalloc(writable = TRUE));
# arithmetic on loaded vectors, copies and subassignment on copies never
# reach the file.
#
# SPDX-License-Identifier: GPL-2.0-or-later

test_that("arithmetic and subassignment on loaded vectors leave the stored vector unchanged", {
  for (threshold in c(0, 1048576)) {
    withr::local_options(rfmalloc.transient_threshold = threshold)
    f <- local_heap_path()
    rt <- local_runtime(f)
    orig <- as.double(1:1e5)
    invisible(save_fmalloc(orig, "a", runtime = rt))
    r1 <- load_fmalloc("a", runtime = rt) + 1
    r2 <- -load_fmalloc("a", runtime = rt)
    r3 <- sqrt(load_fmalloc("a", runtime = rt))
    r4 <- load_fmalloc("a", runtime = rt) * 2L
    r5 <- exp(load_fmalloc("a", runtime = rt) / 1e5)
    expect_identical(r1, orig + 1)
    expect_identical(r2, -orig)
    expect_identical(r3, sqrt(orig))
    expect_identical(r4, orig * 2L)
    expect_identical(r5, exp(orig / 1e5))
    y <- load_fmalloc("a", runtime = rt)
    y[1] <- 0
    y[[2]] <- -1
    y[1e5 + 1] <- 7 # growing copies too
    expect_identical(y[1:3], c(0, -1, 3))
    expect_length(y, 1e5 + 1)
    z <- load_fmalloc("a", runtime = rt)
    names(z) <- NULL
    attr(z, "tag") <- "t"
    z[3] <- 99
    expect_identical(load_fmalloc("a", runtime = rt), orig, label = paste("threshold", threshold))
    expect_null(attributes(load_fmalloc("a", runtime = rt)))
  }
})

test_that("every type's stored values survive operations on loaded copies, also for a new process", {
  f <- local_heap_path()
  rt <- local_runtime(f)
  withr::local_options(rfmalloc.transient_threshold = 0)
  vals <- list(
    i = c(5L, -3L, NA), d = c(0.5, NA, -2), l = c(TRUE, FALSE, NA),
    c = c(1i, 2 + 0i, NA), r = as.raw(1:3), s = c("p", NA, "r")
  )
  for (nm in names(vals)) invisible(save_fmalloc(vals[[nm]], nm, runtime = rt))
  i <- load_fmalloc("i", runtime = rt); i[1] <- 0L
  d <- load_fmalloc("d", runtime = rt); d[1] <- 0
  l <- load_fmalloc("l", runtime = rt); l[1] <- NA
  cx <- load_fmalloc("c", runtime = rt); cx[1] <- 0i
  r <- load_fmalloc("r", runtime = rt); r[1] <- as.raw(0)
  s <- load_fmalloc("s", runtime = rt); s[1] <- "changed"
  expect_identical(list(i, d, l, cx, r, s), list(
    c(0L, -3L, NA), c(0, NA, -2), c(NA, FALSE, NA), c(0i, 2 + 0i, NA), as.raw(c(0, 2, 3)),
    c("changed", NA, "r")
  ))
  neg <- -load_fmalloc("i", runtime = rt)
  nott <- !load_fmalloc("l", runtime = rt)
  up <- toupper(load_fmalloc("s", runtime = rt))
  for (nm in names(vals)) {
    expect_identical(load_fmalloc(nm, runtime = rt), vals[[nm]], label = nm)
  }
  sync_fmalloc(rt)
  cleanup_fmalloc(rt)
  rm(i, d, l, cx, r, s, neg, nott, up)
  gc()
  got <- in_child(function(f, names) {
    library(Rfmalloc)
    rt <- open_fmalloc(f, readonly = TRUE)
    lapply(setNames(names, names), function(nm) materialize_fmalloc(load_fmalloc(nm, runtime = rt)))
  }, list(f = f, names = names(vals)))
  expect_identical(got, vals)
})

test_that("a created vector held in one binding writes into the file; a second binding copies", {
  f <- local_heap_path()
  rt <- local_runtime(f)
  for (threshold in c(0, 1048576)) {
    withr::local_options(rfmalloc.transient_threshold = threshold)
    nm <- paste0("x", threshold)
    x <- create_fmalloc_vector("double", 100, runtime = rt, name = nm)
    x[1] <- 1
    x[100] <- 100
    expect_identical(load_fmalloc(nm, runtime = rt)[c(1, 2, 100)], c(1, 0, 100))
    y <- x
    y[1] <- 9
    expect_identical(y[1], 9)
    expect_identical(x[1], 1)
    expect_identical(load_fmalloc(nm, runtime = rt)[1], 1)
    expect_true(is_fmalloc(x))
    expect_identical(is_fmalloc(y), threshold == 0)
  }
})

test_that("writes through a created vector reach a new process", {
  f <- local_heap_path()
  rt <- open_fmalloc(f)
  x <- create_fmalloc_vector("integer", 10, runtime = rt, name = "x")
  x[3:4] <- c(30L, 40L)
  cx <- create_fmalloc_vector("complex", 2, runtime = rt, name = "cx")
  cx[2] <- -1i
  s <- create_fmalloc_vector("character", 3, runtime = rt, name = "s")
  s[2] <- "new"
  s[3] <- NA
  sync_fmalloc(rt)
  cleanup_fmalloc(rt)
  rm(x, cx, s)
  gc()
  got <- in_child(function(f) {
    library(Rfmalloc)
    rt <- open_fmalloc(f)
    list(x = load_fmalloc("x", runtime = rt)[], cx = load_fmalloc("cx", runtime = rt)[],
         s = materialize_fmalloc(load_fmalloc("s", runtime = rt)))
  }, list(f = f))
  expect_identical(got, list(x = c(0L, 0L, 30L, 40L, rep(0L, 6)), cx = c(0i, -1i), s = c("", "new", NA)))
})

test_that("many growing string assignments (blob rebuilds) persist across processes", {
  f <- local_heap_path()
  rt <- open_fmalloc(f)
  s <- create_fmalloc_vector("character", 20, runtime = rt, name = "grow")
  want <- rep("", 20)
  for (i in 1:400) {
    k <- (i * 7) %% 20 + 1
    v <- if (i %% 50 == 0) NA_character_ else paste0(strrep("\u00e9", i %/% 10), i)
    s[k] <- v
    want[k] <- v
  }
  expect_identical(s, want)
  expect_true(is_fmalloc(s))
  expect_identical(load_fmalloc("grow", runtime = rt), want)
  # Rebuilds replace the allocation: the catalog still has one entry and
  # the file does not keep every old blob.
  expect_identical(list_fmalloc_allocations(rt)$name, "grow")
  expect_lt(heap_info(rt)$in_use_bytes, 1e6)
  cleanup_fmalloc(rt)
  rm(s)
  gc()
  expect_heap_verifies(f, clean = TRUE)
  got <- in_child(function(f) {
    library(Rfmalloc)
    rt <- open_fmalloc(f)
    materialize_fmalloc(load_fmalloc("grow", runtime = rt))
  }, list(f = f))
  expect_identical(got, want)
})

test_that("load_fmalloc(writable = TRUE): y[1] <- 0 changes the file", {
  f <- local_heap_path()
  rt <- local_runtime(f)
  invisible(save_fmalloc(c(1, 2, 3), "a", runtime = rt))
  invisible(save_fmalloc(c("a", "b", "c"), "s", runtime = rt))
  y <- load_fmalloc("a", runtime = rt, writable = TRUE)
  y[1] <- 0
  expect_true(is_fmalloc(y))
  expect_identical(load_fmalloc("a", runtime = rt), c(0, 2, 3))
  s <- load_fmalloc("s", runtime = rt, writable = TRUE)
  s[2] <- "new"
  expect_identical(load_fmalloc("s", runtime = rt), c("a", "new", "c"))
  sync_fmalloc(rt)
  cleanup_fmalloc(rt)
  rm(y, s)
  gc()
  got <- in_child(function(f) {
    library(Rfmalloc)
    rt <- open_fmalloc(f, readonly = TRUE)
    list(materialize_fmalloc(load_fmalloc("a", runtime = rt)), materialize_fmalloc(load_fmalloc("s", runtime = rt)))
  }, list(f = f))
  expect_identical(got, list(c(0, 2, 3), c("a", "new", "c")))
})

test_that("load_fmalloc(writable = TRUE) writes vectors stored with attributes", {
  rt <- local_runtime()
  invisible(save_fmalloc(c(p = 1L, q = 2L), "named", runtime = rt))
  invisible(save_fmalloc(matrix(1:4, 2), "m", runtime = rt))
  n <- load_fmalloc("named", runtime = rt, writable = TRUE)
  n[2] <- 20L # by position: a character subscript makes R duplicate an ALTREP vector
  expect_identical(load_fmalloc("named", runtime = rt), c(p = 1L, q = 20L))
  m <- load_fmalloc("m", runtime = rt, writable = TRUE)
  m[1, 1] <- 9L
  expect_identical(load_fmalloc("m", runtime = rt), matrix(c(9L, 2L, 3L, 4L), 2))
})

test_that("load_fmalloc(writable = TRUE) vectors are still copied by a second binding", {
  rt <- local_runtime()
  invisible(save_fmalloc(c(1, 2, 3), "a", runtime = rt))
  y <- load_fmalloc("a", runtime = rt, writable = TRUE)
  z <- y
  z[1] <- 100
  expect_identical(z, c(100, 2, 3))
  expect_identical(load_fmalloc("a", runtime = rt), c(1, 2, 3))
})

test_that("save_fmalloc returns a vector whose changes never reach the stored data", {
  rt <- local_runtime()
  x <- save_fmalloc(c(1L, 2L), "x", runtime = rt)
  x[1] <- 10L
  expect_identical(x, c(10L, 2L))
  expect_identical(load_fmalloc("x", runtime = rt), c(1L, 2L))
  s <- save_fmalloc(c("a", "b"), "s", runtime = rt)
  s[2] <- "z"
  expect_identical(load_fmalloc("s", runtime = rt), c("a", "b"))
})

test_that("functions that modify in place in base R's C code leave loaded data alone", {
  rt <- local_runtime()
  withr::local_options(rfmalloc.transient_threshold = 0)
  invisible(save_fmalloc(c(3, 1, 2), "v", runtime = rt))
  invisible(save_fmalloc(c("b", "a"), "s", runtime = rt))
  v <- load_fmalloc("v", runtime = rt)
  expect_identical(sort(v), c(1, 2, 3))
  expect_identical(rev(v), c(2, 1, 3))
  expect_identical(replace(v, 1, 0), c(0, 1, 2))
  expect_identical(`[<-`(v, 2, 5), c(3, 5, 2))
  expect_identical(append(v, 4, 1), c(3, 4, 1, 2))
  expect_identical(rev(load_fmalloc("s", runtime = rt)), c("a", "b"))
  expect_identical(load_fmalloc("v", runtime = rt), c(3, 1, 2))
  expect_identical(load_fmalloc("s", runtime = rt), c("b", "a"))
})
