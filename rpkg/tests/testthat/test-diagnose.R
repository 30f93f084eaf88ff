# R/diagnose.R: diagnose_fmalloc_runtime() and its print, summary and plot
# methods report the runtime's real state.
#
# SPDX-License-Identifier: GPL-2.0-or-later

test_that("diagnose_fmalloc_runtime reports catalog, statistics, verification and extents", {
  rt <- local_runtime()
  x <- save_fmalloc(as.double(1:1e4), "x", runtime = rt)
  s <- save_fmalloc(c("a", "b"), "s", runtime = rt)
  withr::local_options(rfmalloc.transient_threshold = 0)
  y <- x[1:5000]
  d <- diagnose_fmalloc_runtime(rt)
  expect_s3_class(d, "fmalloc_diagnosis")
  expect_identical(names(d), c("runtime", "catalog", "stats", "verify", "extents"))
  expect_identical(d$runtime$mode, "persistent")
  expect_false(d$runtime$readonly)
  expect_identical(d$verify$problems, 0)
  expect_identical(d$verify$transient_allocations, 1)
  expect_identical(d$verify$catalog_entries, 2)
  expect_identical(d$catalog$name[d$catalog$status == "durable"], c("s", "x"))
  e <- d$extents
  expect_identical(names(e), c("offset", "bytes", "status", "name"))
  expect_false(is.unsorted(e$offset))
  expect_setequal(e$name[e$status == "durable"], c("x", "s"))
  expect_identical(sum(e$status == "transient"), 1L)
  expect_gte(e$bytes[e$name == "x"], 8e4)
  expect_gte(d$stats$in_use_bytes, 8e4 + 4e4)
  expect_lte(d$stats$in_use_bytes, d$stats$file_bytes)

  out <- capture.output(res <- print(d))
  expect_identical(res, d)
  expect_match(out[1], "Rfmalloc runtime: ", fixed = TRUE)
  expect_true(any(grepl("verify: healthy", out, fixed = TRUE)))
  expect_true(any(grepl("2 catalog entries, 1 transient allocations", out, fixed = TRUE)))

  sm <- summary(d)
  expect_s3_class(sm, "summary.fmalloc_diagnosis")
  expect_true(sm$healthy)
  expect_identical(sm$entries, 2L)
  expect_output(print(sm), "healthy")

  pdf(NULL)
  withr::defer(dev.off())
  expect_identical(plot(d), d)
})

test_that("diagnose_fmalloc_runtime of an empty, a read-only and a closed runtime", {
  f <- local_heap_path()
  rt <- open_fmalloc(f)
  d <- diagnose_fmalloc_runtime(rt)
  expect_identical(nrow(d$catalog), 0L)
  expect_identical(nrow(d$extents), 0L)
  expect_identical(d$verify$problems, 0)
  expect_false(any(grepl("Catalog:", capture.output(print(d)), fixed = TRUE)))
  invisible(save_fmalloc(1:3, "a", runtime = rt))
  cleanup_fmalloc(rt)
  expect_fm_error(diagnose_fmalloc_runtime(rt), "closed")
  gc()
  ro <- local_runtime(f, readonly = TRUE)
  d <- diagnose_fmalloc_runtime(ro)
  expect_true(d$runtime$readonly)
  expect_identical(d$catalog$name, "a")
  expect_match(capture.output(print(d))[2], "read-only")
})

test_that("diagnose_fmalloc_runtime names a superblock copy that fails its check", {
  f <- local_heap_path()
  rt <- open_fmalloc(f)
  x <- save_fmalloc(c(1, 2, 3), "x", runtime = rt)
  expect_identical(diagnose_fmalloc_runtime(rt)$verify$superblock_damaged, c(FALSE, FALSE))
  cleanup_fmalloc(rt)
  rm(x)
  gc()
  # Damage copy 1 (the page at offset 4096) inside its checksummed fields.
  con <- file(f, "r+b")
  seek(con, 4096 + 40, rw = "read")
  b <- readBin(con, "raw", 1)
  seek(con, 4096 + 40, rw = "write")
  writeBin(xor(b, as.raw(0x10)), con)
  close(con)
  ro <- local_runtime(f, readonly = TRUE)  # a read-write open would rewrite it at once
  d <- diagnose_fmalloc_runtime(ro)
  expect_identical(d$verify$superblock_damaged, c(FALSE, TRUE))
  expect_identical(d$verify$problems, 0)
  out <- capture.output(print(d))
  expect_true(any(grepl("superblock copy 1 fails its check; copy 0 is in use", out, fixed = TRUE)))
  expect_identical(load_fmalloc("x", runtime = ro)[], c(1, 2, 3))
})
