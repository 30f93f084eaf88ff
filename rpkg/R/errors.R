# Errors: every failure is a classed condition, e.g.
# c("fmrt_error_notfound", "fmrt_error", "error", "condition"), raised at the
# outermost frame after the C++ glue has returned.
#
# SPDX-License-Identifier: GPL-2.0-or-later

fm_condition <- function(kind, message, call = NULL) {
  structure(
    class = c(paste0("fmrt_error_", kind), "fmrt_error", "error", "condition"),
    list(message = message, call = call)
  )
}

# Called from C (ALTREP methods) to signal a classed error.
.fm_raise <- function(kind, message) {
  stop(fm_condition(kind, message))
}

# Turns an "rfmalloc_failure" returned by the glue into a condition.
fm_check <- function(res, call = sys.call(-1)) {
  if (inherits(res, "rfmalloc_failure")) {
    stop(fm_condition(res$kind, res$message, call))
  }
  res
}

fm_invalid <- function(message, call = sys.call(-1)) {
  stop(fm_condition("invalid", message, call))
}
