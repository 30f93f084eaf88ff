# The README's Basic Usage block runs as written and prints what it shows.
#
# SPDX-License-Identifier: GPL-2.0-or-later

basic_usage <- '
library(Rfmalloc)

# Initialize fmalloc with a backing file
alloc_file <- tempfile(fileext = ".bin")
init_fmalloc(alloc_file)

# Create vectors using file-backed allocation
v_int <- create_fmalloc_vector("integer", 10)
v_num <- create_fmalloc_vector("numeric", 10)

# Use the vectors normally
v_int[1:3] <- c(1L, 2L, 3L)
v_num[1:3] <- c(1.1, 2.2, 3.3)

print(v_int[1:3])
print(v_num[1:3])

# Clean up
cleanup_fmalloc()
file.remove(alloc_file)
'

test_that("the Basic Usage block prints TRUE, 1 2 3, 1.1 2.2 3.3 and TRUE when sourced", {
  withr::defer(cleanup_fmalloc())
  env <- new.env(parent = globalenv())
  out <- capture.output(
    source(textConnection(basic_usage), local = env, echo = FALSE, print.eval = TRUE)
  )
  expect_identical(out, c("[1] TRUE", "[1] 1 2 3", "[1] 1.1 2.2 3.3", "[1] TRUE"))
  expect_false(file.exists(env$alloc_file))
  # The vectors outlive the cleanup and keep their values.  (Under source()
  # R's withVisible() keeps a second reference to each new vector, so the
  # first assignment copies it: whether v_int is still file-backed is R's
  # choice, not asserted here.)
  expect_identical(env$v_int, c(1L, 2L, 3L, rep(0L, 7)))
  expect_identical(env$v_num, c(1.1, 2.2, 3.3, rep(0, 7)))
  # The default runtime is gone.
  expect_fm_error(create_fmalloc_vector("integer", 1), "closed")
})

test_that("the Basic Usage block run as a script by Rscript prints the same", {
  skip_if_not_installed("callr")
  script <- tempfile(fileext = ".R")
  withr::defer(unlink(script))
  writeLines(basic_usage, script)
  out <- callr::rscript(script, libpath = .libPaths(), show = FALSE)
  expect_identical(out$status, 0L)
  expect_identical(strsplit(out$stdout, "\n")[[1]],
                   c("[1] TRUE", "[1] 1 2 3", "[1] 1.1 2.2 3.3", "[1] TRUE"))
  expect_identical(out$stderr, "")
})

test_that("the Basic Usage vectors print like ordinary vectors", {
  rt <- local_runtime()
  v_int <- create_fmalloc_vector("integer", 10, runtime = rt)
  v_int[1:3] <- c(1L, 2L, 3L)
  expect_output(print(v_int), "^ \\[1\\] 1 2 3 0 0 0 0 0 0 0$")
  v_num <- create_fmalloc_vector("numeric", 4, runtime = rt)
  v_num[1:3] <- c(1.1, 2.2, 3.3)
  expect_identical(capture.output(print(v_num)), capture.output(print(c(1.1, 2.2, 3.3, 0))))
  expect_identical(capture.output(str(v_num)), capture.output(str(c(1.1, 2.2, 3.3, 0))))
})

test_that("the README's two-process weather example works as written", {
  skip_if_not_installed("callr")
  d <- tempfile("weather-")
  dir.create(d)
  withr::defer(unlink(d, recursive = TRUE))
  first <- callr::r(function(d) {
    setwd(d)
    library(Rfmalloc)
    init_fmalloc("weather.heap")
    temps <- create_fmalloc_vector("double", 3, name = "temps")
    temps[] <- c(20.5, 23.0, 19.8)                     # written into the file
    cities <- save_fmalloc(c("Oslo", "Lima", "Pune"), "cities")  # a copy, stored
    l <- list_fmalloc_allocations()
    cleanup_fmalloc()                                  # syncs and closes the file
    l[, c("name", "type", "length", "status")]
  }, list(d = d), libpath = .libPaths())
  expect_identical(first[order(first$name), ], data.frame(
    name = c("cities", "temps"), type = c("character", "double"), length = c(3L, 3L),
    status = c("durable", "durable"), stringsAsFactors = FALSE
  ))
  second <- callr::r(function(d) {
    setwd(d)
    library(Rfmalloc)
    init_fmalloc("weather.heap", readonly = TRUE)
    temps <- load_fmalloc("temps")                     # found by name, mapped
    cities <- load_fmalloc("cities")
    out <- cities[which.max(temps)]                    # "Lima"
    stopifnot(identical(temps, c(20.5, 23.0, 19.8)))
    cleanup_fmalloc()
    out
  }, list(d = d), libpath = .libPaths())
  expect_identical(second, "Lima")
})
