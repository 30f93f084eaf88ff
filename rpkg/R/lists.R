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

fm_is_plain_list <- function(el) (is.list(el) && is.null(oldClass(el))) || is.data.frame(el)

fm_exists <- function(runtime, name) {
  !inherits(rfm_entry_attributes_(runtime, name), "rfmalloc_failure")
}

# Checks every element (recursively) before anything is written, so a list
# that cannot be stored leaves the file as it was.
fm_check_list <- function(x, name, runtime, depth = 0L) {
  if (depth > 100L) fm_invalid("lists nested more than 100 deep cannot be stored", NULL)
  for (i in seq_along(x)) {
    el <- x[[i]]
    if (is.null(el)) next
    info <- rfm_vector_info_(el)
    if (!is.null(info)) {
      if (!fm_same_runtime(rfm_runtime_of_(el), runtime)) {
        stop(fm_condition("type", sprintf(
          "element %d of '%s' is an Rfmalloc vector of another runtime (%s); copy it with materialize_fmalloc() first",
          i, name, info$path), NULL))
      }
      if (!is.na(info$name) && !info$transient) next
    }
    if (fm_is_plain_list(el)) {
      fm_check_list(el, paste0(name, "/", i), runtime, depth + 1L)
    } else if (!(typeof(el) %in% c("logical", "integer", "double", "complex", "raw", "character"))) {
      stop(fm_condition("type", sprintf(
        "element %d of '%s' is of type '%s': list elements must be NULL, vectors or lists",
        i, name, typeof(el)), NULL))
    }
  }
}

# A name for a new child of `name`: "<name>/<i>", or "<name>/<i>.<k>" when
# that is taken (by the version being replaced, or by anything else).
fm_child_name <- function(runtime, name, i) {
  cn <- paste0(name, "/", i)
  k <- 1L
  while (fm_exists(runtime, cn)) {
    k <- k + 1L
    cn <- paste0(name, "/", i, ".", k)
  }
  cn
}

# Removes the children `name` owned ("<name>/...") that `keep` does not list
# and no stored list names.
fm_drop_children <- function(runtime, name, children, keep = character(0)) {
  for (cn in setdiff(children, keep)) {
    if (startsWith(cn, paste0(name, "/")) && fm_exists(runtime, cn) &&
        !length(fm_check(rfm_referrers_(runtime, cn), NULL))) {
      fm_remove_tree(cn, runtime)
    }
  }
}

# Stores x as a list record under `name`. New children get fresh names and
# the record is swapped last, so a failure part-way leaves the stored list
# as it was (the children written so far are removed again).
fm_save_list <- function(x, name, runtime, overwrite) {
  fm_check_list(x, name, runtime)
  written <- new.env(parent = emptyenv())
  written$names <- character(0)
  tryCatch(fm_write_list(x, name, runtime, overwrite, written), error = function(e) {
    for (cn in rev(written$names)) try(fm_remove_tree(cn, runtime), silent = TRUE)
    stop(e)
  })
  invisible(TRUE)
}

fm_write_list <- function(x, name, runtime, overwrite, written) {
  old <- fm_list_children(runtime, name)
  n <- length(x)
  children <- rep(NA_character_, n)
  elem_attrs <- vector("list", n)
  for (i in seq_len(n)) {
    el <- x[[i]]
    if (is.null(el)) next
    elem_attrs[i] <- list(fm_attr_blob(el))
    info <- rfm_vector_info_(el)
    if (!is.null(info) && !is.na(info$name) && !info$transient) {
      children[i] <- info$name
      next
    }
    child <- fm_child_name(runtime, name, i)
    if (fm_is_plain_list(el)) {
      fm_write_list(el, child, runtime, FALSE, written)
    } else {
      fm_check(rfm_save_(runtime, el, child, FALSE, fm_attr_blob(el)), NULL)
    }
    written$names <- c(written$names, child)
    children[i] <- child
  }
  a <- attributes(x)
  blob <- if (length(a)) serialize(a, NULL, version = 3L) else NULL
  fm_check(rfm_save_list_(runtime, name, children, elem_attrs, overwrite, blob), NULL)
  fm_drop_children(runtime, name, old, children)
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
    a <- rec$attrs[[i]]
    if (!is.null(sub)) {
      el <- fm_load_list(sub, cn, runtime, writable, seen)
      attrs <- if (is.null(a)) NULL else tryCatch(unserialize(a), error = function(e) NULL)
      attributes(el) <- if (is.list(attrs) && length(attrs)) attrs else NULL
    } else {
      # The element's attributes are set in C: no R closure may hold it,
      # or R would copy a writable element before its first write.
      el <- fm_check(rfm_load_element_(runtime, cn, writable, a), NULL)
    }
    # out[[i]] <- el, not out[i] <- list(el): a temporary list would stay a
    # second reference, and R would copy the element before every write.
    out[[i]] <- el
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
