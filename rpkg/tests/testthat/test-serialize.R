# Serialization: a named vector of a persistent heap serializes as a small
# reference (heap identity, name, last path) that resolves in any process
# that has the heap open, or can open it from the path; everything else, and
# option rfmalloc.serialize = "value", serializes the data.
#
# SPDX-License-Identifier: GPL-2.0-or-later

# A heap in its own directory holding "a" = as.double(1:1e5), closed.
heap_with_a <- function(env = parent.frame()) {
  d <- tempfile("rfm-ser-")
  dir.create(d)
  withr::defer(unlink(d, recursive = TRUE), envir = env)
  f <- file.path(d, "h.heap")
  rt <- open_fmalloc(f)
  invisible(save_fmalloc(as.double(1:1e5), "a", runtime = rt))
  invisible(save_fmalloc(c(x = "p", y = NA), "s", runtime = rt))
  cleanup_fmalloc(rt)
  gc()
  list(dir = d, heap = f, rds = file.path(d, "ref.rds"))
}

test_that("saveRDS of a loaded vector writes a small reference that readRDS resolves here", {
  h <- heap_with_a()
  rt <- local_runtime(h$heap)
  saveRDS(load_fmalloc("a", runtime = rt), h$rds)
  expect_lt(file.size(h$rds), 1024)
  v <- readRDS(h$rds)
  expect_true(is_fmalloc(v))
  expect_identical(v, as.double(1:1e5))
  # Attributes travel with the reference.
  s <- load_fmalloc("s", runtime = rt)
  s2 <- unserialize(serialize(s, NULL))
  expect_true(is_fmalloc(s2))
  expect_identical(s2, c(x = "p", y = NA))
  expect_lt(length(serialize(load_fmalloc("a", runtime = rt), NULL)), 1024)
  # Created vectors (named, generated names too) serialize as references.
  cv <- create_fmalloc_vector("integer", 1e5, runtime = rt)
  cv[7] <- 7L
  ser <- serialize(cv, NULL)
  expect_lt(length(ser), 1024)
  back <- unserialize(ser)
  expect_identical(back[7], 7L)
  expect_true(is_fmalloc(back))
})

test_that("readRDS in a new process with the runtime open resolves the reference", {
  h <- heap_with_a()
  rt <- open_fmalloc(h$heap)
  saveRDS(load_fmalloc("a", runtime = rt), h$rds)
  cleanup_fmalloc(rt)
  gc()
  got <- in_child(function(f, rds) {
    library(Rfmalloc)
    rt <- open_fmalloc(f)
    v <- readRDS(rds)
    v2 <- v
    v2[1] <- -1 # a copy; the stored vector stays
    list(fm = is_fmalloc(v), sum = sum(v), first = v[1:3], stored = load_fmalloc("a", runtime = rt)[1])
  }, list(f = h$heap, rds = h$rds))
  expect_identical(got, list(fm = TRUE, sum = sum(as.double(1:1e5)), first = c(1, 2, 3), stored = 1))
})

test_that("readRDS with no runtime open opens the path read-only and resolves", {
  h <- heap_with_a()
  rt <- open_fmalloc(h$heap)
  saveRDS(load_fmalloc("a", runtime = rt), h$rds)
  cleanup_fmalloc(rt)
  gc()
  before <- file_bytes(h$heap)
  got <- in_child(function(f, rds) {
    library(Rfmalloc)
    v <- readRDS(rds)
    fm <- is_fmalloc(v)
    v[1] <- 0 # read-only: an ordinary copy
    list(fm = fm, head = v[1:3], sum = sum(v[-1]), copy_fm = is_fmalloc(v),
         rw = tryCatch({
           open_fmalloc(f)
           "opened"
         }, error = function(e) class(e)[1]))
  }, list(f = h$heap, rds = h$rds))
  expect_identical(got$fm, TRUE)
  expect_identical(got$head, c(0, 2, 3))
  expect_identical(got$sum, sum(as.double(2:1e5)))
  expect_false(got$copy_fm)
  # The reference's runtime holds the file read-only in that process.
  expect_identical(got$rw, "fmrt_error_busy")
  expect_identical(file_bytes(h$heap), before)
})

test_that("readRDS with no runtime open works even without attaching Rfmalloc", {
  h <- heap_with_a()
  rt <- open_fmalloc(h$heap)
  saveRDS(load_fmalloc("a", runtime = rt), h$rds)
  cleanup_fmalloc(rt)
  gc()
  got <- in_child(function(rds) {
    v <- readRDS(rds)
    list(sum = sum(v), fm = Rfmalloc::is_fmalloc(v))
  }, list(rds = h$rds))
  expect_identical(got, list(sum = sum(as.double(1:1e5)), fm = TRUE))
})

test_that("a moved heap resolves once opened at its new path; a missing one is a clear error", {
  h <- heap_with_a()
  rt <- open_fmalloc(h$heap)
  saveRDS(load_fmalloc("a", runtime = rt), h$rds)
  cleanup_fmalloc(rt)
  gc()
  moved <- file.path(h$dir, "moved.heap")
  expect_true(file.rename(h$heap, moved))
  got <- in_child(function(moved, rds) {
    library(Rfmalloc)
    unresolved <- tryCatch(readRDS(rds), error = function(e) list(class = class(e), message = conditionMessage(e)))
    rt <- open_fmalloc(moved)
    v <- readRDS(rds)
    list(unresolved = unresolved, fm = is_fmalloc(v), sum = sum(v))
  }, list(moved = moved, rds = h$rds))
  expect_identical(got$unresolved$class, fm_classes("unresolved"))
  expect_match(got$unresolved$message, "'a'", fixed = TRUE)
  expect_match(got$unresolved$message, "open_fmalloc")
  expect_identical(got$fm, TRUE)
  expect_identical(got$sum, sum(as.double(1:1e5)))

  # Deleted: the same clear error, here too.
  unlink(moved)
  e <- expect_error(readRDS(h$rds), class = "fmrt_error_unresolved")
  expect_identical(class(e), fm_classes("unresolved"))
  expect_match(conditionMessage(e), "'a'", fixed = TRUE)
})

test_that("a different heap at the reference's path does not resolve it", {
  h <- heap_with_a()
  rt <- open_fmalloc(h$heap)
  saveRDS(load_fmalloc("a", runtime = rt), h$rds)
  cleanup_fmalloc(rt)
  gc()
  unlink(h$heap)
  other <- open_fmalloc(h$heap)
  invisible(save_fmalloc(c(-1, -2), "a", runtime = other))
  cleanup_fmalloc(other)
  gc()
  e <- expect_error(readRDS(h$rds), class = "fmrt_error_unresolved")
  expect_match(conditionMessage(e), "different heap")
  # With the impostor open, still unresolved (matched by identity, not path).
  other <- local_runtime(h$heap)
  expect_error(readRDS(h$rds), class = "fmrt_error_unresolved")
})

test_that("option rfmalloc.serialize = 'value' serializes the data", {
  h <- heap_with_a()
  rt <- open_fmalloc(h$heap)
  withr::with_options(list(rfmalloc.serialize = "value"), {
    saveRDS(load_fmalloc("a", runtime = rt), h$rds, compress = FALSE)
  })
  cleanup_fmalloc(rt)
  gc()
  expect_gt(file.size(h$rds), 8e5)
  unlink(h$heap) # not needed to read it back
  got <- in_child(function(rds) {
    v <- readRDS(rds)
    list(v = v, loaded = "Rfmalloc" %in% loadedNamespaces())
  }, list(rds = h$rds))
  expect_identical(got$v, as.double(1:1e5))
  expect_false(got$loaded)
  v <- readRDS(h$rds)
  expect_false(is_fmalloc(v))
  expect_identical(v, as.double(1:1e5))
})

test_that("scratch, transient and removed vectors serialize by value", {
  rt <- local_runtime()
  sc <- local_runtime(NULL, mode = "scratch")
  s <- create_fmalloc_vector("double", 1e5, runtime = sc)
  s[] <- 2
  ser <- serialize(s, NULL)
  expect_gt(length(ser), 8e5)
  back <- unserialize(ser)
  expect_false(is_fmalloc(back))
  expect_identical(back, rep(2, 1e5))
  named_scratch <- save_fmalloc(as.double(1:1e5), "n", runtime = sc)
  expect_gt(length(serialize(named_scratch, NULL)), 8e5)

  withr::local_options(rfmalloc.transient_threshold = 0)
  x <- save_fmalloc(as.double(1:1e5), "x", runtime = rt)
  tr <- x[1:1e5]
  expect_true(is_fmalloc(tr))
  ser <- serialize(tr, NULL)
  expect_gt(length(ser), 8e5)
  expect_identical(unserialize(ser), as.double(1:1e5))
  ch <- save_fmalloc(c("a", NA, "\u00e9"), "ch", runtime = rt)
  chs <- ch[c(3, 1)]
  expect_identical(unserialize(serialize(chs, NULL)), c("\u00e9", "a"))

  remove_fmalloc("x", runtime = rt)
  ser <- serialize(x, NULL)
  expect_gt(length(ser), 8e5)
  expect_identical(unserialize(ser), as.double(1:1e5))
})

test_that("serialization format version 2 always writes the data", {
  rt <- local_runtime()
  x <- save_fmalloc(c(a = 1.5, b = NA), "x", runtime = rt)
  big <- save_fmalloc(as.double(1:1e5), "big", runtime = rt)
  expect_gt(length(serialize(big, NULL, version = 2)), 8e5)
  back <- unserialize(serialize(x, NULL, version = 2))
  expect_false(is_fmalloc(back))
  expect_identical(back, c(a = 1.5, b = NA))
  rds <- tempfile(fileext = ".rds")
  withr::defer(unlink(rds))
  saveRDS(big, rds, version = 2, compress = FALSE)
  expect_gt(file.size(rds), 8e5)
  expect_identical(readRDS(rds), as.double(1:1e5))
})

test_that("save() and load() of an environment round-trip references", {
  h <- heap_with_a()
  rt <- local_runtime(h$heap)
  rda <- file.path(h$dir, "objs.rda")
  a <- load_fmalloc("a", runtime = rt)
  s <- load_fmalloc("s", runtime = rt)
  save(a, s, file = rda)
  expect_lt(file.size(rda), 2048)
  e <- new.env()
  load(rda, envir = e)
  expect_identical(e$a, as.double(1:1e5))
  expect_identical(e$s, c(x = "p", y = NA))
  expect_true(is_fmalloc(e$a))
})

test_that("a reference from another Rfmalloc format version is a classed error", {
  rt <- local_runtime()
  x <- save_fmalloc(c(1, 2), "x", runtime = rt)
  ser <- serialize(x, NULL)
  # Rewrite the format tag in the serialized state.
  tag <- charToRaw("rfmalloc-ref-1")
  pos <- which(vapply(seq_len(length(ser) - length(tag) + 1),
                      function(i) identical(ser[i:(i + length(tag) - 1)], tag), TRUE))
  expect_length(pos, 1)
  ser[pos + length(tag) - 1] <- charToRaw("9")
  e <- expect_error(unserialize(ser), class = "fmrt_error")
  expect_identical(class(e), fm_classes("format"))
})

test_that("a reference whose name now holds another vector is refused, not misread", {
  rt <- local_runtime()
  m <- save_fmalloc(matrix(1:6, 2), "a", runtime = rt)
  rds <- tempfile(fileext = ".rds")
  on.exit(unlink(rds), add = TRUE)
  saveRDS(m, rds)
  invisible(save_fmalloc(c("p", "q"), "a", runtime = rt, overwrite = TRUE))
  err <- tryCatch(readRDS(rds), error = function(e) e)
  expect_s3_class(err, "error")
  expect_match(conditionMessage(err), "'a'.*type integer and length 6")
})
