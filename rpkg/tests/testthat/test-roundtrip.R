# Lists, attributes, matrices, data frames and diagnostics: what the other
# test files (test-lists.R, test-structures.R, test-diagnose.R) do not cover
# yet -- round trips in a new R process, references versus copies in the
# catalog, misuse, and the geometry of diagnose_fmalloc_runtime()'s extents.
#
# SPDX-License-Identifier: GPL-2.0-or-later

durable_names <- function(rt) {
  l <- list_fmalloc_allocations(rt)
  sort(l$name[l$status == "durable"])
}

# ---- lists ------------------------------------------------------------------

test_that("a list of NULLs, references, copies, nested lists and names round-trips in a new process", {
  f <- local_heap_path()
  rt <- open_fmalloc(f)
  x <- save_fmalloc(c(10, 20), "x", runtime = rt)
  cl <- create_fmalloc_vector("list", 2, runtime = rt, name = "cl")
  expect_identical(cl, list(NULL, NULL))
  orig <- list(none = NULL, ref = c(10, 20), int = 1:3, chr = c("a", NA),
               sub = list(p = "s", q = list(r = c(TRUE, NA)), z = NULL), cpx = 1i)
  s <- save_fmalloc(replace(orig, "ref", list(x)), "L", runtime = rt)
  expect_identical(s, orig)
  expect_true(is_fmalloc(s$ref) && is_fmalloc(s$int) && is_fmalloc(s$sub$q$r))
  # x is referenced by its name: no "L/2" entry; ordinary vectors are "L/<i>".
  expect_identical(durable_names(rt),
                   sort(c("cl", "x", "L", "L/3", "L/4", "L/5", "L/5/1", "L/5/2", "L/5/2/1", "L/6")))
  expect_fm_error(remove_fmalloc("x", runtime = rt), "referenced", "'L'")
  cleanup_fmalloc(rt)
  rm(x, s, cl)
  gc()
  got <- in_child(function(f) {
    library(Rfmalloc)
    rt <- open_fmalloc(f, readonly = TRUE)
    l <- load_fmalloc("L", runtime = rt)
    list(L = rapply(l, materialize_fmalloc, how = "replace"),
         fm = all(rapply(l, is_fmalloc, how = "unlist")),
         cl = load_fmalloc("cl", runtime = rt))
  }, list(f = f))
  expect_identical(got$L, orig)
  expect_true(got$fm)
  expect_identical(got$cl, list(NULL, NULL))
})

test_that("re-saving a shorter list removes the old owned children; remove_fmalloc removes the rest", {
  rt <- local_runtime()
  x <- save_fmalloc(1L, "x", runtime = rt)
  invisible(save_fmalloc(list(1, list(2, 3), "c", x), "L", runtime = rt))
  expect_identical(durable_names(rt), sort(c("x", "L", "L/1", "L/2", "L/2/1", "L/2/2", "L/3")))
  expect_fm_error(save_fmalloc(list(1), "L", runtime = rt), "exists", "'L'")
  invisible(save_fmalloc(list(5, x), "L", runtime = rt, overwrite = TRUE))
  # One new child under a fresh name; every old one is gone.
  names_now <- durable_names(rt)
  expect_length(names_now, 3L)
  expect_true(all(c("x", "L") %in% names_now))
  expect_match(setdiff(names_now, c("x", "L")), "^L/1(\\.[0-9]+)?$")
  expect_identical(load_fmalloc("L", runtime = rt), list(5, 1L))
  remove_fmalloc("L", runtime = rt)
  expect_identical(durable_names(rt), "x")
  expect_identical(load_fmalloc("x", runtime = rt), 1L)
})

test_that("re-saving a shorter list keeps a child another stored list references", {
  rt <- local_runtime()
  invisible(save_fmalloc(list(1, 2, 3), "A", runtime = rt))
  a <- load_fmalloc("A", runtime = rt)
  invisible(save_fmalloc(list(a[[3]]), "B", runtime = rt))
  invisible(save_fmalloc(list(0), "A", runtime = rt, overwrite = TRUE))
  expect_identical(load_fmalloc("B", runtime = rt), list(3))
})

test_that("misused lists are classed errors", {
  rt <- local_runtime()
  rt2 <- local_runtime()
  expect_fm_error(save_fmalloc(list(sum), "F", runtime = rt), "type", "'F'")
  expect_fm_error(save_fmalloc(list(a = 1, e = new.env()), "E", runtime = rt), "type", "environment")
  expect_fm_error(save_fmalloc(list(list(quote(a + b))), "Q", runtime = rt), "type")
  y <- save_fmalloc(2, "y", runtime = rt2)
  expect_fm_error(save_fmalloc(list(y), "O", runtime = rt), "type", "another runtime")
  expect_fm_error(load_fmalloc("F", runtime = rt), "notfound")
  expect_fm_error(load_fmalloc("E", runtime = rt), "notfound")
  invisible(save_fmalloc(list(1), "dup", runtime = rt))
  expect_fm_error(save_fmalloc(list(2), "dup", runtime = rt), "exists", "'dup'")
  expect_fm_error(create_fmalloc_vector("list", 1, runtime = rt, name = "dup"), "exists")
  expect_identical(load_fmalloc("dup", runtime = rt), list(1))
})

test_that("a list that fails to save leaves no children behind", {
  rt <- local_runtime()
  rt2 <- local_runtime()
  y <- save_fmalloc(2, "y", runtime = rt2)
  expect_fm_error(save_fmalloc(list(1, sum), "E", runtime = rt), "type")
  expect_fm_error(save_fmalloc(list(1, y), "O", runtime = rt), "type")
  expect_fm_error(create_fmalloc_data_frame(a = 1:2, l = I(list(1, 2)), runtime = rt), "type")
  expect_identical(durable_names(rt), character(0))
})

# ---- attributes in a new process --------------------------------------------

test_that("named vectors, factors, matrices, arrays and data frames round-trip in a new process", {
  f <- local_heap_path()
  rt <- open_fmalloc(f)
  objs <- list(
    nv = c(a = 1.5, b = NA, c = 3),
    fa = factor(c("lo", "hi", NA, "lo"), levels = c("lo", "hi")),
    ma = matrix(1:6, 2, dimnames = list(c("r1", "r2"), c("A", "B", "C"))),
    ar = array(as.double(1:24), c(2, 3, 4), dimnames = list(c("a", "b"), NULL, paste0("k", 1:4))),
    df = data.frame(i = 1:3, d = c(1.5, NA, -2), ch = c("x", NA, "z"), fc = factor(c("u", "v", "u")),
                    row.names = c("p", "q", "r"), stringsAsFactors = FALSE)
  )
  for (n in names(objs)) expect_identical(save_fmalloc(objs[[n]], n, runtime = rt), objs[[n]])
  cleanup_fmalloc(rt)
  gc()
  got <- in_child(function(f, nms) {
    library(Rfmalloc)
    rt <- open_fmalloc(f, readonly = TRUE)
    out <- lapply(nms, function(n) {
      v <- load_fmalloc(n, runtime = rt)
      fm <- if (is.list(v)) all(vapply(v, is_fmalloc, TRUE)) else is_fmalloc(v)
      if (is.data.frame(v)) v <- as.data.frame(lapply(v, materialize_fmalloc), row.names = attr(v, "row.names"),
                                               stringsAsFactors = FALSE)
      else v <- materialize_fmalloc(v)
      list(v = v, fm = fm)
    })
    setNames(out, nms)
  }, list(f = f, nms = names(objs)))
  for (n in names(objs)) {
    expect_identical(got[[n]]$v, objs[[n]], label = n)
    expect_true(got[[n]]$fm, label = n)
  }
})

# ---- matrices and arrays ----------------------------------------------------

test_that("an Rfmalloc matrix gives base R's answers and its writes persist", {
  f <- local_heap_path()
  rt <- open_fmalloc(f)
  base <- matrix(c(1.5, -2, 3, 0, 7, NA), 2, dimnames = list(c("a", "b"), c("x", "y", "z")))
  {
    m <- create_fmalloc_matrix("double", 2, 3, runtime = rt, name = "m", dimnames = dimnames(base))
    m[1, 1] <- 1.5
    m[2, 1] <- -2
    m[, 2] <- c(3, 0)
    m["a", "z"] <- 7
    m[2, 3] <- NA
  }
  expect_identical(m, base)
  expect_true(is.matrix(m))
  expect_true(inherits(m, "matrix"))
  expect_true(inherits(m, "array"))
  expect_identical(m[2, 3], base[2, 3])
  expect_identical(m[, "y"], base[, "y"])
  expect_identical(m[, 2], base[, 2])
  expect_identical(m[1, , drop = FALSE], base[1, , drop = FALSE])
  expect_identical(t(m), t(base))
  expect_identical(m %*% t(m), base %*% t(base))
  expect_identical(apply(m, 2, max), apply(base, 2, max))
  expect_identical(apply(m, 1, sum, na.rm = TRUE), apply(base, 1, sum, na.rm = TRUE))
  expect_identical(head(m, 1), head(base, 1))
  expect_identical(summary(m), summary(base))
  a <- create_fmalloc_array("integer", c(2, 3, 2), runtime = rt, name = "a")
  expect_true(inherits(a, "array"))
  expect_false(is.matrix(a))
  expect_identical(dim(a[, , 1]), c(2L, 3L))
  cleanup_fmalloc(rt)
  rm(m, a)
  gc()
  got <- in_child(function(f) {
    library(Rfmalloc)
    rt <- open_fmalloc(f, readonly = TRUE)
    list(m = materialize_fmalloc(load_fmalloc("m", runtime = rt)),
         a = materialize_fmalloc(load_fmalloc("a", runtime = rt)))
  }, list(f = f))
  expect_identical(got$m, base)
  expect_identical(got$a, array(0L, c(2, 3, 2)))
})

test_that("invalid dims and dimnames are fmrt_error_invalid and store nothing", {
  rt <- local_runtime()
  expect_fm_error(create_fmalloc_matrix("double", NA, 2, runtime = rt), "invalid")
  expect_fm_error(create_fmalloc_matrix("double", 2, -3, runtime = rt), "invalid")
  expect_fm_error(create_fmalloc_array("double", c(2, -1), runtime = rt), "invalid")
  expect_fm_error(create_fmalloc_array("double", c(2, NA, 2), runtime = rt), "invalid")
  expect_fm_error(create_fmalloc_array("double", c(2, 2), dimnames = list(NULL, NULL, NULL), runtime = rt),
                  "invalid", "dimnames")
  expect_fm_error(create_fmalloc_array("double", c(2, 2), dimnames = list(NULL, c("a", "b", "c")), runtime = rt),
                  "invalid", "dimnames")
  expect_identical(durable_names(rt), character(0))
})

test_that("as_fmalloc_matrix/array: ordinary objects are copied in, Rfmalloc vectors viewed without copying", {
  f <- local_heap_path()
  rt <- local_runtime(f)
  o <- matrix(1:6, 3, dimnames = list(NULL, c("u", "v")))
  om <- as_fmalloc_matrix(o, runtime = rt, name = "om")
  expect_true(is_fmalloc(om))
  expect_identical(om, o)
  expect_identical(load_fmalloc("om", runtime = rt), o)
  oa <- as_fmalloc_array(array(1:8, c(2, 2, 2)), runtime = rt, name = "oa")
  expect_true(is_fmalloc(oa))
  expect_identical(oa, array(1:8, c(2, 2, 2)))

  v <- save_fmalloc(as.double(1:6), "v", runtime = rt)
  entries <- list_fmalloc_allocations(rt)
  size <- file.size(f)
  mv <- as_fmalloc_matrix(v, nrow = 2)
  av <- as_fmalloc_array(v, dim = c(3, 2), dimnames = list(NULL, c("p", "q")))
  expect_true(is_fmalloc(mv))
  expect_identical(mv, matrix(as.double(1:6), 2))
  expect_identical(av, array(as.double(1:6), c(3, 2), dimnames = list(NULL, c("p", "q"))))
  expect_identical(list_fmalloc_allocations(rt)[c("name", "bytes", "status")], entries[c("name", "bytes", "status")])
  expect_identical(file.size(f), size)
  expect_null(dim(v))
  expect_identical(v, as.double(1:6))
  expect_null(dim(load_fmalloc("v", runtime = rt)))

  expect_fm_error(as_fmalloc_matrix(v, nrow = 4), "invalid")
  expect_fm_error(as_fmalloc_array(v, dim = c(4, 2)), "invalid")
  expect_fm_error(as_fmalloc_matrix(v, nrow = 2, dimnames = list("a", NULL)), "invalid", "dimnames")
  expect_fm_error(as_fmalloc_array(1:6, dim = c(2, 2), runtime = rt), "invalid")
})

# ---- data frames ------------------------------------------------------------

test_that("create_fmalloc_data_frame: every column in the file, same-runtime columns referenced", {
  rt <- local_runtime()
  a <- save_fmalloc(1:3, "acol", runtime = rt)
  d <- create_fmalloc_data_frame(a = a, b = c("x", NA, "z"), f = factor(c("u", "v", "u")),
                                 runtime = rt, name = "d")
  want <- data.frame(a = 1:3, b = c("x", NA, "z"), f = factor(c("u", "v", "u")))
  expect_identical(d, want)
  expect_true(all(vapply(d, is_fmalloc, TRUE)))
  # "a" names the existing entry: no "d/1" copy.
  expect_identical(durable_names(rt), sort(c("acol", "d", "d/2", "d/3")))
  expect_fm_error(remove_fmalloc("acol", runtime = rt), "referenced", "'d'")
  expect_identical(nrow(d), 3L)
  expect_identical(d[d$a > 1, ], want[want$a > 1, ])
  expect_identical(summary(d), summary(want))
  expect_identical(load_fmalloc("d", runtime = rt), want)

  s <- create_fmalloc_data_frame(g = c("u", "v", "u"), stringsAsFactors = TRUE, runtime = rt)
  expect_identical(s, data.frame(g = c("u", "v", "u"), stringsAsFactors = TRUE))
  expect_true(is_fmalloc(s$g))
  r <- create_fmalloc_data_frame(`a b` = 1:2, check.names = FALSE, row.names = c("r", "s"), runtime = rt)
  expect_identical(r, data.frame(`a b` = 1:2, check.names = FALSE, row.names = c("r", "s")))
  n <- nrow(list_fmalloc_allocations(rt))
  expect_fm_error(create_fmalloc_data_frame(a = 1:3, b = 1:2, runtime = rt), "invalid", "differing number of rows")
  expect_identical(nrow(list_fmalloc_allocations(rt)), n)
})

test_that("as_fmalloc_data_frame of a data frame and of a list of columns", {
  rt <- local_runtime()
  df <- data.frame(p = c(1.5, 2), q = c(TRUE, NA), s = c("a", "b"))
  e1 <- as_fmalloc_data_frame(df, runtime = rt, name = "e1")
  expect_identical(e1, df)
  expect_true(all(vapply(e1, is_fmalloc, TRUE)))
  e2 <- as_fmalloc_data_frame(list(p = c(1.5, 2), q = c(TRUE, NA), s = c("a", "b")), runtime = rt, name = "e2")
  expect_identical(e2, df)
  expect_true(all(vapply(e2, is_fmalloc, TRUE)))
  expect_identical(e2[e2$p > 1.6, ], df[df$p > 1.6, ])
})

# ---- diagnostics ------------------------------------------------------------

test_that("diagnose_fmalloc_runtime: a healthy file, its extents and its shapes", {
  f <- local_heap_path()
  rt <- local_runtime(f)
  invisible(save_fmalloc(matrix(1:6, 2), "m", runtime = rt))
  invisible(save_fmalloc(factor(c("a", "b")), "fac", runtime = rt))
  invisible(save_fmalloc(data.frame(a = 1:3, b = c(1, 2, 3)), "df", runtime = rt))
  for (i in 1:4) invisible(save_fmalloc(runif(1000 * i), paste0("r", i), runtime = rt))
  remove_fmalloc("r2", runtime = rt)
  d <- diagnose_fmalloc_runtime(rt)
  expect_s3_class(d, "fmalloc_diagnosis")
  expect_named(d, c("runtime", "catalog", "stats", "verify", "extents"))
  expect_identical(d$runtime$path, normalizePath(f))
  expect_identical(d$verify$problems, 0)
  expect_identical(d$stats$catalog_entries, as.double(sum(d$catalog$status == "durable")))
  expect_identical(d$stats$catalog_entries, 8)  # m, fac, df, df/1, df/2, r1, r3, r4 (r2 removed)
  e <- d$extents
  expect_true(all(e$offset >= 0))
  expect_true(all(e$offset + e$bytes <= file.size(f)))
  expect_true(all(e$offset + e$bytes <= d$stats$file_bytes))
  expect_true(all(utils::head(e$offset + e$bytes, -1) <= e$offset[-1]))
  # Lists keep their record in the catalog entry itself: no extent.
  expect_setequal(e$name[e$status == "durable"],
    d$catalog$name[d$catalog$status == "durable" & d$catalog$type != "list"])

  out <- capture.output(print(d))
  expect_true(any(grepl(d$runtime$path, out, fixed = TRUE)))
  expect_true(any(grepl("healthy", out, fixed = TRUE)))
  lines <- capture.output(print(summary(d)))
  expect_length(lines, 1L)
  expect_true(startsWith(lines, paste0(d$runtime$path, ": healthy, ")))
  expect_match(lines, "8 entries \\(4 double, 3 integer, 1 list\\)$")

  png_file <- file.path(tempdir(), "rfmalloc-diagnosis.png")
  on.exit(unlink(png_file), add = TRUE)
  grDevices::png(png_file)
  res <- plot(d)
  grDevices::dev.off()
  expect_identical(res, d)
  expect_true(file.exists(png_file))
  expect_gt(file.size(png_file), 0)

  shape <- setNames(d$catalog$shape, d$catalog$name)
  expect_identical(shape[["m"]], "matrix 2x3")
  expect_identical(shape[["fac"]], "factor")
  expect_identical(shape[["df"]], "data.frame 3x2")
  expect_identical(shape[["r1"]], "")
})

test_that("summary of a diagnosis counts entries by type like its entry count", {
  rt <- local_runtime()
  x <- save_fmalloc(as.double(1:10), "x", runtime = rt)
  remove_fmalloc("x", runtime = rt)  # x still held: a transient row
  invisible(save_fmalloc(1L, "i", runtime = rt))
  sm <- summary(diagnose_fmalloc_runtime(rt))
  expect_identical(sum(sm$by_type), sm$entries)
  expect_length(capture.output(print(sm)), 1)
})
