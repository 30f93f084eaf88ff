# Lists (and so data frames): a list record in the file names its children
# by catalog name; elements that are not yet stored under a name of this
# runtime are copied in as children named "<list name>/<index>".
#
# SPDX-License-Identifier: GPL-2.0-or-later

fm_attr_blob <- function(x) {
  a <- attributes(x)
  if (length(a)) serialize(a, NULL, version = 3L) else NULL
}

fm_same_runtime <- function(a, b) identical(a, b)

fm_save_list <- function(x, name, runtime, overwrite, depth = 0L) {
  if (depth > 100L) fm_invalid("lists nested more than 100 deep cannot be stored", NULL)
  old <- fm_list_children(runtime, name)
  n <- length(x)
  children <- rep(NA_character_, n)
  elem_attrs <- vector("list", n)
  for (i in seq_len(n)) {
    el <- x[[i]]
    if (is.null(el)) next
    elem_attrs[i] <- list(fm_attr_blob(el))
    info <- rfm_vector_info_(el)
    if (!is.null(info)) {
      if (!fm_same_runtime(rfm_runtime_of_(el), runtime)) {
        stop(fm_condition("type", sprintf(
          "element %d of '%s' is an Rfmalloc vector of another runtime (%s); copy it with materialize_fmalloc() first",
          i, name, info$path), NULL))
      }
      if (!is.na(info$name) && !info$transient) {
        children[i] <- info$name
        next
      }
    }
    child <- paste0(name, "/", i)
    if (is.list(el) && !is.data.frame(el) && is.null(oldClass(el)) || is.data.frame(el)) {
      fm_save_list(el, child, runtime, TRUE, depth + 1L)
    } else if (typeof(el) %in% c("logical", "integer", "double", "complex", "raw", "character")) {
      fm_check(rfm_save_(runtime, el, child, TRUE, fm_attr_blob(el)))
    } else {
      stop(fm_condition("type", sprintf(
        "element %d of '%s' is of type '%s': list elements must be NULL, vectors or lists",
        i, name, typeof(el)), NULL))
    }
    children[i] <- child
  }
  a <- attributes(x)
  blob <- if (length(a)) serialize(a, NULL, version = 3L) else NULL
  fm_check(rfm_save_list_(runtime, name, children, elem_attrs, overwrite, blob), NULL)
  # Children the previous version owned and this one no longer names.
  for (cn in setdiff(old, children)) {
    if (startsWith(cn, paste0(name, "/"))) fm_remove_tree(cn, runtime)
  }
  invisible(TRUE)
}

# Child names of a stored list, or character(0) when name is no list.
fm_list_children <- function(runtime, name) {
  r <- rfm_load_list_(runtime, name)
  if (inherits(r, "rfmalloc_failure") || is.null(r)) return(character(0))
  r$children[!is.na(r$children)]
}

fm_load_list <- function(rec, name, runtime, writable, seen = character(0)) {
  if (name %in% seen) {
    stop(fm_condition("format", sprintf("the list '%s' contains itself", name), NULL))
  }
  seen <- c(seen, name)
  n <- length(rec$children)
  out <- vector("list", n)
  for (i in seq_len(n)) {
    cn <- rec$children[i]
    if (is.na(cn)) next
    sub <- fm_check(rfm_load_list_(runtime, cn), NULL)
    el <- if (!is.null(sub)) {
      fm_load_list(sub, cn, runtime, writable, seen)
    } else {
      fm_check(rfm_load_(runtime, cn, writable), NULL)
    }
    a <- rec$attrs[[i]]
    if (!is.null(a)) {
      attrs <- unserialize(a)
      if (is.list(attrs) && length(attrs)) {
        if (is.list(el)) attributes(el) <- attrs else rfm_set_attributes_(el, attrs)
      }
    }
    out[i] <- list(el)
  }
  out
}

# Removes an entry and, for a list, the children it owns ("<name>/...")
# that no other list names.
fm_remove_tree <- function(name, runtime) {
  owned <- fm_list_children(runtime, name)
  fm_check(rfm_remove_(runtime, name), NULL)
  for (cn in owned) {
    if (startsWith(cn, paste0(name, "/")) && !length(fm_check(rfm_referrers_(runtime, cn), NULL))) {
      fm_remove_tree(cn, runtime)
    }
  }
}
