# R/errors.R and misuse: every bad input gives a classed condition
# c("fmrt_error_<kind>", "fmrt_error", "error", "condition") and leaves the
# session and the files usable.
#
# SPDX-License-Identifier: GPL-2.0-or-later

test_that("an unknown type is fmrt_error_invalid naming the type", {
  rt <- local_runtime()
  expect_fm_error(create_fmalloc_vector("foo", 3, runtime = rt), "invalid", "'foo'")
  expect_fm_error(create_fmalloc_vector("data.frame", 3, runtime = rt), "invalid", "unknown type")
  expect_fm_error(create_fmalloc_vector("Integer", 3, runtime = rt), "invalid", "unknown type")
  expect_fm_error(create_fmalloc_vector(NA_character_, 3, runtime = rt), "invalid")
  expect_fm_error(create_fmalloc_vector(c("integer", "double"), 3, runtime = rt), "invalid")
  expect_fm_error(create_fmalloc_vector(13L, 3, runtime = rt), "invalid")
  expect_identical(nrow(list_fmalloc_allocations(rt)), 0L)
})

test_that("a bad length is fmrt_error_invalid", {
  rt <- local_runtime()
  expect_fm_error(create_fmalloc_vector("integer", -1, runtime = rt), "invalid", "negative")
  expect_fm_error(create_fmalloc_vector("integer", NA, runtime = rt), "invalid")
  expect_fm_error(create_fmalloc_vector("integer", NA_real_, runtime = rt), "invalid")
  expect_fm_error(create_fmalloc_vector("integer", 1.5, runtime = rt), "invalid", "whole")
  expect_fm_error(create_fmalloc_vector("integer", 1e20, runtime = rt), "invalid", "larger")
  expect_fm_error(create_fmalloc_vector("integer", Inf, runtime = rt), "invalid")
  expect_fm_error(create_fmalloc_vector("integer", "3", runtime = rt), "invalid")
  expect_fm_error(create_fmalloc_vector("integer", c(1, 2), runtime = rt), "invalid")
  expect_fm_error(create_fmalloc_vector("integer", NULL, runtime = rt), "invalid")
  expect_fm_error(create_fmalloc_vector("integer", TRUE, runtime = rt), "invalid")
  expect_identical(nrow(list_fmalloc_allocations(rt)), 0L)
})

test_that("a length the file cannot hold is fmrt_error_nomem and the runtime stays usable", {
  rt <- local_runtime(size_gb = 0.01)
  expect_fm_error(create_fmalloc_vector("double", 1e15, runtime = rt), "nomem")
  expect_fm_error(create_fmalloc_vector("double", 1e8, runtime = rt, name = "big"), "nomem")
  expect_fm_error(create_fmalloc_vector("character", 1e8, runtime = rt), "nomem")
  expect_fm_error(load_fmalloc("big", runtime = rt), "notfound")
  x <- create_fmalloc_vector("double", 10, runtime = rt, name = "small")
  x[10] <- 1
  expect_identical(load_fmalloc("small", runtime = rt), c(rep(0, 9), 1))
  expect_identical(list_fmalloc_allocations(rt)$name, "small")
})

test_that("other bad arguments are fmrt_error_invalid", {
  rt <- local_runtime()
  invisible(save_fmalloc(1, "x", runtime = rt))
  expect_fm_error(create_fmalloc_vector("integer", 2, runtime = rt, zero_initialize = NA), "invalid")
  expect_fm_error(create_fmalloc_vector("integer", 2, runtime = rt, name = ""), "invalid")
  expect_fm_error(create_fmalloc_vector("integer", 2, runtime = rt, name = 1), "invalid")
  expect_fm_error(save_fmalloc(1, "", runtime = rt), "invalid")
  expect_fm_error(save_fmalloc(1, NA_character_, runtime = rt), "invalid")
  expect_fm_error(save_fmalloc(1, c("a", "b"), runtime = rt), "invalid")
  expect_fm_error(save_fmalloc(1, strrep("a", 4097), runtime = rt), "invalid", "4096")
  expect_fm_error(save_fmalloc(1, "y", runtime = rt, overwrite = "yes"), "invalid")
  expect_fm_error(load_fmalloc(c("x", "x"), runtime = rt), "invalid")
  expect_fm_error(load_fmalloc("x", runtime = rt, writable = NA), "invalid")
  expect_fm_error(remove_fmalloc(character(), runtime = rt), "invalid")
  expect_fm_error(open_fmalloc(NULL), "invalid")
  expect_fm_error(open_fmalloc(""), "invalid")
  expect_fm_error(open_fmalloc(c("a", "b")), "invalid")
  expect_fm_error(open_fmalloc(local_heap_path(), size_gb = -1), "invalid", "size_gb")
  expect_fm_error(open_fmalloc(local_heap_path(), size_gb = NA), "invalid", "size_gb")
  expect_fm_error(open_fmalloc(local_heap_path(), size_gb = "1"), "invalid", "size_gb")
  expect_fm_error(open_fmalloc(local_heap_path(), readonly = NA), "invalid")
  expect_fm_error(open_fmalloc(NULL, mode = "scratch", readonly = TRUE), "invalid", "read-only")
  expect_identical(list_fmalloc_allocations(rt)$name, "x")
})

test_that("an unknown mode is fmrt_error_invalid", {
  expect_fm_error(open_fmalloc(local_heap_path(), mode = "zzz"), "invalid")
})

test_that("a directory is not a heap file", {
  d <- tempfile()
  dir.create(d)
  withr::defer(unlink(d, recursive = TRUE))
  expect_fm_error(open_fmalloc(d), "invalid", "directory")
  expect_fm_error(init_fmalloc(d), "invalid", "directory")
  expect_fm_error(open_fmalloc(d, readonly = TRUE), "invalid", "directory")
  expect_identical(dir(d, all.files = TRUE, no.. = TRUE), character())
})

test_that("a path that cannot be created is a classed error naming the path", {
  plain <- tempfile()
  writeLines("not a directory", plain)
  withr::defer(unlink(plain))
  under_file <- file.path(plain, "x.heap")
  e <- expect_error(open_fmalloc(under_file), class = "fmrt_error")
  expect_identical(class(e), fm_classes("io"))
  expect_match(conditionMessage(e), under_file, fixed = TRUE)
  expect_identical(readLines(plain), "not a directory")
  expect_error(open_fmalloc("/proc/rfmalloc-test/x.heap"), class = "fmrt_error")
  expect_error(open_fmalloc(file.path(tempfile(), "missing-dir", "x.heap")), class = "fmrt_error")
})

test_that("a read-only open of a missing file is fmrt_error_notfound or io", {
  e <- expect_error(open_fmalloc(local_heap_path(), readonly = TRUE), class = "fmrt_error")
  expect_true(class(e)[1] %in% c("fmrt_error_notfound", "fmrt_error_io"))
})

test_that("a file that is not a heap is fmrt_error_format and is left byte-identical", {
  set.seed(42)
  junk <- local_heap_path()
  writeBin(as.raw(sample(0:255, 65536, replace = TRUE)), junk)
  before <- file_bytes(junk)
  expect_fm_error(open_fmalloc(junk), "format", "heap")
  expect_fm_error(open_fmalloc(junk, readonly = TRUE), "format")
  expect_fm_error(init_fmalloc(junk), "format")
  expect_identical(file_bytes(junk), before)

  text <- local_heap_path()
  writeLines(c("name,value", "a,1"), text)
  before <- file_bytes(text)
  expect_fm_error(open_fmalloc(text), "format")
  expect_identical(file_bytes(text), before)

  empty <- local_heap_path()
  file.create(empty)
  expect_fm_error(open_fmalloc(empty), "format", "empty")
  expect_fm_error(open_fmalloc(empty, readonly = TRUE), "format")
  expect_identical(file.size(empty), 0)
})

test_that("a read-only runtime never writes: loads copy on write, writes are fmrt_error_readonly", {
  f <- local_heap_path()
  rt <- open_fmalloc(f)
  invisible(save_fmalloc(c(1L, 2L, 3L), "a", runtime = rt))
  invisible(save_fmalloc(c("x", "y"), "s", runtime = rt))
  invisible(save_fmalloc(as.double(1:2e5), "big", runtime = rt))
  cleanup_fmalloc(rt)
  gc()
  before <- file_bytes(f)

  ro <- local_runtime(f, readonly = TRUE)
  expect_output(print(ro), "read-only")
  withr::local_options(rfmalloc.transient_threshold = 0)
  y <- load_fmalloc("a", runtime = ro)
  y[1] <- 0L
  expect_identical(y, c(0L, 2L, 3L))
  expect_false(is_fmalloc(y)) # the copy is an ordinary vector
  expect_identical(load_fmalloc("a", runtime = ro), c(1L, 2L, 3L))
  s <- load_fmalloc("s", runtime = ro)
  s[1] <- "z"
  expect_identical(s, c("z", "y"))
  expect_identical(load_fmalloc("s", runtime = ro), c("x", "y"))
  b <- load_fmalloc("big", runtime = ro)
  expect_identical(sum(b + 1), sum(as.double(1:2e5) + 1))
  sub <- b[2:3]
  expect_identical(sub, c(2, 3))
  expect_false(is_fmalloc(sub))

  expect_fm_error(load_fmalloc("a", runtime = ro, writable = TRUE), "readonly", "'a'")
  expect_fm_error(create_fmalloc_vector("integer", 3, runtime = ro), "readonly")
  expect_fm_error(create_fmalloc_vector("integer", 3, runtime = ro, name = "n"), "readonly")
  expect_fm_error(save_fmalloc(1, "b", runtime = ro), "readonly")
  expect_fm_error(save_fmalloc(1, "a", runtime = ro, overwrite = TRUE), "readonly")
  expect_fm_error(remove_fmalloc("a", runtime = ro), "readonly")
  expect_fm_error(remove_fmalloc("nope", runtime = ro), "readonly")
  expect_true(sync_fmalloc(ro))
  # A second read-only open shares the runtime; a read-write open is refused.
  expect_identical(open_fmalloc(f, readonly = TRUE), ro)
  expect_fm_error(open_fmalloc(f), "busy")
  expect_identical(sort(list_fmalloc_allocations(ro)$name), c("a", "big", "s"))
  cleanup_fmalloc(ro)
  rm(y, s, b, sub)
  gc()
  expect_identical(file_bytes(f), before)
})

test_that("a closed runtime is fmrt_error_closed for everything but cleanup and print", {
  f <- local_heap_path()
  rt <- open_fmalloc(f)
  x <- save_fmalloc(1:3, "x", runtime = rt)
  expect_true(cleanup_fmalloc(rt))
  expect_fm_error(create_fmalloc_vector("integer", 3, runtime = rt), "closed")
  expect_fm_error(save_fmalloc(1, "y", runtime = rt), "closed")
  expect_fm_error(load_fmalloc("x", runtime = rt), "closed")
  expect_fm_error(remove_fmalloc("x", runtime = rt), "closed")
  expect_fm_error(list_fmalloc_allocations(rt), "closed")
  expect_fm_error(sync_fmalloc(rt), "closed")
  expect_false(cleanup_fmalloc(rt))
  expect_output(print(rt), "closed")
  expect_identical(x, 1:3)
})

test_that("no default runtime is fmrt_error_closed", {
  cleanup_fmalloc()
  expect_false(cleanup_fmalloc())
  expect_fm_error(create_fmalloc_vector("integer", 3), "closed", "init_fmalloc")
  expect_fm_error(save_fmalloc(1, "x"), "closed")
  expect_fm_error(load_fmalloc("x"), "closed")
  expect_fm_error(remove_fmalloc("x"), "closed")
  expect_fm_error(list_fmalloc_allocations(), "closed")
  expect_fm_error(sync_fmalloc(), "closed")
})

test_that("unknown names are fmrt_error_notfound and duplicates fmrt_error_exists", {
  rt <- local_runtime()
  expect_fm_error(load_fmalloc("nope", runtime = rt), "notfound", "'nope'")
  expect_fm_error(remove_fmalloc("nope", runtime = rt), "notfound", "'nope'")
  invisible(save_fmalloc(1:3, "a", runtime = rt))
  expect_fm_error(save_fmalloc(4:6, "a", runtime = rt), "exists", "'a'")
  expect_fm_error(create_fmalloc_vector("double", 2, runtime = rt, name = "a"), "exists", "'a'")
  expect_identical(load_fmalloc("a", runtime = rt), 1:3)
  expect_identical(save_fmalloc(4:6, "a", runtime = rt, overwrite = TRUE), 4:6)
  expect_identical(load_fmalloc("a", runtime = rt), 4:6)
  l <- list_fmalloc_allocations(rt)
  expect_identical(l$name[l$status == "durable"], "a")
})

test_that("runtime objects from elsewhere are refused with a classed error", {
  rt <- local_runtime()
  # A runtime object saved and read back: its pointer is gone.
  rds <- tempfile(fileext = ".rds")
  withr::defer(unlink(rds))
  saveRDS(rt, rds)
  stale <- readRDS(rds)
  expect_fm_error(create_fmalloc_vector("integer", 3, runtime = stale), "closed")
  expect_fm_error(load_fmalloc("x", runtime = stale), "closed")
  expect_fm_error(list_fmalloc_allocations(stale), "closed")
  expect_fm_error(sync_fmalloc(stale), "closed")
  expect_output(print(stale), "closed")
  expect_false(cleanup_fmalloc(stale))
  # A random external pointer dressed as a runtime.
  ep <- new("externalptr")
  class(ep) <- "fmalloc_runtime"
  expect_fm_error(create_fmalloc_vector("integer", 3, runtime = ep), "invalid", "not an Rfmalloc runtime")
  expect_fm_error(list_fmalloc_allocations(ep), "invalid")
  expect_output(print(ep), "closed")
  # A list with the class, a string, a number.
  fake <- structure(list(path = "x"), class = "fmalloc_runtime")
  expect_fm_error(create_fmalloc_vector("integer", 3, runtime = fake), "invalid")
  expect_fm_error(save_fmalloc(1, "x", runtime = fake), "invalid")
  expect_fm_error(load_fmalloc("x", runtime = "rt"), "invalid")
  expect_fm_error(list_fmalloc_allocations(42), "invalid")
  expect_fm_error(sync_fmalloc(list()), "invalid")
  expect_fm_error(cleanup_fmalloc(fake), "invalid")
  # The real runtime is unaffected.
  expect_identical(save_fmalloc(1:2, "ok", runtime = rt), 1:2)
})

test_that("cleanup_fmalloc of a foreign external pointer is fmrt_error_invalid", {
  ep <- new("externalptr")
  class(ep) <- "fmalloc_runtime"
  expect_fm_error(cleanup_fmalloc(ep), "invalid")
})

test_that("saving something that is not a vector or a plain list is fmrt_error_type", {
  rt <- local_runtime()
  expect_fm_error(save_fmalloc(function(x) x, "f", runtime = rt), "type", "closure")
  expect_fm_error(save_fmalloc(NULL, "n", runtime = rt), "type", "NULL")
  expect_fm_error(save_fmalloc(quote(a + b), "q", runtime = rt), "type")
  expect_fm_error(save_fmalloc(as.name("a"), "s", runtime = rt), "type")
  expect_fm_error(save_fmalloc(structure(list(1), class = "myclass"), "cl", runtime = rt), "type", "list")
  expect_fm_error(save_fmalloc(new.env(), "e", runtime = rt), "type")
  expect_fm_error(save_fmalloc(rt, "rt", runtime = rt), "type")
  expect_identical(nrow(list_fmalloc_allocations(rt)), 0L)
})

test_that("a list with an element that cannot be stored is fmrt_error_type", {
  rt <- local_runtime()
  expect_fm_error(save_fmalloc(list(1, sum), "fl", runtime = rt), "type", "element 2")
  expect_fm_error(save_fmalloc(list(a = 1, b = list(new.env())), "nested", runtime = rt), "type")
  expect_fm_error(load_fmalloc("fl", runtime = rt), "notfound")
  expect_fm_error(load_fmalloc("nested", runtime = rt), "notfound")
})

test_that("a failed list save leaves nothing in the catalog", {
  rt <- local_runtime()
  try(save_fmalloc(list(1, sum), "fl", runtime = rt), silent = TRUE)
  try(save_fmalloc(list(a = 1, b = list(new.env())), "nested", runtime = rt), silent = TRUE)
  expect_identical(nrow(list_fmalloc_allocations(rt)), 0L)
})

test_that("errors carry the call of the exported function", {
  rt <- local_runtime()
  invisible(save_fmalloc(1, "a", runtime = rt))
  e <- expect_fm_error(create_fmalloc_vector("foo", 1, runtime = rt), "invalid")
  expect_identical(conditionCall(e)[[1]], as.name("create_fmalloc_vector"))
  e <- expect_fm_error(save_fmalloc(2, "a", runtime = rt), "exists")
  expect_identical(conditionCall(e)[[1]], as.name("save_fmalloc"))
})

test_that("load_fmalloc errors carry the call of load_fmalloc", {
  rt <- local_runtime()
  e <- expect_fm_error(load_fmalloc("nope", runtime = rt), "notfound")
  expect_identical(conditionCall(e)[[1]], as.name("load_fmalloc"))
})

test_that("tryCatch on the parent class fmrt_error catches every kind", {
  rt <- local_runtime()
  kinds <- vapply(list(
    quote(load_fmalloc("nope", runtime = rt)),
    quote(create_fmalloc_vector("foo", 1, runtime = rt)),
    quote(save_fmalloc(sum, "l", runtime = rt))
  ), function(ex) tryCatch(eval(ex), fmrt_error = function(e) class(e)[1]), "")
  expect_identical(kinds, c("fmrt_error_notfound", "fmrt_error_invalid", "fmrt_error_type"))
})

test_that("stored attributes that do not fit the vector are fmrt_error_format, set all or nothing", {
  rt <- local_runtime()
  invisible(save_fmalloc(1:6, "v", runtime = rt))
  bad <- serialize(list(names = letters[1:6], dim = c(4L, 4L)), NULL, version = 3L)
  Rfmalloc:::rfm_put_attributes_(rt, "v", bad)
  expect_fm_error(load_fmalloc("v", runtime = rt), "format", "attributes")
  Rfmalloc:::rfm_put_attributes_(rt, "v", as.raw(c(0x58, 0x0a, 1:20)))
  expect_fm_error(load_fmalloc("v", runtime = rt), "format", "attributes")
})

test_that("a user finalizer touching a vector at exit does not crash R", {
  res <- callr::r(function() {
    library(Rfmalloc)
    f <- tempfile(fileext = ".heap")
    rt <- open_fmalloc(f)
    e <- new.env()
    reg.finalizer(e, function(e) try(sum(x), silent = TRUE), onexit = TRUE)
    x <- save_fmalloc(1:10, "x", runtime = rt)
    "done"
  }, libpath = .libPaths())
  expect_identical(res, "done")
})
