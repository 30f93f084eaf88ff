# The C-callable API, through a package built against the installed header.

consumer_lib <- local({
  lib <- NULL
  function() {
    if (!is.null(lib)) return(lib)
    src <- test_path("..", "consumer")
    skip_if_not(dir.exists(src), "the consumer package sources are not shipped here")
    dir <- tempfile("consumer-lib")
    dir.create(dir)
    # Build from a copy: installing from the sources would leave objects there.
    build <- tempfile("consumer-src")
    dir.create(build)
    file.copy(src, build, recursive = TRUE)
    src <- file.path(build, basename(src))
    r <- file.path(R.home("bin"), "R")
    out <- system2(r, c("CMD", "INSTALL", "--no-test-load", "-l", shQuote(dir), shQuote(src)),
      stdout = TRUE, stderr = TRUE,
      env = paste0("R_LIBS=", paste(c(dir, .libPaths()), collapse = .Platform$path.sep)))
    status <- attr(out, "status")
    if (!is.null(status) && status != 0) stop("installing the consumer package failed:\n", paste(out, collapse = "\n"))
    lib <<- dir
    dir
  }
})

test_that("a package linking Rfmalloc uses its C-callable API", {
  lib <- consumer_lib()
  withr_lib <- c(lib, .libPaths())
  old <- .libPaths()
  on.exit(.libPaths(old), add = TRUE)
  .libPaths(withr_lib)
  loadNamespace("RfmallocConsumer")
  ns <- asNamespace("RfmallocConsumer")

  expect_equal(ns$consumer_api_version(), 1L)

  f <- tempfile(fileext = ".heap")
  rt <- open_fmalloc(f)
  on.exit({ cleanup_fmalloc(rt); unlink(f) }, add = TRUE)

  x <- ns$consumer_make(rt, 5)
  expect_true(is_fmalloc(x))
  expect_identical(x[], as.double(1:5))
  d <- ns$consumer_describe(x)
  expect_identical(d$type, 14L)
  expect_identical(d$length, 5)
  expect_true(d$persistent)
  expect_identical(d$first, 1)
  expect_null(ns$consumer_describe(1:3))

  y <- ns$consumer_save_load(rt, c(2.5, 3.5), "from-c")
  expect_true(is_fmalloc(y))
  expect_identical(y[], c(2.5, 3.5))
  expect_identical(load_fmalloc("from-c", runtime = rt)[], c(2.5, 3.5))
  # A taken name comes back as a status code (RFMALLOC_EEXISTS), not an R error.
  expect_identical(ns$consumer_save_load(rt, 1, "from-c"), -9L)
  # No default runtime: RFMALLOC_ENOTFOUND.
  expect_identical(ns$consumer_default(), -8L)
})
