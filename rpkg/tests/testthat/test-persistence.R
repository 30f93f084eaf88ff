# Persistence across R processes: what one process stores by name, another
# finds with identical values, attributes and catalog listing.
#
# SPDX-License-Identifier: GPL-2.0-or-later

stored <- function() {
  latin <- "na\xefve"
  Encoding(latin) <- "latin1"
  list(
    lgl = c(TRUE, NA, FALSE),
    int = c(a = 1L, b = NA, c = .Machine$integer.max),
    dbl = c(-0, NaN, NA, Inf, -Inf, pi),
    cplx = c(1 + 1i, NA_complex_, complex(real = NaN, imaginary = 2)),
    raw = as.raw(c(0, 255, 16)),
    chr = c("x", NA, "", "h\u00e9llo", "\u65e5\u672c", latin),
    mat = matrix(1:6, 2, dimnames = list(NULL, c("a", "b", "c"))),
    fac = factor(c("u", "v", "u"))
  )
}

test_that("vectors saved and created in one process are loaded identical in another", {
  f <- local_heap_path()
  objs <- stored()
  anon <- in_child(function(f, objs) {
    library(Rfmalloc)
    rt <- open_fmalloc(f)
    for (nm in names(objs)) save_fmalloc(objs[[nm]], nm, runtime = rt)
    x <- create_fmalloc_vector("double", 5, runtime = rt, name = "created")
    x[c(1, 5)] <- c(1.25, -3)
    s <- create_fmalloc_vector("character", 3, runtime = rt, name = "created_chr")
    s[3] <- "third"
    u <- create_fmalloc_vector("integer", 4, runtime = rt)
    u[4] <- 44L
    listed <- list_fmalloc_allocations(rt)$name
    cleanup_fmalloc(rt)
    listed
  }, list(f = f, objs = objs))
  expect_true(file.exists(f))

  got <- in_child(function(f, names) {
    library(Rfmalloc)
    init_fmalloc(f)
    vals <- lapply(names, function(nm) materialize_fmalloc(load_fmalloc(nm)))
    names(vals) <- names
    list(
      vals = vals,
      fm = vapply(names, function(nm) is_fmalloc(load_fmalloc(nm)), TRUE),
      list = list_fmalloc_allocations()
    )
  }, list(f = f, names = c(names(objs), "created", "created_chr")))

  for (nm in names(objs)) {
    expect_identical(got$vals[[nm]], objs[[nm]], label = nm)
  }
  expect_identical(got$vals$created, c(1.25, 0, 0, 0, -3))
  expect_identical(got$vals$created_chr, c("", "", "third"))
  expect_true(all(got$fm))

  l <- got$list
  expect_identical(names(l), c("name", "type", "length", "bytes", "shape", "status", "created"))
  expect_identical(unique(l$status), "durable")
  generated <- l$name[startsWith(l$name, ".anon/")]
  expect_length(generated, 1)
  expect_setequal(l$name, c(names(objs), "created", "created_chr", generated))
  expect_setequal(anon, l$name)
  row <- function(nm) l[l$name == nm, ]
  expect_identical(row("lgl")$type, "logical")
  expect_identical(row("int")$type, "integer")
  expect_identical(row("dbl")$type, "double")
  expect_identical(row("cplx")$type, "complex")
  expect_identical(row("raw")$type, "raw")
  expect_identical(row("chr")$type, "character")
  expect_identical(row("mat")$type, "integer")
  expect_identical(row("fac")$type, "integer")
  expect_identical(row(generated)$type, "integer")
  expect_equal(row("dbl")$length, 6)
  expect_equal(row("dbl")$bytes, 48)
  expect_equal(row("cplx")$bytes, 48)
  expect_equal(row("raw")$bytes, 3)
  expect_equal(row("mat")$length, 6)
  expect_equal(row(generated)$length, 4)
  expect_equal(row(generated)$bytes, 16)
  expect_identical(row("mat")$shape, "matrix 2x3")
  expect_identical(row("fac")$shape, "factor")
  expect_identical(row("int")$shape, "")
  expect_identical(row("dbl")$shape, "")

  # The parent process sees the same, generated name included.
  rt <- local_runtime(f)
  expect_identical(load_fmalloc(generated, runtime = rt), c(0L, 0L, 0L, 44L))
  expect_identical(load_fmalloc("mat", runtime = rt), objs$mat)
})

test_that("several read-only processes share a file", {
  f <- local_heap_path()
  rt <- open_fmalloc(f)
  invisible(save_fmalloc(as.double(1:1000), "shared", runtime = rt))
  cleanup_fmalloc(rt)
  gc()
  ro <- local_runtime(f, readonly = TRUE)
  here <- load_fmalloc("shared", runtime = ro)
  there <- in_child(function(f) {
    library(Rfmalloc)
    ro <- open_fmalloc(f, readonly = TRUE)
    x <- load_fmalloc("shared", runtime = ro)
    list(sum = sum(x), rw = tryCatch(open_fmalloc(f), error = function(e) class(e)[1]))
  }, list(f = f))
  expect_identical(there$sum, sum(here))
  expect_identical(there$rw, "fmrt_error_busy")
})
