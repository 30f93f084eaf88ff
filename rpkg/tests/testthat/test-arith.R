# Arithmetic, comparisons, math functions and summaries on Rfmalloc vectors
# give exactly base R's answers (values, types, NA/NaN, warnings) over grids
# of awkward values, for file-backed operands on either side.
#
# SPDX-License-Identifier: GPL-2.0-or-later

int_grid <- c(-7L, -2L, -1L, 0L, 1L, 2L, 5L, NA, .Machine$integer.max, -.Machine$integer.max, 46341L)
dbl_grid <- c(-7.5, -2, -1, -0, 0, 0.5, 1, 2, 5, NA, NaN, Inf, -Inf, .Machine$integer.max, 1e308, 5e-324)
lgl_grid <- c(TRUE, FALSE, NA)
cplx_grid <- c(0i, 1 + 1i, -2 - 0.5i, complex(real = NA, imaginary = 1), complex(real = Inf, imaginary = 0),
               complex(real = NaN, imaginary = NaN), 3 + 0i)

# All pairs of a grid: list(a = ..., b = ...), each vector of length n^2.
pairs_of <- function(g) list(a = rep(g, each = length(g)), b = rep(g, times = length(g)))

binary_ops <- c("+", "-", "*", "/", "^", "%%", "%/%", "==", "!=", "<", "<=", ">", ">=", "&", "|")

check_binary <- function(rt, a, b, ops, what) {
  fa <- save_fmalloc(a, paste0(what, "_a"), runtime = rt)
  fb <- save_fmalloc(b, paste0(what, "_b"), runtime = rt)
  expect_true(is_fmalloc(fa) && is_fmalloc(fb))
  for (op in ops) {
    f <- match.fun(op)
    expect_same_as_base(f(fa, fb), f(a, b), label = paste(what, "fm", op, "fm"))
    expect_same_as_base(f(fa, b), f(a, b), label = paste(what, "fm", op, "base"))
    expect_same_as_base(f(a, fb), f(a, b), label = paste(what, "base", op, "fm"))
    expect_same_as_base(f(fa, 3L), f(a, 3L), label = paste(what, "fm", op, "3L"))
    expect_same_as_base(f(-2, fb), f(-2, b), label = paste(what, "-2", op, "fm"))
  }
}

for (threshold in c(1048576, 0)) {
  test_that(paste("integer arithmetic and comparisons match base R, threshold", threshold), {
    withr::local_options(rfmalloc.transient_threshold = threshold)
    rt <- local_runtime()
    p <- pairs_of(int_grid)
    check_binary(rt, p$a, p$b, binary_ops, "int")
  })

  test_that(paste("double arithmetic and comparisons match base R, threshold", threshold), {
    withr::local_options(rfmalloc.transient_threshold = threshold)
    rt <- local_runtime()
    p <- pairs_of(dbl_grid)
    check_binary(rt, p$a, p$b, binary_ops, "dbl")
  })
}

test_that("mixed integer/double/logical operands match base R", {
  rt <- local_runtime()
  i <- rep(int_grid, length.out = 48)
  d <- rep(dbl_grid, length.out = 48)
  l <- rep(lgl_grid, length.out = 48)
  fi <- save_fmalloc(i, "i", runtime = rt)
  fd <- save_fmalloc(d, "d", runtime = rt)
  fl <- save_fmalloc(l, "l", runtime = rt)
  for (op in binary_ops) {
    f <- match.fun(op)
    expect_same_as_base(f(fi, fd), f(i, d), label = paste("int", op, "dbl"))
    expect_same_as_base(f(fd, fi), f(d, i), label = paste("dbl", op, "int"))
    expect_same_as_base(f(fl, fi), f(l, i), label = paste("lgl", op, "int"))
    expect_same_as_base(f(fl, fl), f(l, l), label = paste("lgl", op, "lgl"))
    expect_same_as_base(f(fd, fl), f(d, l), label = paste("dbl", op, "lgl"))
  }
  expect_same_as_base(xor(fl, rev(fl)), xor(l, rev(l)))
  expect_same_as_base(fl && TRUE, l && TRUE)
  expect_same_as_base(isTRUE(fl[1]), isTRUE(l[1]))
})

test_that("the documented integer corner cases hold on Rfmalloc vectors", {
  rt <- local_runtime()
  x <- save_fmalloc(c(5L, -5L, 2L, .Machine$integer.max, 0L), "x", runtime = rt)
  expect_identical(x[1] %% -2L, -1L)
  expect_identical(x[2] %/% 2L, -3L)
  expect_identical(x[3]^-1L, 0.5)
  expect_warning(ov <- x[4] + 1L, "NAs produced by integer overflow", fixed = TRUE)
  expect_identical(ov, NA_integer_)
  expect_warning(ov <- x * 2L, "NAs produced by integer overflow", fixed = TRUE)
  expect_identical(ov, c(10L, -10L, 4L, NA, 0L))
  expect_identical(x %/% 0L, c(NA, NA, NA, NA, NA_integer_))
  expect_identical(x %% 0L, rep(NA_integer_, 5))
  expect_identical(x / 0L, c(Inf, -Inf, Inf, Inf, NaN))
  d <- save_fmalloc(c(NaN, 5, -5), "d", runtime = rt)
  expect_identical(d == 1, c(NA, FALSE, FALSE))
  expect_identical(d[2:3] %% 0, c(NaN, NaN))
  expect_identical(d[3] %% 3, 1)
  expect_identical(d[3] %/% 3, -2)
})

test_that("unary operators and math functions match base R", {
  rt <- local_runtime()
  i <- int_grid
  d <- dbl_grid
  fi <- save_fmalloc(i, "i", runtime = rt)
  fd <- save_fmalloc(d, "d", runtime = rt)
  fl <- save_fmalloc(lgl_grid, "l", runtime = rt)
  expect_same_as_base(-fi, -i)
  expect_same_as_base(-fd, -d)
  expect_same_as_base(+fd, +d)
  expect_same_as_base(!fl, !lgl_grid)
  expect_same_as_base(!fi, !i)
  expect_same_as_base(-fl, -lgl_grid)
  fns <- list(abs = abs, sqrt = sqrt, exp = exp, log = log, log1p = log1p, log2 = log2, floor = floor,
              ceiling = ceiling, trunc = trunc, sign = sign, sin = sin, atan = atan, gamma = gamma,
              round = round, signif = signif, is.na = is.na, is.nan = is.nan, is.finite = is.finite,
              is.infinite = is.infinite, as.integer = as.integer, as.character = as.character,
              as.logical = as.logical, as.complex = as.complex, bitwNot = bitwNot)
  for (fn in names(fns)) {
    f <- fns[[fn]]
    if (fn != "bitwNot") {
      expect_same_as_base(f(fd), f(d), label = paste(fn, "double"))
    }
    expect_same_as_base(f(fi), f(i), label = paste(fn, "integer"))
  }
  expect_same_as_base(round(fd, 1), round(d, 1))
  expect_same_as_base(pmin(fi, 0L), pmin(i, 0L))
  expect_same_as_base(pmax(fd, fi[1:11], na.rm = TRUE), pmax(d, i[1:11], na.rm = TRUE))
  expect_same_as_base(ifelse(fd > 0, "pos", "non"), ifelse(d > 0, "pos", "non"))
  expect_same_as_base(bitwAnd(fi, 3L), bitwAnd(i, 3L))
})

test_that("summaries match base R, integer overflow warnings included", {
  rt <- local_runtime()
  vecs <- list(
    int = int_grid, int_nona = int_grid[!is.na(int_grid)], int_small = c(3L, -1L, 0L, 9L),
    dbl = dbl_grid, dbl_nona = dbl_grid[!is.na(dbl_grid)], dbl_finite = c(2.5, -1, 0, 1e10, -0),
    lgl = lgl_grid, empty_int = integer(), empty_dbl = double(), big_int = rep(.Machine$integer.max, 3L)
  )
  summaries <- list(
    sum = sum, sum_narm = function(x) sum(x, na.rm = TRUE), mean = mean,
    mean_narm = function(x) mean(x, na.rm = TRUE), min = min, max = max, range = range,
    range_narm = function(x) range(x, na.rm = TRUE), prod = prod, cumsum = cumsum,
    cumprod = cumprod, cummax = cummax, cummin = cummin, median = function(x) median(x, na.rm = TRUE),
    var = function(x) var(x, na.rm = TRUE), order = order, order_dec = function(x) order(x, decreasing = TRUE),
    sort = sort, sort_nalast = function(x) sort(x, na.last = TRUE), rank = rank, rev = rev,
    unique = unique, duplicated = duplicated, anyNA = anyNA, which = function(x) which(x > 0),
    which.max = which.max, which.min = which.min, any = function(x) any(x > 0), all = function(x) all(x > 0),
    table = function(x) table(x, useNA = "ifany"), tabulate = function(x) tabulate(pmin(pmax(x, 0L), 100L)),
    diff = diff, length = length, rle = function(x) rle(sort(x)), is.unsorted = is.unsorted,
    quantile = function(x) quantile(x, na.rm = TRUE), summary = summary, format = format,
    match = function(x) match(x, c(0, 1, NA, Inf)), in_ = function(x) x %in% c(-1, NaN, 2),
    factor = factor, findInterval = function(x) findInterval(x[!is.na(x)], c(-1, 0, 1)),
    cut = function(x) cut(x, c(-Inf, 0, 1, Inf)), split = function(x) split(x, x > 0),
    paste = function(x) paste(x, collapse = ","), sprintf = function(x) sprintf("%s", x),
    seq_along = seq_along, head = head, tail = function(x) tail(x, 3), crossprod = function(x) crossprod(as.double(x))
  )
  for (nm in names(vecs)) {
    v <- vecs[[nm]]
    fv <- save_fmalloc(v, nm, runtime = rt)
    for (s in names(summaries)) {
      if (s == "tabulate" && !is.integer(v)) next
      f <- summaries[[s]]
      expect_same_as_base(f(fv), f(v), label = paste(s, nm))
    }
  }
  # Spelled out: R 4.x sums integers in a long accumulator and returns a
  # double past the integer range; cumsum overflows with a warning.
  big <- save_fmalloc(rep(.Machine$integer.max, 3L), "big2", runtime = rt)
  expect_identical(sum(big), sum(rep(.Machine$integer.max, 3L)))
  expect_warning(cs <- cumsum(big), "integer overflow")
  expect_identical(cs, c(.Machine$integer.max, NA, NA))
})

test_that("a large double vector summarises like base R", {
  rt <- local_runtime()
  set.seed(7)
  v <- c(rnorm(2e5), NA, -Inf)
  fv <- save_fmalloc(v, "v", runtime = rt)
  expect_identical(sum(fv, na.rm = TRUE), sum(v, na.rm = TRUE))
  expect_identical(mean(fv[1:2e5]), mean(v[1:2e5]))
  expect_identical(range(fv, na.rm = TRUE), range(v, na.rm = TRUE))
  expect_identical(order(fv), order(v))
  expect_identical(sort(fv), sort(v))
  expect_identical(cumsum(fv[1:1000]), cumsum(v[1:1000]))
  expect_identical(fv[1:2e5] %*% fv[1:2e5], v[1:2e5] %*% v[1:2e5])
  expect_identical(fv %*% fv, v %*% v)
  m <- save_fmalloc(matrix(v[1:6], 2), "m", runtime = rt)
  expect_identical(m %*% t(m), matrix(v[1:6], 2) %*% t(matrix(v[1:6], 2)))
  expect_identical(colSums(m), colSums(matrix(v[1:6], 2)))
})

test_that("complex and raw operations match base R", {
  rt <- local_runtime()
  p <- pairs_of(cplx_grid)
  fa <- save_fmalloc(p$a, "ca", runtime = rt)
  fb <- save_fmalloc(p$b, "cb", runtime = rt)
  for (op in c("+", "-", "*", "/", "^", "==", "!=")) {
    f <- match.fun(op)
    expect_same_as_base(f(fa, fb), f(p$a, p$b), label = paste("complex", op))
    expect_same_as_base(f(fa, 2L), f(p$a, 2L), label = paste("complex", op, "2L"))
  }
  for (fn in list(Re, Im, Mod, Arg, Conj, sqrt, exp, is.na, sum, prod, mean, cumsum, unique, as.character)) {
    expect_same_as_base(fn(fa), fn(p$a))
  }
  r <- as.raw(c(0, 1, 127, 128, 255, 1))
  fr <- save_fmalloc(r, "r", runtime = rt)
  expect_same_as_base(xor(fr, as.raw(15)), xor(r, as.raw(15)))
  expect_same_as_base(fr & rev(fr), r & rev(r))
  expect_same_as_base(!fr, !r)
  expect_same_as_base(rawToChar(fr[2:4]), rawToChar(r[2:4]))
  expect_same_as_base(as.integer(fr), as.integer(r))
  expect_same_as_base(rev(fr), rev(r))
  expect_same_as_base(unique(fr), unique(r))
  expect_same_as_base(match(fr, as.raw(1)), match(r, as.raw(1)))
  expect_same_as_base(fr == as.raw(1), r == as.raw(1))
  expect_same_as_base(packBits(rawToBits(fr)), packBits(rawToBits(r)))
})

test_that("character functions match base R: order, sort, match, %in%, factor, table, unique", {
  rt <- local_runtime()
  s <- c("b", "a", NA, "", "h\u00e9llo", "\u65e5\u672c", "a", "B", "b", "caf\u00e9", "10", "9")
  fs <- save_fmalloc(s, "s", runtime = rt)
  fns <- list(
    order = order, order_dec = function(x) order(x, decreasing = TRUE, method = "radix"),
    sort = sort, sort_nalast = function(x) sort(x, na.last = TRUE), sort_radix = function(x) sort(x, method = "radix"),
    rank = function(x) rank(x, na.last = "keep"), rev = rev,
    match = function(x) match(x, c("a", NA, "\u65e5\u672c", "caf\u00e9")),
    match_rev = function(x) match(c("B", "zz", NA, "caf\u00e9"), x),
    in_ = function(x) x %in% c("b", ""), in_rev = function(x) c("9", "nope") %in% x,
    factor = factor, factor_lv = function(x) factor(x, levels = c("b", "a")),
    table = function(x) table(x, useNA = "always"), unique = unique, duplicated = duplicated,
    nchar = nchar, nchar_bytes = function(x) nchar(x, type = "bytes"), toupper = toupper,
    paste0 = function(x) paste0(x, "!"), eq = function(x) x == "a", lt = function(x) x < "b",
    is.na = is.na, grepl = function(x) grepl("a", x), sub = function(x) sub("a", "A", x),
    substr = function(x) substr(x, 1, 2), startsWith = function(x) startsWith(x, "b"),
    enc2utf8 = enc2utf8, as.numeric = as.numeric, tabulate = function(x) tabulate(factor(x)),
    split = function(x) split(seq_along(x), x), rle = function(x) rle(x), max = function(x) max(x, na.rm = TRUE),
    range = function(x) range(x, na.rm = TRUE), setdiff = function(x) setdiff(x, c("a", "b")),
    union = function(x) union(x, "z"), intersect = function(x) intersect(c("B", "x"), x),
    chartr = function(x) chartr("ab", "xy", x), strtoi = function(x) strtoi(x), xtfrm = xtfrm,
    sprintf = function(x) sprintf("<%s>", x), encodeString = encodeString, format = format,
    anyDuplicated = anyDuplicated, rowsum = function(x) rowsum(seq_along(x), x)
  )
  for (nm in names(fns)) {
    f <- fns[[nm]]
    expect_same_as_base(f(fs), f(s), label = nm)
  }
  expect_same_as_base(match(s, fs), match(s, s))
  expect_same_as_base(fs[order(fs)], s[order(s)])
  expect_same_as_base(setNames(seq_along(fs), fs), setNames(seq_along(s), s))
  expect_same_as_base(data.frame(k = fs, stringsAsFactors = TRUE), data.frame(k = s, stringsAsFactors = TRUE))
})

test_that("sort() of a character vector copied into the file is sorted", {
  rt <- local_runtime()
  s <- c("b", "c", "a", NA, "\u00e9")
  withr::local_options(rfmalloc.transient_threshold = 0)
  fs <- save_fmalloc(s, "s", runtime = rt)
  expect_identical(sort(fs), sort(s))
  expect_identical(sort(fs)[1], "a")
  expect_identical(sort(fs, decreasing = TRUE), sort(s, decreasing = TRUE))
  expect_identical(sort(fs, partial = 2), sort(s, partial = 2))
  # With the default threshold, a character vector over 1 MB is copied
  # into the file too.
  withr::local_options(rfmalloc.transient_threshold = NULL)
  set.seed(1)
  big <- sample(sprintf("k%06d", 1:2e5))
  fb <- save_fmalloc(big, "big", runtime = rt)
  expect_false(is.unsorted(sort(fb)))
  expect_identical(sort(fb), sort(big))
})

test_that("a large character vector gives base R's answers", {
  rt <- local_runtime()
  set.seed(3)
  s <- sample(c(sprintf("w%04d", 1:500), NA, ""), 5e4, replace = TRUE)
  fs <- save_fmalloc(s, "s", runtime = rt)
  expect_identical(order(fs), order(s))
  expect_identical(table(x = fs), table(x = s))
  expect_identical(unique(fs), unique(s))
  expect_identical(match(fs, s[1:100]), match(s, s[1:100]))
  expect_identical(fs %in% c("w0001", NA), s %in% c("w0001", NA))
  expect_identical(factor(fs), factor(s))
  expect_identical(nchar(fs), nchar(s))
  expect_identical(paste(fs[1:10], collapse = ""), paste(s[1:10], collapse = ""))
})
