# R/lists.R: lists and data frames stored as list records whose children
# are catalog entries ("<name>/<index>" for copied elements, the existing
# name for elements already stored in the runtime).
#
# SPDX-License-Identifier: GPL-2.0-or-later

test_that("save_fmalloc of a nested list round-trips with attributes; elements are file-backed", {
  rt <- local_runtime()
  l <- list(a = 1:3, b = "x", c = NULL, d = list(e = c(1.5, NA), f = factor("u")), g = matrix(1:4, 2),
            h = as.raw(7), i = list())
  s <- save_fmalloc(l, "l", runtime = rt)
  expect_identical(s, l)
  expect_identical(load_fmalloc("l", runtime = rt), l)
  expect_true(is_fmalloc(s$a))
  expect_true(is_fmalloc(s$d$e))
  expect_true(is_fmalloc(s$g))
  expect_false(is_fmalloc(s)) # the list itself is an ordinary R list
  ls <- list_fmalloc_allocations(rt)
  expect_setequal(ls$name, c("l", "l/1", "l/2", "l/4", "l/4/1", "l/4/2", "l/5", "l/6", "l/7"))
  expect_identical(ls$type[ls$name == "l"], "list")
  expect_equal(ls$length[ls$name == "l"], 7)
  expect_identical(ls$type[ls$name == "l/4"], "list")
  expect_identical(ls$type[ls$name == "l/5"], "integer")
})

test_that("empty lists and lists of NULLs round-trip", {
  rt <- local_runtime()
  expect_identical(save_fmalloc(list(), "e", runtime = rt), list())
  expect_identical(load_fmalloc("e", runtime = rt), list())
  expect_identical(save_fmalloc(list(NULL, NULL), "nn", runtime = rt), list(NULL, NULL))
  expect_identical(load_fmalloc("nn", runtime = rt), list(NULL, NULL))
  expect_identical(save_fmalloc(setNames(list(), character()), "named_empty", runtime = rt),
                   setNames(list(), character()))
})

test_that("create_fmalloc_vector('list', n) stores a list of NULLs under a name", {
  rt <- local_runtime()
  cl <- create_fmalloc_vector("list", 3, runtime = rt, name = "cl")
  expect_identical(cl, list(NULL, NULL, NULL))
  expect_identical(load_fmalloc("cl", runtime = rt), list(NULL, NULL, NULL))
  anon <- create_fmalloc_vector("list", 2, runtime = rt)
  l <- list_fmalloc_allocations(rt)
  generated <- l$name[startsWith(l$name, ".anon/")]
  expect_length(generated, 1)
  expect_identical(l$type[l$name == generated], "list")
  expect_identical(load_fmalloc(generated, runtime = rt), list(NULL, NULL))
})

test_that("data frames round-trip, across processes too", {
  f <- local_heap_path()
  rt <- open_fmalloc(f)
  df <- data.frame(x = 1:3, y = c("a", NA, "\u00e9"), z = c(TRUE, FALSE, NA),
                   f = factor(c("u", "v", "u")), d = as.Date(c("2024-02-29", NA, "1970-01-01")),
                   stringsAsFactors = FALSE)
  rownames(df) <- c("r1", "r2", "r3")
  s <- save_fmalloc(df, "df", runtime = rt)
  expect_identical(s, df)
  expect_true(all(vapply(s, is_fmalloc, TRUE)))
  l <- list_fmalloc_allocations(rt)
  expect_identical(l$shape[l$name == "df"], "data.frame 3x5")
  expect_identical(l$type[l$name == "df"], "list")
  expect_identical(s[s$x > 1, "y"], c(NA, "\u00e9"))
  expect_identical(summary(s), summary(df))
  expect_identical(aggregate(x ~ f, s, sum), aggregate(x ~ f, df, sum))
  cleanup_fmalloc(rt)
  rm(s)
  gc()
  got <- in_child(function(f) {
    library(Rfmalloc)
    rt <- open_fmalloc(f, readonly = TRUE)
    d <- load_fmalloc("df", runtime = rt)
    d[] <- lapply(d, materialize_fmalloc)
    d
  }, list(f = f))
  expect_identical(got, df)
})

test_that("elements already stored in the runtime are referenced, not copied", {
  rt <- local_runtime()
  x <- save_fmalloc(c(10, 20), "x", runtime = rt)
  l <- save_fmalloc(list(x, x, 3), "l", runtime = rt)
  expect_identical(l, list(c(10, 20), c(10, 20), 3))
  expect_setequal(list_fmalloc_allocations(rt)$name, c("x", "l", "l/3"))
  # The stored element is shared: writing it by its own name changes the list.
  invisible(save_fmalloc(list(create_fmalloc_vector("integer", 2, runtime = rt, name = "w")), "lw", runtime = rt))
  w <- load_fmalloc("w", runtime = rt, writable = TRUE)
  w[1] <- 5L
  expect_identical(load_fmalloc("lw", runtime = rt), list(c(5L, 0L)))
})

test_that("a referenced element cannot be removed; the list's own children go with it", {
  rt <- local_runtime()
  x <- save_fmalloc(c(10, 20), "x", runtime = rt)
  invisible(save_fmalloc(list(x, "own"), "l", runtime = rt))
  e <- expect_fm_error(remove_fmalloc("x", runtime = rt), "referenced", "'l'")
  expect_fm_error(remove_fmalloc("l/2", runtime = rt), "referenced")
  expect_identical(load_fmalloc("x", runtime = rt), c(10, 20))
  remove_fmalloc("l", runtime = rt)
  l <- list_fmalloc_allocations(rt)
  expect_identical(l$name[l$status == "durable"], "x")
  expect_true(remove_fmalloc("x", runtime = rt))
  expect_fm_error(load_fmalloc("l", runtime = rt), "notfound")
})

test_that("overwriting a list drops the children the new version no longer has", {
  rt <- local_runtime()
  invisible(save_fmalloc(list(1, 2, list(3, 4)), "ow", runtime = rt))
  expect_fm_error(save_fmalloc(list(9), "ow", runtime = rt), "exists", "'ow'")
  invisible(save_fmalloc(list(9), "ow", runtime = rt, overwrite = TRUE))
  expect_identical(load_fmalloc("ow", runtime = rt), list(9))
  l <- list_fmalloc_allocations(rt)
  # The new child gets a fresh name ("ow/1" was the old version's), and the
  # old children are gone.
  durable <- l$name[l$status == "durable"]
  expect_length(durable, 2L)
  expect_true("ow" %in% durable)
  expect_match(setdiff(durable, "ow"), "^ow/1(\\.[0-9]+)?$")
  # A list over an atomic entry, and an atomic vector over a list, need overwrite.
  invisible(save_fmalloc(1, "atom", runtime = rt))
  expect_fm_error(save_fmalloc(list(1), "atom", runtime = rt), "exists")
  expect_fm_error(save_fmalloc(2, "ow", runtime = rt), "exists")
})

test_that("saving a list does not overwrite an unrelated entry named like a child", {
  rt <- local_runtime()
  invisible(save_fmalloc(c(7L, 8L), "l/1", runtime = rt))
  res <- tryCatch(save_fmalloc(list("a"), "l", runtime = rt), fmrt_error = function(e) e)
  expect_identical(load_fmalloc("l/1", runtime = rt), c(7L, 8L))
})

test_that("an element of another runtime is fmrt_error_type", {
  rt <- local_runtime()
  rt2 <- local_runtime()
  y <- save_fmalloc(1, "y", runtime = rt2)
  expect_fm_error(save_fmalloc(list(y), "ly", runtime = rt), "type", "another runtime")
  expect_identical(save_fmalloc(list(materialize_fmalloc(y)), "ly", runtime = rt), list(1))
})

test_that("a loaded list serializes its elements as references", {
  rt <- local_runtime()
  invisible(save_fmalloc(list(big = as.double(1:1e5), s = letters), "l", runtime = rt))
  l <- load_fmalloc("l", runtime = rt)
  ser <- serialize(l, NULL)
  expect_lt(length(ser), 2048)
  back <- unserialize(ser)
  expect_identical(back, list(big = as.double(1:1e5), s = letters))
  expect_true(is_fmalloc(back$big))
})

test_that("load_fmalloc(writable = TRUE) of a list lets element assignments reach the file", {
  rt <- local_runtime()
  invisible(save_fmalloc(list(c(1, 2)), "lx", runtime = rt))
  w <- load_fmalloc("lx", runtime = rt, writable = TRUE)
  w[[1]][1] <- 100
  expect_identical(load_fmalloc("lx", runtime = rt), list(c(100, 2)))
})

test_that("elements of a loaded list are read-only by default", {
  rt <- local_runtime()
  invisible(save_fmalloc(list(c(1, 2), "s"), "l", runtime = rt))
  l <- load_fmalloc("l", runtime = rt)
  l[[1]][1] <- 100
  l[[2]] <- "changed"
  expect_identical(l, list(c(100, 2), "changed"))
  expect_identical(load_fmalloc("l", runtime = rt), list(c(1, 2), "s"))
})

test_that("a re-save never overwrites a child another stored list names", {
  rt <- local_runtime()
  L <- save_fmalloc(list(1:3), "L", runtime = rt)
  invisible(save_fmalloc(list(L[[1]]), "M", runtime = rt))
  invisible(save_fmalloc(list(100:102), "L", runtime = rt, overwrite = TRUE))
  expect_identical(materialize_fmalloc(load_fmalloc("M", runtime = rt)[[1]]), 1:3)
  expect_identical(materialize_fmalloc(load_fmalloc("L", runtime = rt)[[1]]), 100:102)
})

test_that("a re-save that fails part-way leaves the stored list as it was", {
  f <- tempfile(fileext = ".heap")
  rt <- open_fmalloc(f, size_gb = 0.05)
  on.exit({ cleanup_fmalloc(rt); unlink(f) }, add = TRUE)
  invisible(save_fmalloc(list(1:10, 1:10), "L", runtime = rt))
  durable <- function() with(list_fmalloc_allocations(rt), name[status == "durable"])
  before <- durable()
  expect_fm_error(save_fmalloc(list(101:110, numeric(2e7)), "L", runtime = rt, overwrite = TRUE), "nomem")
  expect_identical(lapply(load_fmalloc("L", runtime = rt), materialize_fmalloc), list(1:10, 1:10))
  expect_identical(durable(), before)
})

test_that("saving a vector over a list removes the list's children", {
  rt <- local_runtime()
  invisible(save_fmalloc(list(1, 2), "K", runtime = rt))
  invisible(save_fmalloc(7:9, "K", runtime = rt, overwrite = TRUE))
  l <- list_fmalloc_allocations(rt)
  expect_identical(l$name[l$status == "durable"], "K")
  invisible(save_fmalloc(list(1), "K", runtime = rt, overwrite = TRUE))
  expect_identical(materialize_fmalloc(load_fmalloc("K", runtime = rt)[[1]]), 1)
})
