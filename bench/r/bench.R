# bench/r/bench.R - Rfmalloc against an ordinary R vector, bigmemory and ff.
#
#   Rscript bench/r/bench.R [--n=1e8] [--big-gb=8] [--reps=5] [--read-reps=11]
#                           [--fresh-reps=21] [--chunk=1e6] [--reads=1e6]
#                           [--dir=DIR] [--no-cold] [--keep] [--raw=FILE.rds]
#
# One R session measures, for n doubles and each of four peers (Rfmalloc, an
# ordinary R vector, bigmemory's filebacked.big.matrix with one column, ff's
# ff vector of vmode "double"): create-and-fill, sum, and 1e6 random reads;
# fresh R processes (Rscript) measure opening and loading by name.  A child
# R process creates, fills and sums a --big-gb Rfmalloc vector while its
# anonymous memory (RssAnon) is sampled.  Every figure is a median; runs of
# the peers are interleaved.  The table ends with the targets, met or missed.
# Speed is printed, never asserted.  All files live under one directory
# (--dir, default a new directory under $TMPDIR or /tmp), deleted at the end
# unless --keep.  On a shared machine give it the CPU (as root; with
# autogroups plain nice only ranks processes within one session):
#   setsid sh -c 'echo -20 > /proc/self/autogroup && exec nice -n -20 Rscript bench/r/bench.R'
#
# SPDX-License-Identifier: GPL-2.0-or-later

# ------------------------------------------------------------------ options
parse_args <- function(argv) {
  opt <- list(n = 1e8, big_gb = 8, reps = 5, read_reps = 11, fresh_reps = 21,
              chunk = 1e6, reads = 1e6, dir = NULL, cold = TRUE, keep = FALSE,
              child = NULL, file = NULL, raw = NULL, seed = 42)
  for (a in argv) {
    if (!startsWith(a, "--")) stop("unknown argument: ", a, call. = FALSE)
    kv <- strsplit(sub("^--", "", a), "=", fixed = TRUE)[[1]]
    key <- gsub("-", "_", kv[1])
    val <- if (length(kv) > 1) paste(kv[-1], collapse = "=") else NA
    if (key == "no_cold") { opt$cold <- FALSE; next }
    if (key == "keep") { opt$keep <- TRUE; next }
    if (!key %in% names(opt)) stop("unknown option: ", a, call. = FALSE)
    if (is.na(val)) stop("option needs a value: ", a, call. = FALSE)
    opt[[key]] <- if (key %in% c("dir", "child", "file", "raw")) val else as.numeric(val)
    if (!key %in% c("dir", "child", "file", "raw") && is.na(opt[[key]]))
      stop("not a number: ", a, call. = FALSE)
  }
  opt
}

# ------------------------------------------------------------------ helpers
say <- function(...) { cat(sprintf(...), "\n", sep = "", file = stderr()); flush(stderr()) }

rss_anon_mib <- function(pid = "self") {
  l <- grep("^RssAnon:", readLines(sprintf("/proc/%s/status", pid)), value = TRUE)
  as.numeric(gsub("[^0-9]", "", l)) / 1024
}

# Elapsed seconds and CPU share (user+sys of this process and its waited-for
# children, over elapsed) of evaluating expr.
timed <- function(expr, gc_first = TRUE) {
  if (gc_first) invisible(gc(FALSE))
  t0 <- proc.time(); w0 <- now()
  force(expr)
  w <- now() - w0; d <- proc.time() - t0
  cpu <- sum(d[c("user.self", "sys.self")]) + sum(d[c("user.child", "sys.child")], na.rm = TRUE)
  c(elapsed = w, share = if (w > 0) cpu / w else 1)
}

chunk_starts <- function(n, chunk) seq(1, n, by = chunk)

# Wall-clock seconds (microsecond resolution; proc.time() has milliseconds).
now <- function() as.numeric(Sys.time())

fmt_s <- function(s) {
  if (is.na(s)) return("-")
  if (abs(s) >= 100) sprintf("%.0f s", s)
  else if (abs(s) >= 1) sprintf("%.2f s", s)
  else if (abs(s) >= 0.1) sprintf("%.0f ms", s * 1e3)
  else if (abs(s) >= 0.001) sprintf("%.1f ms", s * 1e3)
  else sprintf("%.0f us", s * 1e6)
}
fmt_ratio <- function(a, b) if (is.na(a) || is.na(b) || a <= 0 || b <= 0) "" else sprintf(" [%.2fx]", a / b)

disk_free_gb <- function(dir) {
  l <- system2("df", c("-Pk", shQuote(dir)), stdout = TRUE)
  as.numeric(strsplit(l[length(l)], "[[:space:]]+")[[1]][4]) * 1024 / 1e9
}

machine_notes <- function() {
  cpu <- grep("^model name", readLines("/proc/cpuinfo"), value = TRUE)
  mem <- grep("^MemTotal", readLines("/proc/meminfo"), value = TRUE)
  list(
    cpu = if (length(cpu)) sub(".*:\\s*", "", cpu[1]) else "?",
    nproc = parallel::detectCores(),
    mem_gib = as.numeric(gsub("[^0-9]", "", mem)) / 1024^2,
    kernel = paste(Sys.info()[["sysname"]], Sys.info()[["release"]], Sys.info()[["machine"]])
  )
}

loadavg <- function() as.numeric(strsplit(readLines("/proc/loadavg"), " ")[[1]][1])

# ------------------------------------------------------------------ peers
# Each peer makes (and fills) a vector of n doubles x[i] = i, in chunks of
# `chunk` elements with x[s:e] <- as.double(s:e): the same pattern for all.
# The fill loop is written out in each maker so that x stays unshared (a
# helper taking x as an argument would make R copy it).

make_rfm <- function(dir, tag, n, chunk) {
  path <- file.path(dir, paste0("rfm-", tag, ".heap"))
  t0 <- now()
  rt <- Rfmalloc::open_fmalloc(path)
  x <- Rfmalloc::create_fmalloc_vector("double", n, runtime = rt, zero_initialize = FALSE, name = "x")
  t1 <- now()
  for (s in chunk_starts(n, chunk)) { e <- min(s + chunk - 1, n); x[s:e] <- as.double(s:e) }
  t2 <- now()
  list(x = x, rt = rt, path = path, create = t1 - t0, fill = t2 - t1)
}

make_mem <- function(dir, tag, n, chunk) {
  t0 <- now()
  x <- numeric(n)
  t1 <- now()
  for (s in chunk_starts(n, chunk)) { e <- min(s + chunk - 1, n); x[s:e] <- as.double(s:e) }
  t2 <- now()
  list(x = x, create = t1 - t0, fill = t2 - t1)
}

make_bm <- function(dir, tag, n, chunk) {
  bf <- paste0("bm-", tag, ".bin"); df <- paste0("bm-", tag, ".desc")
  t0 <- now()
  x <- bigmemory::filebacked.big.matrix(n, 1, type = "double", backingfile = bf,
                                        backingpath = dir, descriptorfile = df)
  t1 <- now()
  for (s in chunk_starts(n, chunk)) { e <- min(s + chunk - 1, n); x[s:e, 1] <- as.double(s:e) }
  t2 <- now()
  list(x = x, path = file.path(dir, c(bf, df)), desc = file.path(dir, df),
       create = t1 - t0, fill = t2 - t1)
}

make_ff <- function(dir, tag, n, chunk) {
  path <- file.path(dir, paste0("ff-", tag, ".ff"))
  t0 <- now()
  x <- ff::ff(vmode = "double", length = n, filename = path, finalizer = "close")
  t1 <- now()
  for (s in chunk_starts(n, chunk)) { e <- min(s + chunk - 1, n); x[s:e] <- as.double(s:e) }
  t2 <- now()
  list(x = x, path = path, create = t1 - t0, fill = t2 - t1)
}

# sum: the vector itself for Rfmalloc and R (both hand R a data pointer);
# bigmemory and ff have no sum over the file, so they sum chunk by chunk.
chunked_sum_bm <- function(x, n, chunk) {
  t <- 0
  for (s in chunk_starts(n, chunk)) { e <- min(s + chunk - 1, n); t <- t + sum(x[s:e, 1]) }
  t
}
chunked_sum_ff <- function(x, n, chunk) {
  t <- 0
  for (s in chunk_starts(n, chunk)) { e <- min(s + chunk - 1, n); t <- t + sum(x[s:e]) }
  t
}

peer_names <- c(rfm = "Rfmalloc", mem = "R vector", bm = "bigmemory", ff = "ff")

# Releases a peer's vector (untimed): Rfmalloc requests the runtime's close
# (done, with a sync, when the vector is collected), ff closes its file; the
# caller then drops its references and runs gc().
drop_obj <- function(key, o) {
  if (is.null(o)) return(invisible())
  if (key == "rfm") Rfmalloc::cleanup_fmalloc(o$rt)
  if (key == "ff") close(o$x)
  invisible()
}

# ------------------------------------------------------------------ fresh processes
rscript <- file.path(R.home("bin"), "Rscript")

# Runs code in a new Rscript; returns wall seconds (measured here, around the
# whole process), the child's CPU share, and its last line of output.
run_fresh <- function(code) {
  t0 <- proc.time(); w0 <- now()
  out <- suppressWarnings(system2(rscript, c("-e", shQuote(code)), stdout = TRUE, stderr = FALSE))
  w <- now() - w0; d <- proc.time() - t0
  st <- attr(out, "status")
  if (!is.null(st) && st != 0) stop("child failed (status ", st, "): ", code, call. = FALSE)
  cpu <- sum(d[c("user.child", "sys.child")], na.rm = TRUE)
  list(wall = w, share = cpu / w,
       out = if (length(out)) out[length(out)] else "")
}

# Child code: the library line is what its baseline runs; the timed part is
# measured inside the child as well and printed with the element touched.
timed_child <- function(lib, body) {
  sprintf(paste0("%s; t0 <- Sys.time(); %s; ",
                 "cat(format(as.numeric(Sys.time() - t0, units = \"secs\"), digits = 6), v, \"\\n\")"),
          lib, body)
}

# As timed_child, and then the child closes the runtime and times that too:
# rm + cleanup_fmalloc + gc(), less the time of a gc() run just before (the
# close happens in that gc, when the vector's finalizer drops the runtime).
# Prints: load seconds, the element, close seconds.
timed_close_child <- function(lib, body) {
  sprintf(paste0("%s; s <- function(a, b) as.numeric(b - a, units = \"secs\"); t0 <- Sys.time(); %s; ",
                 "t1 <- Sys.time(); invisible(gc()); t2 <- Sys.time(); rm(x); cleanup_fmalloc(rt); ",
                 "invisible(gc()); t3 <- Sys.time(); ",
                 "cat(format(s(t0, t1), digits = 6), v, format(s(t2, t3) - s(t1, t2), digits = 6), \"\\n\")"),
          lib, body)
}

evict <- function(files) {
  for (f in files)
    system2("dd", c(paste0("if=", f), "iflag=nocache", "count=0", "status=none"))
}

# ------------------------------------------------------------------ the big vector (child)
# Creates, fills (chunked) and sums a vector of n doubles in its own heap
# file while a shell loop samples this process's RssAnon every 20 ms.
big_child <- function(opt) {
  suppressPackageStartupMessages(library(Rfmalloc))
  n <- opt$n; chunk <- opt$chunk; path <- opt$file
  stopf <- paste0(path, ".stop"); samples <- paste0(path, ".rss")
  invisible(gc(FALSE)); invisible(gc(FALSE))
  r0 <- rss_anon_mib()
  pid <- Sys.getpid()
  system(sprintf(paste0("sh -c 'while [ ! -e %s ] && kill -0 %d 2>/dev/null; do ",
                        "grep RssAnon /proc/%d/status; sleep 0.02; done' > %s 2>/dev/null"),
                 stopf, pid, pid, samples), wait = FALSE)
  Sys.sleep(0.2)
  t0 <- now()
  rt <- open_fmalloc(path)
  x <- create_fmalloc_vector("double", n, runtime = rt, zero_initialize = FALSE, name = "big")
  t1 <- now()
  r_create <- rss_anon_mib()
  peak_in <- r_create
  k <- 0
  for (s in chunk_starts(n, chunk)) {
    e <- min(s + chunk - 1, n); x[s:e] <- as.double(s:e)
    k <- k + 1
    if (k %% 50 == 0) peak_in <- max(peak_in, rss_anon_mib())
  }
  t2 <- now()
  r_fill <- rss_anon_mib()
  tot <- sum(x)
  t3 <- now()
  r_sum <- rss_anon_mib()
  Sys.sleep(0.1)
  file.create(stopf)
  Sys.sleep(0.1)
  smp <- suppressWarnings(as.numeric(gsub("[^0-9]", "", readLines(samples))) / 1024)
  smp <- smp[!is.na(smp)]
  ok <- abs(tot - n * (n + 1) / 2) <= 1e-9 * n * (n + 1) / 2
  invisible(gc(FALSE))
  r_gc <- rss_anon_mib()
  rm(x); invisible(gc(FALSE)); cleanup_fmalloc(rt); rm(rt); invisible(gc(FALSE))
  unlink(c(stopf, samples))
  res <- c(rss_before = r0, rss_create = r_create, rss_fill = r_fill, rss_sum = r_sum, rss_gc = r_gc,
           rss_peak_sampled = max(c(smp, peak_in, r_create, r_fill, r_sum)),
           samples = length(smp), create_s = t1 - t0, fill_s = t2 - t1, sum_s = t3 - t2,
           sum_ok = as.numeric(ok))
  for (k in names(res)) cat(k, " ", format(res[[k]], digits = 10), "\n", sep = "")
}

# ------------------------------------------------------------------ main
main <- function(opt) {
  for (p in c("Rfmalloc", "bigmemory", "ff"))
    if (!requireNamespace(p, quietly = TRUE)) stop("package ", p, " is not installed", call. = FALSE)
  suppressPackageStartupMessages({ library(Rfmalloc); library(bigmemory); library(ff) })
  # Children find the same packages.
  Sys.setenv(R_LIBS = paste(.libPaths(), collapse = ":"))

  n <- opt$n; chunk <- opt$chunk
  dir <- opt$dir
  if (is.null(dir)) {
    base <- Sys.getenv("TMPDIR", "/tmp")
    dir <- file.path(base, sprintf("rfmalloc-bench-%d", Sys.getpid()))
  }
  dir.create(dir, recursive = TRUE, showWarnings = FALSE)
  dir <- normalizePath(dir)
  if (!opt$keep) on.exit(unlink(dir, recursive = TRUE), add = TRUE)
  options(fftempdir = dir)

  mi <- machine_notes()
  load_start <- loadavg()
  started <- format(Sys.time(), "%Y-%m-%d %H:%M:%S %Z")
  fs <- system2("df", c("-PT", shQuote(dir)), stdout = TRUE)
  fs <- strsplit(fs[length(fs)], "[[:space:]]+")[[1]]

  # Disk: the n-double peers keep 4 files of 8n bytes (+ one .rds, + one
  # round's files while the next is made); the big vector needs its size
  # plus the 1/8 that libfmrt adds when it grows the heap file.  With < 20 GB
  # free, use the largest size that fits (and leave 2 GB).
  free_gb <- disk_free_gb(dir)
  small_need_gb <- 6 * 8 * n / 1e9
  big_gb <- opt$big_gb
  big_note <- sprintf("%.1f GB free in %s", free_gb, dir)
  if (big_gb > 0 && free_gb < 20) {
    fit <- floor((free_gb - small_need_gb - 2) / 1.125)
    if (fit < big_gb) {
      big_note <- sprintf("%s (< 20 GB): big vector reduced from %g GB to %g GB, the largest that fits",
                          big_note, big_gb, max(fit, 0))
      big_gb <- max(fit, 0)
    }
  }
  big_n <- floor(big_gb * 1e9 / 8)
  say("bench: n=%g, dir=%s, %s", n, dir, big_note)

  set.seed(opt$seed)
  idx <- sample.int(n, opt$reads)
  keys <- names(peer_names)
  makers <- list(rfm = make_rfm, mem = make_mem, bm = make_bm, ff = make_ff)

  # --- create-and-fill: reps rounds; the peers' order rotates per round.
  cf <- array(NA_real_, c(opt$reps, length(keys), 4),
              list(NULL, keys, c("create", "fill", "total", "share")))
  objs <- setNames(vector("list", length(keys)), keys)
  for (r in seq_len(opt$reps)) {
    ord <- keys[(seq_along(keys) + r - 2) %% length(keys) + 1]
    for (k in ord) {
      # Drop this peer's previous vector and its files (untimed).
      old <- objs[[k]]; objs[k] <- list(NULL)
      drop_obj(k, old); rm(old); invisible(gc(FALSE))
      unlink(list.files(dir, pattern = paste0("^", k, "-"), full.names = TRUE))
      o <- NULL
      tm <- timed(o <- makers[[k]](dir, sprintf("r%d", r), n, chunk))
      cf[r, k, ] <- c(o$create, o$fill, tm[["elapsed"]], tm[["share"]])
      objs[[k]] <- o; rm(o)
      say("create+fill round %d %-9s %s (create %s, fill %s)", r, peer_names[[k]],
          fmt_s(cf[r, k, "total"]), fmt_s(cf[r, k, "create"]), fmt_s(cf[r, k, "fill"]))
    }
  }

  # --- sum and random reads on the last round's vectors.
  sum_of <- list(rfm = function() sum(objs$rfm$x), mem = function() sum(objs$mem$x),
                 bm = function() chunked_sum_bm(objs$bm$x, n, chunk),
                 ff = function() chunked_sum_ff(objs$ff$x, n, chunk))
  read_of <- list(rfm = function() objs$rfm$x[idx], mem = function() objs$mem$x[idx],
                  bm = function() objs$bm$x[idx, 1], ff = function() objs$ff$x[idx])
  expect_sum <- n * (n + 1) / 2
  expect_read <- as.double(idx)
  sm <- rd <- array(NA_real_, c(opt$read_reps, length(keys), 2), list(NULL, keys, c("t", "share")))
  for (r in seq_len(opt$read_reps)) {
    ord <- keys[(seq_along(keys) + r - 2) %% length(keys) + 1]
    for (k in ord) {
      v <- NULL
      sm[r, k, ] <- timed(v <- sum_of[[k]]())
      if (abs(v - expect_sum) > 1e-9 * expect_sum) stop("wrong sum from ", k, ": ", v)
      v <- NULL
      rd[r, k, ] <- timed(v <- read_of[[k]]())
      if (!identical(as.double(v), expect_read)) stop("wrong random reads from ", k)
      rm(v)
    }
  }
  say("sum and random reads done")

  # --- files for the fresh-process loads: keep the last round's vectors.
  rfm_path <- objs$rfm$path
  bm_desc <- objs$bm$desc
  ff_meta <- file.path(dir, "ff-meta.rds")
  saveRDS(objs$ff$x, ff_meta)
  mem_rds <- file.path(dir, "mem.rds")
  saveRDS(objs$mem$x, mem_rds, compress = FALSE)
  for (k in keys) { o <- objs[[k]]; objs[k] <- list(NULL); drop_obj(k, o); rm(o) }
  invisible(gc(FALSE))
  small_path <- file.path(dir, "rfm-small.heap")
  rt <- open_fmalloc(small_path)
  invisible(save_fmalloc(as.double(1:1024), "small", runtime = rt))
  cleanup_fmalloc(rt); rm(rt); invisible(gc(FALSE))
  system2("sync", shQuote(list.files(dir, full.names = TRUE)))

  # --- the big vector, in a child (RssAnon of a fresh process).
  big <- NULL
  big_path <- file.path(dir, "rfm-big.heap")
  if (big_n > 0) {
    say("big vector: %g doubles (%g GB) in %s", big_n, big_n * 8 / 1e9, big_path)
    self <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)[1])
    out <- system2(rscript, c(shQuote(self), "--child=big", paste0("--n=", format(big_n, scientific = FALSE)),
                              paste0("--chunk=", format(chunk, scientific = FALSE)),
                              paste0("--file=", shQuote(big_path))), stdout = TRUE)
    kv <- do.call(rbind, strsplit(out, " ", fixed = TRUE))
    big <- setNames(as.numeric(kv[, 2]), kv[, 1])
    if (big[["sum_ok"]] != 1) stop("the big vector summed wrong")
    system2("sync", shQuote(big_path))
  }

  # --- fresh processes: baselines and loads, interleaved in shuffled order.
  lib_rfm <- "library(Rfmalloc)"
  lib_bm <- "suppressPackageStartupMessages(library(bigmemory))"
  lib_ff <- "suppressPackageStartupMessages(library(ff))"
  rfm_body <- function(path, name) sprintf(
    "rt <- open_fmalloc(\"%s\"); x <- load_fmalloc(\"%s\", runtime = rt); v <- x[length(x)]", path, name)
  variants <- list(
    base_R   = list(code = "invisible(0)"),
    mem      = list(code = timed_child("invisible(0)", sprintf("x <- readRDS(\"%s\"); v <- x[length(x)]", mem_rds)),
                    base = "base_R", expect = n),
    base_rfm = list(code = lib_rfm),
    rfm_8k   = list(code = timed_child(lib_rfm, rfm_body(small_path, "small")), base = "base_rfm", expect = 1024),
    rfm      = list(code = timed_child(lib_rfm, rfm_body(rfm_path, "x")), base = "base_rfm", expect = n),
    base_bm  = list(code = lib_bm),
    bm       = list(code = timed_child(lib_bm, sprintf("x <- attach.big.matrix(\"%s\"); v <- x[nrow(x), 1]", bm_desc)),
                    base = "base_bm", expect = n),
    base_ff  = list(code = lib_ff),
    ff       = list(code = timed_child(lib_ff, sprintf("x <- readRDS(\"%s\"); v <- suppressMessages(x[length(x)])", ff_meta)),
                    base = "base_ff", expect = n)
  )
  if (!is.null(big)) variants$rfm_big <- list(code = timed_child(lib_rfm, rfm_body(big_path, "big")),
                                              base = "base_rfm", expect = big_n)
  variants$rfm_8k_close <- list(code = timed_close_child(lib_rfm, rfm_body(small_path, "small")), expect = 1024)
  variants$rfm_close <- list(code = timed_close_child(lib_rfm, rfm_body(rfm_path, "x")), expect = n)
  if (!is.null(big))
    variants$rfm_big_close <- list(code = timed_close_child(lib_rfm, rfm_body(big_path, "big")), expect = big_n)
  if (opt$cold) {
    variants$rfm_8k_cold <- c(variants$rfm_8k, list(evict = small_path))
    if (!is.null(big)) variants$rfm_big_cold <- c(variants$rfm_big, list(evict = big_path))
  }
  fr <- array(NA_real_, c(opt$fresh_reps, length(variants), 4),
              list(NULL, names(variants), c("wall", "inproc", "share", "close")))
  for (r in seq_len(opt$fresh_reps)) {
    for (v in sample(names(variants))) {
      va <- variants[[v]]
      if (!is.null(va$evict)) evict(va$evict)
      res <- run_fresh(va$code)
      inproc <- close <- NA_real_
      if (!is.null(va$expect)) {
        f <- strsplit(trimws(res$out), " +")[[1]]
        inproc <- as.numeric(f[1])
        if (length(f) >= 3) close <- as.numeric(f[3])
        if (length(f) < 2 || as.numeric(f[2]) != va$expect)
          stop("fresh-process load ", v, " read ", res$out, ", expected ", va$expect)
      }
      fr[r, v, ] <- c(res$wall, inproc, res$share, close)
    }
    say("fresh-process round %d of %d done", r, opt$fresh_reps)
  }
  load_end <- loadavg()

  # ------------------------------------------------------------------ report
  med <- function(x) stats::median(x, na.rm = TRUE)
  cfm <- apply(cf, c(2, 3), med)
  smm <- apply(sm[, , "t", drop = FALSE], 2, med)
  rdm <- apply(rd[, , "t", drop = FALSE], 2, med)
  frm <- apply(fr, c(2, 3), med)
  # Run-to-run noise of a fresh-process figure: the standard error of its
  # median, 1.2533 * sd / sqrt(runs), with sd estimated by the MAD.
  fse <- apply(fr[, , "wall", drop = FALSE], 2, function(w) 1.2533 * stats::mad(w) / sqrt(length(w)))
  delta <- function(v) frm[v, "wall"] - frm[variants[[v]]$base, "wall"]
  load_delta <- c(rfm = delta("rfm"), mem = delta("mem"), bm = delta("bm"), ff = delta("ff"))

  cat("Rfmalloc (R): Rfmalloc against an ordinary R vector, bigmemory and ff\n")
  cat(sprintf("command:  Rscript bench/r/bench.R %s\n", paste(commandArgs(TRUE), collapse = " ")))
  cat(sprintf("date:     %s\n", started))
  cat(sprintf("machine:  nproc %d, %s, %.1f GiB RAM, %s\n", mi$nproc, mi$cpu, mi$mem_gib, mi$kernel))
  cat(sprintf("R:        %s; Rfmalloc %s (%s), bigmemory %s, ff %s\n", R.version.string,
              packageVersion("Rfmalloc"), find.package("Rfmalloc"), packageVersion("bigmemory"),
              packageVersion("ff")))
  cat(sprintf("files:    %s (%s on %s, %s)\n", dir, fs[2], fs[1], big_note))
  cat(sprintf("load:     1-minute load average %.2f at start, %.2f at end\n", load_start, load_end))
  cat(sprintf("runs:     in-session figures are medians of %d (create+fill) and %d (sum, reads) runs,\n",
              opt$reps, opt$read_reps))
  cat(sprintf("          peers interleaved; fresh-process figures medians of %d runs in shuffled order\n",
              opt$fresh_reps))
  cat(sprintf("sizes:    n = %s doubles (%s MB); fill in chunks of %s, x[s:e] <- as.double(s:e);\n",
              format(n, big.mark = ",", scientific = FALSE), format(8 * n / 1e6, big.mark = ","),
              format(chunk, big.mark = ",", scientific = FALSE)))
  cat(sprintf("          random reads x[idx], idx = %s fixed random positions\n\n",
              format(opt$reads, big.mark = ",", scientific = FALSE)))

  cat("Median seconds, lower is better; [x] = Rfmalloc time / peer time (< 1: Rfmalloc faster).\n")
  row <- function(label, vals) {
    cells <- vapply(keys, function(k) {
      if (k == "rfm") fmt_s(vals[["rfm"]])
      else paste0(fmt_s(vals[[k]]), fmt_ratio(vals[["rfm"]], vals[[k]]))
    }, "")
    cat(sprintf("%-32s %10s | %-18s | %-18s | %-18s\n", label, cells[1], cells[2], cells[3], cells[4]))
  }
  cat(sprintf("%-32s %10s | %-18s | %-18s | %-18s\n", "operation", "Rfmalloc", "R vector",
              "bigmemory", "ff"))
  cat(strrep("-", 106), "\n", sep = "")
  row("create (file/vector)", cfm[, "create"])
  row("fill (chunked)", cfm[, "fill"])
  row("create+fill", cfm[, "total"])
  row("sum (*)", smm)
  row(sprintf("%s random reads x[idx]", format(opt$reads, scientific = TRUE)), rdm)
  row("load by name, fresh process (**)", load_delta)
  cat("(*)  Rfmalloc and R vector: sum(x); bigmemory and ff: sum of sum(x[s:e]) over the fill's chunks\n")
  cat("     (neither has a sum over the file without extra packages).\n")
  cat("(**) wall time of Rscript -e '<library>; <open and load>; <read x[length(x)]>' minus that of\n")
  cat("     Rscript -e '<library>' (medians): Rfmalloc open_fmalloc + load_fmalloc; R vector\n")
  cat("     readRDS of an uncompressed .rds; bigmemory attach.big.matrix of the descriptor file;\n")
  cat("     ff readRDS of the saved ff object (file opened on first access).\n\n")

  cat("Fresh processes (median wall seconds of the whole Rscript run, and of the load alone timed\n")
  cat("inside the child; beyond = wall - wall of its baseline; +- = standard error of the wall median):\n")
  cat(sprintf("  %-46s %9s %8s %9s %9s %6s\n", "run", "wall", "+-", "beyond", "in-child", "cpu"))
  labels <- c(base_R = "Rscript -e 'invisible(0)'", mem = "  + readRDS of n doubles",
              base_rfm = "Rscript -e 'library(Rfmalloc)'",
              rfm_8k = "  + open, load, touch: 8 KB vector",
              rfm = sprintf("  + open, load, touch: %s MB vector", format(8 * n / 1e6)),
              rfm_big = sprintf("  + open, load, touch: %g GB vector", big_n * 8 / 1e9),
              rfm_8k_cold = "  + the same, 8 KB, file evicted from cache",
              rfm_big_cold = sprintf("  + the same, %g GB, file evicted from cache", big_n * 8 / 1e9),
              base_bm = "Rscript -e 'library(bigmemory)'", bm = "  + attach.big.matrix, touch",
              base_ff = "Rscript -e 'library(ff)'", ff = "  + readRDS of the ff object, touch")
  for (v in intersect(names(labels), names(variants))) {
    b <- if (is.null(variants[[v]]$base)) NA else delta(v)
    cat(sprintf("  %-46s %9s %8s %9s %9s %5.0f%%\n", labels[[v]], fmt_s(frm[v, "wall"]), fmt_s(fse[[v]]),
                fmt_s(b), fmt_s(frm[v, "inproc"]), 100 * frm[v, "share"]))
  }
  cat("  (cpu: CPU time of the child over its wall time, median; < 100% also means waiting on I/O)\n\n")
  cat("Rfmalloc in the child, open + load + touch and then the close that otherwise happens at exit\n")
  cat("(rm + cleanup_fmalloc + gc(), less a gc() just before; medians of the same number of runs):\n")
  for (v in intersect(c("rfm_8k_close", "rfm_close", "rfm_big_close"), names(variants))) {
    size <- switch(v, rfm_8k_close = "8 KB", rfm_close = sprintf("%s MB", format(8 * n / 1e6)),
                   rfm_big_close = sprintf("%g GB", big_n * 8 / 1e9))
    cat(sprintf("  %-8s vector: open+load+touch %9s, close %9s, together %9s\n", size,
                fmt_s(frm[v, "inproc"]), fmt_s(frm[v, "close"]),
                fmt_s(med(fr[, v, "inproc"] + fr[, v, "close"]))))
  }
  cat("\n")

  if (!is.null(big)) {
    cat(sprintf("Big vector (child process): %s doubles = %g GB in its own heap file\n",
                format(big_n, big.mark = ",", scientific = FALSE), big_n * 8 / 1e9))
    cat(sprintf("  create %s, fill %s (%.0f MB/s), sum %s (%.0f MB/s)\n", fmt_s(big[["create_s"]]),
                fmt_s(big[["fill_s"]]), big_n * 8 / 1e6 / big[["fill_s"]], fmt_s(big[["sum_s"]]),
                big_n * 8 / 1e6 / big[["sum_s"]]))
    cat(sprintf("  RssAnon MiB: before %.1f, after create %.1f, after fill %.1f, after sum %.1f, after gc() %.1f,\n",
                big[["rss_before"]], big[["rss_create"]], big[["rss_fill"]], big[["rss_sum"]], big[["rss_gc"]]))
    cat(sprintf("  peak %.1f (%d samples every 20 ms + one per 50 chunks): growth %.1f MiB\n\n",
                big[["rss_peak_sampled"]], as.integer(big[["samples"]]),
                big[["rss_peak_sampled"]] - big[["rss_before"]]))
  }

  shares <- c(cf[, , "share"], sm[, , "share"], rd[, , "share"])
  cat(sprintf("In-session runs that got < 90%% of a CPU: %d of %d (CPU time / wall time).\n\n",
              sum(shares < 0.9, na.rm = TRUE), sum(!is.na(shares))))

  verdict <- function(ok) if (isTRUE(ok)) "met" else "MISSED"
  cat("Targets (printed, never asserted):\n")
  r_sum <- smm[["rfm"]] / smm[["mem"]]
  cat(sprintf("  sum within 1.2x of the R vector ............. %.2fx: %s\n", r_sum, verdict(r_sum <= 1.2)))
  best <- min(cfm["bm", "total"], cfm["ff", "total"])
  bestname <- if (cfm["bm", "total"] <= cfm["ff", "total"]) "bigmemory" else "ff"
  r_cf <- cfm["rfm", "total"] / best
  cat(sprintf("  create+fill <= faster of bigmemory and ff ... %s vs %s (%s): %.2fx: %s\n",
              fmt_s(cfm["rfm", "total"]), fmt_s(best), bestname, r_cf, verdict(r_cf <= 1)))
  d8k <- delta("rfm_8k")
  cat(sprintf("  load < 50 ms beyond start-up, 8 KB ......... %s: %s\n", fmt_s(d8k), verdict(d8k < 0.05)))
  if (!is.null(big)) {
    dbig <- delta("rfm_big")
    cat(sprintf("  load < 50 ms beyond start-up, %g GB ......... %s: %s\n", big_n * 8 / 1e9, fmt_s(dbig),
                verdict(dbig < 0.05)))
    # About the same: the in-child load times within 10 ms, and the wall
    # figures within 10 ms or within twice the standard error of their
    # difference (the wall figures alone cannot resolve 10 ms on a busy machine).
    both <- function(v) med(fr[, v, "inproc"] + fr[, v, "close"])
    ic <- abs(both("rfm_big_close") - both("rfm_8k_close"))
    wd <- abs(dbig - d8k)
    wse <- sqrt(fse[["rfm_big"]]^2 + fse[["rfm_8k"]]^2)
    cat(sprintf("  8 KB and %g GB loads about the same ......... in-child load+close %s vs %s, wall %s vs %s\n",
                big_n * 8 / 1e9, fmt_s(both("rfm_8k_close")), fmt_s(both("rfm_big_close")),
                fmt_s(d8k), fmt_s(dbig)))
    cat(sprintf("    (want in-child <= 10 ms apart, wall <= max(10 ms, 2 x se %s) apart): %s\n",
                fmt_s(wse), verdict(ic <= 0.01 && wd <= max(0.01, 2 * wse))))
    g <- big[["rss_peak_sampled"]] - big[["rss_before"]]
    cat(sprintf("  RssAnon growth < 100 MB, %g GB create/fill/sum ... %.1f MiB: %s\n",
                big_n * 8 / 1e9, g, verdict(g * 1.048576 < 100)))
  } else {
    cat("  (no big vector: --big-gb=0 or no disk space)\n")
  }
  if (big_gb != opt$big_gb) cat(sprintf("Note: %s.\n", big_note))
  res <- list(cf = cf, sm = sm, rd = rd, fr = fr, big = big, opt = opt)
  if (!is.null(opt$raw)) saveRDS(res, opt$raw)
  invisible(res)
}

opt <- parse_args(commandArgs(TRUE))
if (identical(opt$child, "big")) {
  big_child(opt)
} else {
  main(opt)
}
