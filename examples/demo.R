# examples/demo.R - Rfmalloc's demo: R vectors that outlive the R process.
#
#   Rscript examples/demo.R write HEAP   # process 1: creates the heap file
#                                        # HEAP and fills named vectors in it
#   Rscript examples/demo.R read HEAP    # process 2: opens HEAP read-only,
#                                        # finds the vectors by name, prints
#                                        # and checks them
#
# tools/setup.sh runs both, as two Rscript processes, on a heap in a fresh
# temporary directory, and checks what the second one prints.  HEAP must not
# exist before the write (the demo does not overwrite data).
#
# SPDX-License-Identifier: GPL-2.0-or-later

suppressPackageStartupMessages(library(Rfmalloc))

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 2L || !(args[1] %in% c("write", "read"))) {
  cat("usage: Rscript demo.R write|read HEAP\n", file = stderr())
  quit(status = 2)
}
mode <- args[1]
heap <- args[2]

# What process 1 stores and process 2 expects, by name.
expected <- list(
  "demo/squares" = (1:10) * (1:10),                  # integer
  "demo/halves"  = seq(0.5, 3, by = 0.5),            # double
  "demo/words"   = c("alpha", "beta", "gamma", "delta") # character
)

if (mode == "write") {
  if (file.exists(heap)) stop("demo.R write: ", heap, " exists already")
  invisible(init_fmalloc(heap))  # creates the heap file: the default runtime

  # Vectors allocated in the file under a name, then filled in place: each
  # assignment writes into the file.
  squares <- create_fmalloc_vector("integer", 10, name = "demo/squares")
  squares[] <- (1:10) * (1:10)
  halves <- create_fmalloc_vector("double", 6, name = "demo/halves")
  for (i in seq_along(halves)) halves[i] <- i / 2
  words <- create_fmalloc_vector("character", 4, name = "demo/words")
  words[] <- c("alpha", "beta", "gamma", "delta")

  # save_fmalloc() copies an ordinary R vector in, with its attributes.
  invisible(save_fmalloc(c(pid = Sys.getpid()), "demo/writer"))

  print(list_fmalloc_allocations()[, c("name", "type", "length", "status")])
  sync_fmalloc()     # durable now (closing syncs too)
  cleanup_fmalloc()
  cat(sprintf("process 1 (pid %d): stored %d vectors in %s\n",
              Sys.getpid(), length(expected) + 1L, heap))
} else {
  invisible(init_fmalloc(heap, readonly = TRUE))
  for (name in names(expected)) {
    v <- load_fmalloc(name)      # mapped from the file, found by name
    cat(sprintf("%s (%s, file-backed: %s):\n", name, typeof(v), is_fmalloc(v)))
    print(v)
    if (!identical(v, expected[[name]])) stop(name, " does not hold what process 1 stored")
  }
  writer <- load_fmalloc("demo/writer")
  cleanup_fmalloc()
  cat(sprintf("process 2 (pid %d): found the vectors process %d stored, by name\n",
              Sys.getpid(), as.integer(writer[["pid"]])))
}
