/* Rfmalloc.h - the C-callable API of the Rfmalloc R package.
 *
 * For packages with `LinkingTo: Rfmalloc` and `Imports: Rfmalloc` (so the
 * package is loaded before these are called).  Every function returns a
 * status code (RFMALLOC_OK or a negative RFMALLOC_E*) and never raises an R
 * error, so C++ callers can unwind normally; Rfmalloc_last_error() gives the
 * message of the last failure.  SEXPs returned through `out` are not
 * protected: PROTECT them before allocating again.
 *
 * The inline wrappers below look the functions up once with
 * R_GetCCallable and check at first use that the installed Rfmalloc offers
 * at least RFMALLOC_API_VERSION; a too-old Rfmalloc gives
 * RFMALLOC_EVERSION from every call.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef RFMALLOC_H_
#define RFMALLOC_H_

#include <stdint.h>
/* C++ (Rcpp among others) wants R's API without its short macro names. */
#if defined(__cplusplus) && !defined(R_NO_REMAP)
#define R_NO_REMAP
#endif
#include <Rinternals.h>
#include <R_ext/Rdynload.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RFMALLOC_API_VERSION 1

enum {
    RFMALLOC_OK = 0,
    RFMALLOC_EINVAL = -1,    /* bad argument (NULL, unknown type, bad name) */
    RFMALLOC_ENOMEM = -2,    /* the file cannot grow (disk, max size) or RAM */
    RFMALLOC_EIO = -3,       /* an operating-system call failed */
    RFMALLOC_EFORMAT = -4,   /* not a heap file, or damaged */
    RFMALLOC_EVERSION = -5,  /* format or API version not supported */
    RFMALLOC_EBUSY = -6,     /* the file is held by another opener */
    RFMALLOC_EREADONLY = -7, /* a write to a read-only runtime */
    RFMALLOC_ENOTFOUND = -8, /* no such file or name */
    RFMALLOC_EEXISTS = -9,   /* the name is taken */
    RFMALLOC_ECLOSED = -10,  /* the runtime was cleaned up */
    RFMALLOC_ETYPE = -11,    /* an object of the wrong type */
    RFMALLOC_EINTERNAL = -12
};

/* What Rfmalloc_describe reports about a vector. */
typedef struct Rfmalloc_vector_info {
    SEXP runtime;      /* the runtime object (NULL-valued R_NilValue when the
                          runtime's object is gone after cleanup) */
    int type;          /* LGLSXP, INTSXP, REALSXP, CPLXSXP, RAWSXP, STRSXP */
    R_xlen_t length;
    void *data;        /* the mapped data; for STRSXP the string blob, which
                          moves when an assignment outgrows it: do not keep
                          it across R calls */
    uint64_t offset;   /* file offset of the data */
    int persistent;    /* 1 for a persistent runtime, 0 scratch */
    int transient;     /* 1 when the allocation is a transient copy */
} Rfmalloc_vector_info;

#define RFMALLOC_FN(ret, name, args, call)                                      \
    static inline ret name args {                                               \
        typedef ret(*fn_t) args;                                                \
        static fn_t fn = NULL;                                                  \
        if (fn == NULL) fn = (fn_t)R_GetCCallable("Rfmalloc", #name);           \
        return fn call;                                                         \
    }

/* The API version of the installed Rfmalloc. */
static inline int Rfmalloc_api_version(void) {
    typedef int (*fn_t)(void);
    static fn_t fn = NULL;
    if (fn == NULL) fn = (fn_t)R_GetCCallable("Rfmalloc", "Rfmalloc_api_version");
    return fn();
}

/* RFMALLOC_OK when the installed Rfmalloc offers this header's API. */
static inline int Rfmalloc_check_api(void) {
    static int checked = 0;
    if (!checked) checked = Rfmalloc_api_version() >= RFMALLOC_API_VERSION ? 1 : -1;
    return checked > 0 ? RFMALLOC_OK : RFMALLOC_EVERSION;
}

#define RFMALLOC_CHECKED(ret, name, args, call)                                 \
    static inline ret name args {                                               \
        typedef ret(*fn_t) args;                                                \
        static fn_t fn = NULL;                                                  \
        if (Rfmalloc_check_api() != RFMALLOC_OK) return RFMALLOC_EVERSION;      \
        if (fn == NULL) fn = (fn_t)R_GetCCallable("Rfmalloc", #name);           \
        return fn call;                                                         \
    }

/* Message of the last failure of this API (static storage, "" if none). */
RFMALLOC_FN(const char *, Rfmalloc_last_error, (void), ())

/* Opens a heap file (as open_fmalloc()); *out receives the runtime object.
 * scratch: 1 for a scratch runtime (path may be NULL); max_gb <= 0: default. */
RFMALLOC_CHECKED(int, Rfmalloc_open, (SEXP *out, const char *path, int scratch, int readonly, double max_gb),
                 (out, path, scratch, readonly, max_gb))

/* The default runtime (init_fmalloc()), or RFMALLOC_ENOTFOUND. */
RFMALLOC_CHECKED(int, Rfmalloc_default_runtime, (SEXP *out), (out))

/* A new vector of `type` (LGLSXP, INTSXP, REALSXP, CPLXSXP, RAWSXP, STRSXP)
 * and `length` in `runtime` (R_NilValue: the default), zero-filled, stored
 * under `name` (NULL: generated in a persistent runtime, none in scratch). */
RFMALLOC_CHECKED(int, Rfmalloc_create, (SEXP *out, SEXP runtime, int type, R_xlen_t length, const char *name),
                 (out, runtime, type, length, name))

/* 1 when x is an Rfmalloc vector (also behind R's wrapper objects), else 0. */
RFMALLOC_FN(int, Rfmalloc_is_vector, (SEXP x), (x))

/* Fills *info for an Rfmalloc vector; RFMALLOC_ETYPE for anything else. */
RFMALLOC_CHECKED(int, Rfmalloc_describe, (Rfmalloc_vector_info *info, SEXP x), (info, x))

/* Copies the ordinary or Rfmalloc vector x into `runtime` under `name`. */
RFMALLOC_CHECKED(int, Rfmalloc_save, (SEXP *out, SEXP runtime, SEXP x, const char *name, int overwrite),
                 (out, runtime, x, name, overwrite))

/* The vector stored under `name`, with its stored attributes.  writable: 1
 * to let writes reach the file. */
RFMALLOC_CHECKED(int, Rfmalloc_load, (SEXP *out, SEXP runtime, const char *name, int writable),
                 (out, runtime, name, writable))

#undef RFMALLOC_FN
#undef RFMALLOC_CHECKED

#ifdef __cplusplus
}
#endif

#endif
