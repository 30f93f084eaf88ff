# R/vectors.R: create_fmalloc_vector, save_fmalloc, load_fmalloc,
# remove_fmalloc, is_fmalloc, materialize_fmalloc, list_fmalloc_allocations.
#
# SPDX-License-Identifier: GPL-2.0-or-later

zero_of <- list(
  logical = FALSE, integer = 0L, numeric = 0, double = 0, complex = 0 + 0i,
  raw = as.raw(0), character = ""
)
# A value to write into each type.
some_of <- list(
  logical = NA, integer = -7L, numeric = -0.25, double = 1e300, complex = 1 - 2i,
  raw = as.raw(255), character = "\u00e9t\u00e9"
)
storage_of <- c(
  logical = "logical", integer = "integer", numeric = "double", double = "double",
  complex = "complex", raw = "raw", character = "character"
)

# Ordinary vectors with the awkward values of each type.
samples <- list(
  logical = c(TRUE, FALSE, NA),
  integer = c(0L, 1L, -1L, NA, .Machine$integer.max, -.Machine$integer.max),
  double = c(0, -0, 1.5, NA, NaN, Inf, -Inf, .Machine$double.xmax, .Machine$double.xmin, 5e-324),
  complex = c(1 + 2i, complex(real = NA, imaginary = 1), NA_complex_,
              complex(real = NaN, imaginary = -Inf), 0i),
  raw = as.raw(c(0, 1, 127, 128, 255)),
  character = c("a", NA, "", "h\u00e9llo", "\u65e5\u672c", "NA", strrep("x", 1000))
)

test_that("create_fmalloc_vector makes zero-filled vectors of every type", {
  rt <- local_runtime()
  for (type in names(zero_of)) {
    x <- create_fmalloc_vector(type, 5, runtime = rt)
    expect_true(is_fmalloc(x))
    expect_identical(typeof(x), storage_of[[type]])
    expect_identical(x, rep(zero_of[[type]], 5), label = type)
    expect_null(attributes(x))
  }
})

test_that("create_fmalloc_vector of length 0 gives an empty vector of the type", {
  rt <- local_runtime()
  for (type in names(zero_of)) {
    x <- create_fmalloc_vector(type, 0, runtime = rt)
    expect_identical(x, zero_of[[type]][0], label = type)
  }
})

test_that("x[i] <- v writes each type and reads back, also through load_fmalloc", {
  rt <- local_runtime()
  for (type in names(some_of)) {
    name <- paste0("w_", type)
    x <- create_fmalloc_vector(type, 4, runtime = rt, name = name)
    x[3] <- some_of[[type]]
    want <- rep(zero_of[[type]], 4)
    want[3] <- some_of[[type]]
    expect_identical(x, want, label = type)
    expect_true(is_fmalloc(x))
    expect_identical(load_fmalloc(name, runtime = rt), want, label = paste("loaded", type))
  }
})

test_that("x[[i]] <-, x[] <- and x[logical] <- write into the created vector", {
  rt <- local_runtime()
  x <- create_fmalloc_vector("double", 6, runtime = rt, name = "d")
  x[] <- 1:6
  x[[2]] <- 20
  x[c(FALSE, FALSE, TRUE)] <- -1
  want <- c(1, 20, -1, 4, 5, -1)
  expect_identical(x, want)
  expect_identical(load_fmalloc("d", runtime = rt), want)
})

test_that("zero_initialize = FALSE gives a vector of the right type and length", {
  rt <- local_runtime()
  for (type in c("integer", "double", "character")) {
    x <- create_fmalloc_vector(type, 3, runtime = rt, zero_initialize = FALSE)
    expect_identical(typeof(x), type)
    expect_length(x, 3)
    x[] <- some_of[[type]]
    expect_identical(x, rep(some_of[[type]], 3))
  }
})

test_that("save_fmalloc stores NA, NaN, Inf, -0, complex NA, raw and strings exactly", {
  rt <- local_runtime()
  for (type in names(samples)) {
    orig <- samples[[type]]
    saved <- save_fmalloc(orig, type, runtime = rt)
    expect_true(is_fmalloc(saved))
    expect_identical(saved, orig, label = paste("saved", type))
    loaded <- load_fmalloc(type, runtime = rt)
    expect_true(is_fmalloc(loaded))
    expect_identical(loaded, orig, label = paste("loaded", type))
    expect_identical(materialize_fmalloc(loaded), orig, label = paste("materialized", type))
  }
  d <- load_fmalloc("double", runtime = rt)
  expect_identical(1 / d[1:2], c(Inf, -Inf)) # -0 kept its sign
  expect_identical(is.nan(d), is.nan(samples$double)) # NaN is not NA_real_
  expect_identical(is.na(d), is.na(samples$double))
  cx <- load_fmalloc("complex", runtime = rt)
  expect_identical(Re(cx), Re(samples$complex))
  expect_identical(Im(cx), Im(samples$complex))
})

test_that("save_fmalloc keeps UTF-8 and bytes encodings and identical() holds", {
  rt <- local_runtime()
  latin <- "caf\xe9"
  Encoding(latin) <- "latin1"
  bytes <- "ab\xff\x01"
  Encoding(bytes) <- "bytes"
  s <- c("plain", "h\u00e9llo", "\u65e5\u672c", latin, bytes, NA, "")
  saved <- save_fmalloc(s, "enc", runtime = rt)
  loaded <- load_fmalloc("enc", runtime = rt)
  for (v in list(saved, loaded)) {
    expect_identical(v, s)
    expect_identical(Encoding(v)[c(1, 2, 3, 5, 7)], c("unknown", "UTF-8", "UTF-8", "bytes", "unknown"))
    expect_identical(nchar(v[2:3]), c(5L, 2L))
    expect_identical(charToRaw(v[5]), as.raw(c(0x61, 0x62, 0xff, 0x01)))
    expect_identical(enc2utf8(v[4]), "caf\u00e9")
  }
})

test_that("save_fmalloc keeps the latin1 mark of latin1 strings", {
  rt <- local_runtime()
  latin <- "caf\xe9"
  Encoding(latin) <- "latin1"
  loaded <- save_fmalloc(latin, "latin", runtime = rt)
  expect_identical(Encoding(loaded), "latin1")
  expect_identical(Encoding(load_fmalloc("latin", runtime = rt)), "latin1")
  # What the mark changes for base R: byte counts, and grouping apart from
  # the UTF-8 spelling of the same text.
  expect_identical(nchar(loaded, type = "bytes"), 4L)
  both <- save_fmalloc(c(latin, "caf\u00e9"), "both", runtime = rt)
  expect_identical(rowsum(1:2, both), rowsum(1:2, c(latin, "caf\u00e9")))
})

test_that("x[i] <- on a character vector stores encodings and NA", {
  rt <- local_runtime()
  s <- create_fmalloc_vector("character", 4, runtime = rt, name = "s")
  bytes <- "\xfe"
  Encoding(bytes) <- "bytes"
  s[1] <- "\u00fcber"
  s[2] <- NA
  s[3] <- bytes
  expect_identical(s, c("\u00fcber", NA, bytes, ""))
  l <- load_fmalloc("s", runtime = rt)
  expect_identical(l, c("\u00fcber", NA, bytes, ""))
  expect_identical(Encoding(l), c("UTF-8", "unknown", "bytes", "unknown"))
})

test_that("save_fmalloc and load_fmalloc keep names, dim, dimnames, class and other attributes", {
  rt <- local_runtime()
  named <- c(a = 1L, b = NA, c = 3L)
  m <- matrix(c(1.5, 2, 3, 4, 5, 6), 2, dimnames = list(c("r1", "r2"), c("x", "y", "z")))
  f <- factor(c("lo", "hi", "lo"), levels = c("lo", "hi"))
  d <- as.Date(c("2024-01-01", NA))
  arr <- array(as.raw(1:24), dim = 2:4)
  tagged <- structure(c("p", "q"), names = c("P", "Q"), note = list(1, "two"))
  objs <- list(named = named, m = m, f = f, d = d, arr = arr, tagged = tagged)
  for (nm in names(objs)) {
    saved <- save_fmalloc(objs[[nm]], nm, runtime = rt)
    expect_identical(saved, objs[[nm]], label = paste("saved", nm))
    loaded <- load_fmalloc(nm, runtime = rt)
    expect_identical(loaded, objs[[nm]], label = paste("loaded", nm))
    expect_identical(attributes(loaded), attributes(objs[[nm]]))
    expect_identical(materialize_fmalloc(loaded), objs[[nm]], label = paste("materialized", nm))
    expect_true(is_fmalloc(loaded))
  }
  expect_identical(load_fmalloc("m", runtime = rt)["r2", "y"], 4)
  expect_identical(levels(load_fmalloc("f", runtime = rt)), c("lo", "hi"))
  expect_true(inherits(load_fmalloc("arr", runtime = rt), "array"))
})

test_that("save_fmalloc of an Rfmalloc vector copies it under the new name", {
  rt <- local_runtime()
  a <- save_fmalloc(c(x = 1, y = 2), "a", runtime = rt)
  b <- save_fmalloc(a, "b", runtime = rt)
  expect_identical(b, c(x = 1, y = 2))
  expect_identical(load_fmalloc("b", runtime = rt), c(x = 1, y = 2))
  # The copy is independent: writing the source leaves it alone.
  src <- create_fmalloc_vector("double", 2, runtime = rt, name = "src")
  copy <- save_fmalloc(src, "copy", runtime = rt)
  src[1] <- 5
  expect_identical(load_fmalloc("src", runtime = rt), c(5, 0))
  expect_identical(load_fmalloc("copy", runtime = rt), c(0, 0))
  expect_identical(copy, c(0, 0))
  s <- save_fmalloc(letters, "letters", runtime = rt)
  expect_identical(save_fmalloc(s, "letters2", runtime = rt), letters)
})

test_that("save_fmalloc with overwrite = TRUE replaces the entry; a vector held from the old one keeps its values", {
  rt <- local_runtime()
  old <- save_fmalloc(c(1, 2, 3), "v", runtime = rt)
  expect_fm_error(save_fmalloc(4, "v", runtime = rt), "exists", "'v'")
  expect_identical(load_fmalloc("v", runtime = rt), c(1, 2, 3))
  new <- save_fmalloc(c("now", "text"), "v", runtime = rt, overwrite = TRUE)
  expect_identical(new, c("now", "text"))
  expect_identical(load_fmalloc("v", runtime = rt), c("now", "text"))
  expect_identical(old, c(1, 2, 3))
  l <- list_fmalloc_allocations(rt)
  expect_identical(l$name[l$status == "durable"], "v")
  expect_identical(l$type[l$status == "durable"], "character")
  # The old allocation is no longer in the catalog; once R drops it, it is freed.
  rm(old)
  gc()
  expect_identical(list_fmalloc_allocations(rt)$name, "v")
})

test_that("overwrite = TRUE on a name that does not exist just saves", {
  rt <- local_runtime()
  expect_identical(save_fmalloc(1:2, "fresh", runtime = rt, overwrite = TRUE), 1:2)
  expect_identical(load_fmalloc("fresh", runtime = rt), 1:2)
})

test_that("load_fmalloc of the same name twice gives equal vectors sharing the file data", {
  rt <- local_runtime()
  invisible(save_fmalloc(c(2.5, 3.5), "twice", runtime = rt))
  a <- load_fmalloc("twice", runtime = rt)
  b <- load_fmalloc("twice", runtime = rt)
  expect_identical(a, b)
  expect_identical(heap_info(rt)$live_allocations_held, 1)
})

test_that("names may be any UTF-8 string up to 4096 bytes", {
  rt <- local_runtime()
  for (nm in c("a/b/c", "with space", "\u00e9\u65e5", ".anon-like", strrep("n", 4096))) {
    invisible(save_fmalloc(nchar(nm), nm, runtime = rt))
    expect_identical(load_fmalloc(nm, runtime = rt), nchar(nm))
  }
  expect_setequal(list_fmalloc_allocations(rt)$name,
                  c("a/b/c", "with space", "\u00e9\u65e5", ".anon-like", strrep("n", 4096)))
})

test_that("is_fmalloc is TRUE for our vectors, FALSE for anything else", {
  rt <- local_runtime()
  x <- save_fmalloc(as.double(1:100), "x", runtime = rt)
  expect_true(is_fmalloc(x))
  expect_true(is_fmalloc(create_fmalloc_vector("raw", 2, runtime = rt)))
  expect_false(is_fmalloc(as.double(1:100)))
  expect_false(is_fmalloc(1:10)) # compact ALTREP sequence
  expect_false(is_fmalloc(NULL))
  expect_false(is_fmalloc(list(x)))
  expect_false(is_fmalloc(rt))
  expect_false(is_fmalloc(materialize_fmalloc(x)))
  expect_false(is_fmalloc(sort(c(3, 1, 2)))) # base R wrapper around an ordinary vector
})

test_that("is_fmalloc sees through R's wrapper after an attribute change on a shared vector", {
  rt <- local_runtime()
  x <- save_fmalloc(as.double(1:100), "x", runtime = rt)
  y <- x
  names(y) <- paste0("n", 1:100)
  expect_true(is_fmalloc(y))
  expect_identical(unname(y), as.double(1:100))
  expect_identical(names(y)[100], "n100")
  expect_null(names(x))
  expect_null(names(load_fmalloc("x", runtime = rt)))
  expect_identical(materialize_fmalloc(y), setNames(as.double(1:100), paste0("n", 1:100)))
  z <- y
  attr(z, "extra") <- "yes"
  expect_true(is_fmalloc(z))
  expect_identical(attr(z, "extra"), "yes")
  s <- save_fmalloc(rep(c("u", "v"), 40), "s", runtime = rt)
  t <- s
  dim(t) <- c(2, 40)
  expect_true(is_fmalloc(t))
  expect_identical(t[2, 40], "v")
})

test_that("materialize_fmalloc returns an ordinary equal copy, and non-Rfmalloc objects unchanged", {
  rt <- local_runtime()
  for (type in names(samples)) {
    x <- save_fmalloc(samples[[type]], type, runtime = rt)
    m <- materialize_fmalloc(x)
    expect_false(is_fmalloc(m))
    expect_identical(m, samples[[type]])
  }
  l <- list(1, "a")
  expect_identical(materialize_fmalloc(l), l)
  expect_identical(materialize_fmalloc(1:3), 1:3)
  expect_null(materialize_fmalloc(NULL))
  # The copy is independent of the file.
  w <- create_fmalloc_vector("integer", 3, runtime = rt, name = "w")
  m <- materialize_fmalloc(w)
  w[1] <- 5L
  expect_identical(m, c(0L, 0L, 0L))
})

test_that("remove_fmalloc removes the name; a held vector stays readable until collected", {
  rt <- local_runtime()
  x <- save_fmalloc(c(1.5, 2.5), "x", runtime = rt)
  invisible(save_fmalloc(1L, "keep", runtime = rt))
  expect_invisible(res <- remove_fmalloc("x", runtime = rt))
  expect_true(res)
  expect_fm_error(load_fmalloc("x", runtime = rt), "notfound", "'x'")
  l <- list_fmalloc_allocations(rt)
  expect_identical(l$name[l$status == "durable"], "keep")
  expect_identical(x, c(1.5, 2.5))
  x[1] <- 9 # still works on its own data
  expect_identical(x, c(9, 2.5))
  rm(x)
  gc()
  l <- list_fmalloc_allocations(rt)
  expect_identical(l$name, "keep")
  expect_identical(l$status, "durable")
  expect_fm_error(remove_fmalloc("x", runtime = rt), "notfound", "'x'")
  expect_fm_error(remove_fmalloc("never", runtime = rt), "notfound", "'never'")
  # The name can be used again.
  expect_identical(save_fmalloc(3L, "x", runtime = rt), 3L)
})

test_that("list_fmalloc_allocations shows name, type, length, bytes, status and created", {
  rt <- local_runtime()
  before <- Sys.time()
  invisible(save_fmalloc(1:10, "ten", runtime = rt))
  invisible(save_fmalloc(c(TRUE, NA), "lgl", runtime = rt))
  invisible(save_fmalloc(c(1i, 2i, 3i), "cplx", runtime = rt))
  invisible(save_fmalloc(as.raw(1:5), "raw", runtime = rt))
  invisible(save_fmalloc(c("ab", NA, "cdef"), "chr", runtime = rt))
  d <- create_fmalloc_vector("numeric", 7, runtime = rt, name = "dbl")
  l <- list_fmalloc_allocations(rt)
  expect_s3_class(l, "data.frame")
  expect_identical(names(l), c("name", "type", "length", "bytes", "shape", "status", "created"))
  expect_identical(sort(l$name), sort(c("ten", "lgl", "cplx", "raw", "chr", "dbl")))
  l <- l[order(l$name), ]
  expect_identical(l$type, c("character", "complex", "double", "logical", "raw", "integer"))
  expect_equal(l$length, c(3, 3, 7, 2, 5, 10))
  expect_equal(l$bytes[-1], c(48, 56, 8, 5, 40))
  # A character vector's bytes: header, 8 per slot, then its string records.
  expect_gte(l$bytes[1], 64 + 3 * 8 + 2 * 16)
  expect_identical(unique(l$status), "durable")
  expect_s3_class(l$created, "POSIXct")
  expect_true(all(l$created >= before - 5 & l$created <= Sys.time() + 5))
  expect_identical(d, rep(0, 7))
})

test_that("list_fmalloc_allocations on an empty heap has no rows but all columns", {
  rt <- local_runtime()
  l <- list_fmalloc_allocations(rt)
  expect_identical(nrow(l), 0L)
  expect_identical(names(l), c("name", "type", "length", "bytes", "shape", "status", "created"))
})

test_that("vectors created without a name get a generated .anon/ name that is listed", {
  rt <- local_runtime()
  a <- create_fmalloc_vector("integer", 3, runtime = rt)
  b <- create_fmalloc_vector("character", 2, runtime = rt)
  l <- list_fmalloc_allocations(rt)
  expect_identical(nrow(l), 2L)
  expect_true(all(startsWith(l$name, ".anon/")))
  expect_identical(anyDuplicated(l$name), 0L)
  expect_setequal(l$type, c("integer", "character"))
  expect_identical(l$status, c("durable", "durable"))
  # The generated names load the vectors.
  a[2] <- 42L
  b[1] <- "z"
  loaded <- lapply(l$name, load_fmalloc, runtime = rt)
  expect_true(list(c(0L, 42L, 0L)) %in% loaded)
  expect_true(list(c("z", "")) %in% loaded)
})

test_that("the default runtime is used when runtime is NULL", {
  f <- local_heap_path()
  expect_true(local_default_runtime(f))
  x <- save_fmalloc(c(a = 1), "x")
  expect_identical(load_fmalloc("x"), c(a = 1))
  y <- create_fmalloc_vector("logical", 2, name = "y")
  expect_identical(sort(list_fmalloc_allocations()$name), c("x", "y"))
  remove_fmalloc("y")
  l <- list_fmalloc_allocations()
  expect_identical(l$name[l$status == "durable"], "x")
  # y is held, so its data stay until it is collected: listed as transient.
  expect_identical(l$status[is.na(l$name)], "transient")
  expect_identical(y, c(FALSE, FALSE))
  expect_true(sync_fmalloc())
})
