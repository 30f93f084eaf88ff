# R/runtime.R: open_fmalloc, init_fmalloc, cleanup_fmalloc, sync_fmalloc,
# print; and the lifetime of a runtime and its file around R's vectors.
#
# SPDX-License-Identifier: GPL-2.0-or-later

test_that("open_fmalloc creates the file and returns a runtime object", {
  f <- local_heap_path()
  rt <- local_runtime(f)
  expect_s3_class(rt, "fmalloc_runtime")
  expect_identical(typeof(rt), "externalptr")
  expect_true(file.exists(f))
  expect_gt(file.size(f), 0)
  out <- capture.output(print(rt))
  expect_match(out[1], "<fmalloc_runtime persistent: ", fixed = TRUE)
  expect_match(out[1], basename(f), fixed = TRUE)
  expect_match(out[2], "0 catalog entries; 0 live vectors")
  x <- save_fmalloc(1:10, "x", runtime = rt)
  expect_match(capture.output(print(rt))[2], "1 catalog entries; 1 live vectors")
  out <- capture.output(vis <- withVisible(print(rt)))
  expect_false(vis$visible)
  expect_identical(vis$value, rt)
})

test_that("size_gb bounds the file; the size is remembered by the file", {
  f <- local_heap_path()
  rt <- open_fmalloc(f, size_gb = 0.5)
  expect_identical(heap_info(rt)$max_bytes, 0.5 * 2^30)
  expect_match(capture.output(print(rt))[2], "at most 512.0 MiB")
  x <- create_fmalloc_vector("double", 1e6, runtime = rt, name = "x")
  expect_fm_error(create_fmalloc_vector("double", 1e8, runtime = rt), "nomem")
  cleanup_fmalloc(rt)
  rm(x)
  gc()
  rt <- local_runtime(f)
  expect_identical(heap_info(rt)$max_bytes, 0.5 * 2^30)
  expect_length(load_fmalloc("x", runtime = rt), 1e6)
})

test_that("opening a path already open returns the same runtime", {
  f <- local_heap_path()
  rt <- local_runtime(f)
  expect_identical(open_fmalloc(f), rt)
  expect_identical(open_fmalloc(file.path(dirname(f), ".", basename(f))), rt)
})

test_that("init_fmalloc returns TRUE and sets the default runtime; cleanup_fmalloc() closes it", {
  f <- local_heap_path()
  expect_identical(local_default_runtime(f), TRUE)
  x <- save_fmalloc(c(2.5, NA), "x")
  expect_identical(load_fmalloc("x"), c(2.5, NA))
  expect_invisible(res <- cleanup_fmalloc())
  expect_true(res)
  expect_false(cleanup_fmalloc())
  expect_fm_error(load_fmalloc("x"), "closed")
  expect_identical(x, c(2.5, NA))
  # init again on the same path once R lets go of the vector.
  rm(x)
  gc()
  expect_true(init_fmalloc(f))
  expect_identical(load_fmalloc("x"), c(2.5, NA))
})

test_that("init_fmalloc passes its arguments to open_fmalloc", {
  f <- local_heap_path()
  rt <- open_fmalloc(f)
  invisible(save_fmalloc(7L, "seven", runtime = rt))
  cleanup_fmalloc(rt)
  gc()
  expect_true(local_default_runtime(f, readonly = TRUE))
  expect_identical(load_fmalloc("seven"), 7L)
  expect_fm_error(save_fmalloc(1L, "one"), "readonly")
})

test_that("init_fmalloc on a second file switches the default; the first stays open through its object", {
  f1 <- local_heap_path()
  f2 <- local_heap_path()
  rt1 <- local_runtime(f1)
  invisible(save_fmalloc(1, "in1", runtime = rt1))
  withr::defer(cleanup_fmalloc())
  init_fmalloc(f1)
  invisible(save_fmalloc(2, "in1b"))
  init_fmalloc(f2)
  invisible(save_fmalloc(3, "in2"))
  expect_identical(list_fmalloc_allocations()$name, "in2")
  expect_identical(sort(list_fmalloc_allocations(rt1)$name), c("in1", "in1b"))
})

test_that("cleanup_fmalloc while vectors are alive: they stay readable and writable, the file keeps the writes", {
  f <- local_heap_path()
  rt <- open_fmalloc(f)
  v <- create_fmalloc_vector("integer", 100, runtime = rt, name = "v")
  s <- create_fmalloc_vector("character", 3, runtime = rt, name = "s")
  d <- save_fmalloc(c(a = 1.5), "d", runtime = rt)
  expect_true(cleanup_fmalloc(rt))
  # Runtime functions refuse the closed runtime.
  expect_fm_error(load_fmalloc("v", runtime = rt), "closed")
  expect_fm_error(create_fmalloc_vector("integer", 1, runtime = rt), "closed")
  expect_fm_error(list_fmalloc_allocations(rt), "closed")
  expect_output(print(rt), "closed")
  # The vectors still work.
  v[5] <- 5L
  s[2] <- "after cleanup"
  expect_identical(v[1:6], c(0L, 0L, 0L, 0L, 5L, 0L))
  expect_identical(s, c("", "after cleanup", ""))
  expect_identical(d, c(a = 1.5))
  expect_identical(sum(v), 5L)
  # While they live the file is still held read-write.
  expect_fm_error(open_fmalloc(f), "busy")
  rm(v, s, d)
  gc()
  # Now the file is closed (cleanly): it reopens read-write and has the writes.
  expect_heap_verifies(f, clean = TRUE)
  rt <- local_runtime(f)
  expect_identical(load_fmalloc("v", runtime = rt)[1:6], c(0L, 0L, 0L, 0L, 5L, 0L))
  expect_identical(load_fmalloc("s", runtime = rt), c("", "after cleanup", ""))
  expect_identical(load_fmalloc("d", runtime = rt), c(a = 1.5))
})

test_that("a runtime object dropped by R closes the file once its vectors are gone", {
  f <- local_heap_path()
  local({
    rt <- open_fmalloc(f)
    invisible(save_fmalloc(1:5, "x", runtime = rt))
  })
  gc()
  rt <- local_runtime(f)
  expect_identical(load_fmalloc("x", runtime = rt), 1:5)
})

test_that("a vector keeps its runtime open after the runtime object is dropped", {
  f <- local_heap_path()
  x <- local({
    rt <- open_fmalloc(f)
    create_fmalloc_vector("double", 3, runtime = rt, name = "x")
  })
  gc()
  x[2] <- 2
  expect_identical(x, c(0, 2, 0))
  # The vector holds the runtime object: opening the path again finds it.
  again <- open_fmalloc(f)
  expect_match(capture.output(print(again))[2], "1 live vectors")
  expect_identical(load_fmalloc("x", runtime = again), c(0, 2, 0))
  cleanup_fmalloc(again)
  expect_fm_error(open_fmalloc(f), "busy")
  rm(x)
  gc()
  rt <- local_runtime(f)
  expect_identical(load_fmalloc("x", runtime = rt), c(0, 2, 0))
})

test_that("two runtimes are open at once with independent catalogs", {
  rt1 <- local_runtime()
  rt2 <- local_runtime()
  a1 <- save_fmalloc(1:3, "a", runtime = rt1)
  a2 <- save_fmalloc(c("x", "y"), "a", runtime = rt2)
  b2 <- create_fmalloc_vector("double", 2, runtime = rt2, name = "b")
  expect_identical(load_fmalloc("a", runtime = rt1), 1:3)
  expect_identical(load_fmalloc("a", runtime = rt2), c("x", "y"))
  expect_fm_error(load_fmalloc("b", runtime = rt1), "notfound")
  expect_identical(c(a1, 4L), 1:4)
  expect_identical(paste(a2, collapse = ""), "xy")
  cleanup_fmalloc(rt1)
  expect_identical(load_fmalloc("b", runtime = rt2), c(0, 0))
  expect_identical(a1, 1:3)
})

test_that("a scratch runtime works without names and leaves no file behind", {
  d <- tempfile()
  dir.create(d)
  withr::defer(unlink(d, recursive = TRUE))
  sc <- open_fmalloc(d, mode = "scratch")
  expect_match(capture.output(print(sc))[1], "scratch")
  expect_identical(dir(d, all.files = TRUE, no.. = TRUE), character())
  x <- create_fmalloc_vector("double", 1e5, runtime = sc)
  x[1e5] <- 3
  expect_identical(sum(x), 3)
  s <- create_fmalloc_vector("character", 2, runtime = sc)
  s[1] <- "scratch"
  expect_identical(s, c("scratch", ""))
  l <- list_fmalloc_allocations(sc)
  expect_identical(nrow(l), 2L)
  expect_true(all(is.na(l$name)))
  expect_true(all(l$status != "durable"))
  expect_identical(dir(d, all.files = TRUE, no.. = TRUE), character())
  cleanup_fmalloc(sc)
  expect_identical(x[1e5], 3)
  rm(x, s)
  gc()
  expect_identical(dir(d, all.files = TRUE, no.. = TRUE), character())
})

test_that("scratch runtimes in the temporary directory are separate", {
  s1 <- open_fmalloc(NULL, mode = "scratch")
  s2 <- open_fmalloc(NULL, mode = "scratch")
  withr::defer({
    cleanup_fmalloc(s1)
    cleanup_fmalloc(s2)
  })
  expect_false(identical(s1, s2))
  a <- save_fmalloc(1:3, "a", runtime = s1)
  expect_fm_error(load_fmalloc("a", runtime = s2), "notfound")
  expect_identical(load_fmalloc("a", runtime = s1), 1:3)
})

test_that("sync_fmalloc returns TRUE invisibly and makes writes visible to another process", {
  f <- local_heap_path()
  rt <- local_runtime(f)
  x <- create_fmalloc_vector("double", 4, runtime = rt, name = "x")
  x[] <- c(1, 2, 3, 4)
  expect_invisible(res <- sync_fmalloc(rt))
  expect_true(res)
  # A second process cannot open it read-write while we hold it.
  got <- in_child(function(f) {
    library(Rfmalloc)
    tryCatch(open_fmalloc(f), error = function(e) class(e)[1])
  }, list(f))
  expect_identical(got, "fmrt_error_busy")
})

test_that("R exits cleanly with live vectors and the file reopens with their data", {
  f <- local_heap_path()
  skip_if_not_installed("callr")
  p <- callr::r_bg(
    function(f) {
      library(Rfmalloc)
      rt <- open_fmalloc(f)
      x <- create_fmalloc_vector("integer", 1000, runtime = rt, name = "x")
      x[] <- 1:1000
      s <- save_fmalloc(c("live", NA), "s", runtime = rt)
      options(rfmalloc.transient_threshold = 0)
      t <- x[1:500]
      invisible(NULL) # no cleanup: R exits with x, s, t alive
    },
    args = list(f = f), libpath = .libPaths(), package = FALSE
  )
  p$wait(30000)
  expect_identical(p$get_exit_status(), 0L)
  expect_identical(p$read_all_error(), "")
  expect_heap_verifies(f, clean = TRUE)
  rt <- local_runtime(f)
  expect_identical(load_fmalloc("x", runtime = rt), 1:1000)
  expect_identical(load_fmalloc("s", runtime = rt), c("live", NA))
  expect_identical(heap_info(rt)$transient_allocations, 0)
  expect_identical(sort(list_fmalloc_allocations(rt)$name), c("s", "x"))
  expect_identical(unique(list_fmalloc_allocations(rt)$status), "durable")
})

test_that("copy_fmalloc_runtime backs up an open runtime; the copy has every stored vector", {
  f <- local_heap_path()
  backup <- local_heap_path()
  rt <- local_runtime(f)
  x <- save_fmalloc(c(1.5, NA, -3), "x", runtime = rt)
  s <- save_fmalloc(c("a", NA, "\u00e9t\u00e9"), "s", runtime = rt)
  m <- create_fmalloc_matrix("integer", 2, 3, runtime = rt, name = "m")
  m[2, 3] <- 7L
  anon <- create_fmalloc_vector("double", 10, runtime = rt)  # stored under a .anon/ name
  big <- save_fmalloc(as.double(1:3e5), "big", runtime = rt)
  part <- big[1:2e5]  # a transient copy in the same file (1.6 MB)
  transients <- heap_info(rt)$transient_allocations
  expect_gte(transients, 1)
  expect_identical(copy_fmalloc_runtime(backup, rt), backup)
  expect_true(file.exists(backup))
  # The original goes on, and what it does later is not in the copy.
  y <- save_fmalloc(1:3, "y", runtime = rt)
  expect_identical(load_fmalloc("x", runtime = rt), c(1.5, NA, -3))

  expect_identical(in_child(function(path) {
    library(Rfmalloc)
    rt <- open_fmalloc(path)
    out <- list(names = sort(sub("^[.]anon/.*", ".anon", list_fmalloc_allocations(rt)$name)),
                transients = c(Rfmalloc:::rfm_stats_(rt)$transient_allocations),
                x = load_fmalloc("x", runtime = rt)[], s = load_fmalloc("s", runtime = rt)[],
                m = load_fmalloc("m", runtime = rt)[, ])
    cleanup_fmalloc(rt)
    out
  }, list(backup)), list(names = sort(c(".anon" , "big", "m", "s", "x")), transients = 0,
                         x = c(1.5, NA, -3), s = c("a", NA, "\u00e9t\u00e9"),
                         m = matrix(c(0L, 0L, 0L, 0L, 0L, 7L), 2, 3)))
})

test_that("copy_fmalloc_runtime never replaces a file and checks its arguments", {
  f <- local_heap_path()
  rt <- local_runtime(f)
  taken <- local_heap_path()
  writeLines("precious", taken)
  expect_fm_error(copy_fmalloc_runtime(taken, rt), "exists")
  expect_identical(readLines(taken), "precious")
  expect_fm_error(copy_fmalloc_runtime(file.path(tempdir(), "no", "such", "dir.heap"), rt), "io")
  expect_fm_error(copy_fmalloc_runtime(NA_character_, rt), "invalid")
  expect_fm_error(copy_fmalloc_runtime(c("a", "b"), rt), "invalid")
  expect_fm_error(copy_fmalloc_runtime(tempfile(), list()), "invalid")
  cleanup_fmalloc(rt)
  expect_fm_error(copy_fmalloc_runtime(tempfile(), rt), "closed")
})
