/*
 * fmrt.h - the public C interface of libfmrt, a heap that lives in a
 * memory-mapped file.
 *
 * This header is the specification: every function says what it does, who
 * owns what, what NULL means and which status codes it returns.  It compiles
 * as C99 and as C++.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef FMRT_H
#define FMRT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(FMRT_BUILDING_LIBRARY) && defined(__GNUC__)
#define FMRT_API __attribute__((visibility("default")))
#else
#define FMRT_API
#endif

/* ------------------------------------------------------------------------
 * Versions.  Three numbers move independently:
 *   - the library version (below, and fmrt_version() at run time);
 *   - the SONAME, bumped only when the ABI breaks (see docs/abi.md);
 *   - the on-disk format version, stored in every file's superblock.
 * ------------------------------------------------------------------------ */
#define FMRT_VERSION_MAJOR 0
#define FMRT_VERSION_MINOR 1
#define FMRT_VERSION_PATCH 0
#define FMRT_VERSION_STRING "0.1.0"
/* MAJOR * 10000 + MINOR * 100 + PATCH, comparable with '<'. */
#define FMRT_VERSION_NUMBER \
    (FMRT_VERSION_MAJOR * 10000 + FMRT_VERSION_MINOR * 100 + FMRT_VERSION_PATCH)

/* The on-disk format this library writes.  Files of another major format
 * version are refused with FMRT_EVERSION. */
#define FMRT_FORMAT_VERSION 1

/* The library's version string, e.g. "0.1.0".  Never NULL, static storage. */
FMRT_API const char *fmrt_version(void);

/* FMRT_VERSION_NUMBER of the library actually loaded. */
FMRT_API int fmrt_version_number(void);

/* ------------------------------------------------------------------------
 * Status codes.  Functions that can fail return int: 0 on success or one of
 * these negative codes.  The allocation functions return NULL instead and
 * leave the code and a detail message for fmrt_last_status() and
 * fmrt_error_message().
 * ------------------------------------------------------------------------ */
typedef enum fmrt_status {
    FMRT_OK = 0,
    FMRT_EINVAL = -1,    /* an argument is invalid (NULL, foreign pointer, closed handle) */
    FMRT_ENOMEM = -2,    /* no space: maximum size reached, disk full, or out of RAM */
    FMRT_EIO = -3,       /* an operating-system call failed (see the detail message) */
    FMRT_EFORMAT = -4,   /* the file is not a libfmrt heap, or it is damaged or truncated */
    FMRT_EVERSION = -5,  /* the file has an on-disk format this library cannot read */
    FMRT_EBUSY = -6,     /* the file is open read-write elsewhere (or read-only, for a writer) */
    FMRT_EREADONLY = -7, /* a write was asked of a read-only runtime */
    FMRT_ENOTFOUND = -8, /* no such file or entry */
    FMRT_EEXISTS = -9,   /* the file or entry already exists */
    FMRT_EINTERNAL = -10 /* a bug in libfmrt: please report it with the detail message */
} fmrt_status;

/* Fixed English text for a status code, e.g. "file is busy".  Never NULL;
 * unknown codes give "unknown status code".  Static storage. */
FMRT_API const char *fmrt_strerror(int code);

/* The detail of the last failure on the calling thread, e.g. "open
 * /tmp/x.heap: superblock checksum mismatch".  Never NULL ("" when nothing
 * failed yet).  Valid until the next libfmrt call on this thread. */
FMRT_API const char *fmrt_error_message(void);

/* The status code of the last failure on the calling thread (FMRT_OK when
 * nothing failed yet).  Useful after an allocation function returned NULL. */
FMRT_API int fmrt_last_status(void);

/* ------------------------------------------------------------------------
 * Runtimes.  A runtime is one heap in one file.  Any number may be open in
 * one process; they share nothing.
 * ------------------------------------------------------------------------ */
typedef struct fmrt_runtime fmrt_runtime;

typedef enum fmrt_mode {
    /* The heap lives in the named file and survives the process. */
    FMRT_MODE_PERSISTENT = 0,
    /* The heap lives in an unlinked file: nothing is left behind on close,
     * nor when the process dies.  `path` names a directory to hold it (an
     * O_TMPFILE there), or a file that must not exist yet (created, then
     * unlinked at once); NULL means $TMPDIR or /tmp. */
    FMRT_MODE_SCRATCH = 1
} fmrt_mode;

/* Open flags (fmrt_options.flags). */
#define FMRT_OPEN_CREATE 0x1u   /* create the file when it does not exist */
#define FMRT_OPEN_READONLY 0x2u /* map read-only; every write is FMRT_EREADONLY */

#define FMRT_OPTIONS_VERSION 1

/* Options for fmrt_runtime_open.  Initialise with FMRT_OPTIONS_INIT, then
 * change fields: new fields are only ever added at the end, so code built
 * against an older header keeps working. */
typedef struct fmrt_options {
    unsigned int version;  /* FMRT_OPTIONS_VERSION */
    fmrt_mode mode;        /* persistent (default) or scratch */
    unsigned int flags;    /* FMRT_OPEN_* (default: FMRT_OPEN_CREATE) */
    uint64_t initial_size; /* file size when created, bytes; 0: 1 MiB */
    uint64_t max_size;     /* address space reserved, bytes: the heap never
                              grows past it; 0: the value stored in the file,
                              or 256 GiB for a new file.  Never less than the
                              file's current size. */
} fmrt_options;

#define FMRT_OPTIONS_INIT \
    { FMRT_OPTIONS_VERSION, FMRT_MODE_PERSISTENT, FMRT_OPEN_CREATE, 0, 0 }

/* Opens the heap in `path` and stores a new handle in *out.
 *
 * `opts` may be NULL for the defaults.  A new file is created complete
 * (formatted in a temporary file, then linked into place), so no other
 * process ever sees a half-made heap.  A read-write open takes an exclusive
 * lock on the open file (never in the file itself, so a killed process
 * leaves no stale lock); a read-only open takes a shared one.
 *
 * Returns 0, or:
 *   FMRT_EINVAL    out is NULL, path is NULL in persistent mode, bad options,
 *                  or READONLY combined with SCRATCH;
 *   FMRT_ENOTFOUND the file does not exist and FMRT_OPEN_CREATE is not set;
 *   FMRT_EBUSY     another handle (in this or another process) holds the file
 *                  read-write, or holds it read-only and we want to write;
 *   FMRT_EFORMAT   the file is not a libfmrt heap (empty, truncated, foreign,
 *                  damaged header); it is left byte-for-byte unchanged;
 *   FMRT_EVERSION  the file's format version or byte order is not ours;
 *   FMRT_ENOMEM    the initial size does not fit the disk or max_size;
 *   FMRT_EIO       an operating-system call failed.
 * On failure *out is set to NULL. */
FMRT_API int fmrt_runtime_open(fmrt_runtime **out, const char *path,
                               const fmrt_options *opts);

/* Requests close of the handle and drops the reference the opener holds.
 * When other references remain (fmrt_runtime_retain), the flush and unmap
 * are deferred until the last fmrt_runtime_release; until then every pointer
 * into the heap stays valid and the handle stays usable by those holders.
 * The final close of a persistent read-write runtime flushes thread caches,
 * marks the file clean and syncs it to disk.  No other thread may use the
 * runtime during the final close.
 *
 * NULL is accepted and returns 0.  Returns FMRT_EINVAL for a handle that is
 * not open or whose close was already requested (a double close), and
 * FMRT_EIO when the final sync failed (the handle is released anyway). */
FMRT_API int fmrt_runtime_close(fmrt_runtime *rt);

/* Adds a reference: the mapping stays until a matching release.
 * Returns 0, or FMRT_EINVAL for a handle that is not open. */
FMRT_API int fmrt_runtime_retain(fmrt_runtime *rt);

/* Drops a reference taken with fmrt_runtime_retain; the last one (after
 * close was requested) performs the final close.  Returns 0, FMRT_EINVAL for
 * a handle that is not open or has no reference to drop, or FMRT_EIO as for
 * fmrt_runtime_close. */
FMRT_API int fmrt_runtime_release(fmrt_runtime *rt);

/* A durability point: everything written to the heap so far (data and
 * allocator state) is flushed to disk (msync, then fsync).  Allocation never
 * syncs by itself.  Returns 0 (also for scratch runtimes, where it does
 * nothing), FMRT_EINVAL, FMRT_EREADONLY or FMRT_EIO. */
FMRT_API int fmrt_runtime_sync(fmrt_runtime *rt);

/* The path the runtime was opened with (for scratch runtimes: the path
 * given, or the directory used).  Owned by the runtime; NULL for an invalid
 * handle. */
FMRT_API const char *fmrt_runtime_path(const fmrt_runtime *rt);

/* ------------------------------------------------------------------------
 * Allocation.  All take the runtime first.  Memory is 16-byte aligned (64
 * for sizes that are multiples of 64 from 64 up, 4096 for sizes above 64 KiB).
 * On failure the allocation functions return NULL and set the status
 * (fmrt_last_status) and the detail message:
 *   FMRT_ENOMEM the heap cannot grow (max_size, disk full, file-size limit);
 *   FMRT_EINVAL bad handle or arguments; FMRT_EREADONLY read-only runtime.
 * Safe to call from any number of threads at once.
 * ------------------------------------------------------------------------ */

/* `size` bytes, uninitialised.  size 0 returns a unique minimal allocation. */
FMRT_API void *fmrt_malloc(fmrt_runtime *rt, size_t size);

/* n * size bytes, zeroed.  Overflow of n * size is FMRT_ENOMEM. */
FMRT_API void *fmrt_calloc(fmrt_runtime *rt, size_t n, size_t size);

/* Resizes the allocation at p, in place when it can, preserving
 * min(old, new) bytes.  p NULL is fmrt_malloc.  size 0 frees p and returns
 * NULL with status FMRT_OK.  On failure p is left untouched and valid. */
FMRT_API void *fmrt_realloc(fmrt_runtime *rt, void *p, size_t size);

/* `size` bytes aligned to `alignment`, a power of two up to 1 GiB (at least
 * 2 MiB is guaranteed to be supported).  Other alignments: FMRT_EINVAL. */
FMRT_API void *fmrt_aligned_alloc(fmrt_runtime *rt, size_t alignment, size_t size);

/* Frees an allocation of this runtime.  NULL is accepted and returns 0.
 * Returns FMRT_EINVAL (and changes nothing) for a pointer that is not the
 * start of a live allocation of this runtime, FMRT_EREADONLY for a read-only
 * runtime. */
FMRT_API int fmrt_free(fmrt_runtime *rt, void *p);

/* The usable size of the allocation at p (at least what was asked for), or
 * 0 when p is NULL or not an allocation of this runtime. */
FMRT_API size_t fmrt_usable_size(const fmrt_runtime *rt, const void *p);

/* ------------------------------------------------------------------------
 * Offsets.  Files store offsets, never pointers, so a heap opens at any
 * address.  Offset 0 is never an allocation and stands for "null".
 * ------------------------------------------------------------------------ */

/* The offset of p from the start of the file, or 0 when p is NULL or lies
 * outside the runtime's mapped file. */
FMRT_API uint64_t fmrt_ptr_to_offset(const fmrt_runtime *rt, const void *p);

/* The address of `offset` in this process, or NULL when offset is 0 or lies
 * outside the mapped file. */
FMRT_API void *fmrt_offset_to_ptr(const fmrt_runtime *rt, uint64_t offset);

/* ------------------------------------------------------------------------
 * Statistics.
 * ------------------------------------------------------------------------ */
#define FMRT_STATS_VERSION 1

typedef struct fmrt_stats {
    unsigned int version;         /* set to FMRT_STATS_VERSION by the caller */
    uint64_t reserved_bytes;      /* address space reserved (max size) */
    uint64_t mapped_bytes;        /* current file size, all of it mapped */
    uint64_t in_use_bytes;        /* usable bytes of live allocations */
    uint64_t free_bytes;          /* heap bytes neither in use nor overhead */
    uint64_t live_allocations;    /* number of live allocations */
    uint64_t largest_free_block;  /* largest allocation possible without growth */
    uint64_t overhead_bytes;      /* headers, bitmaps and slot rounding */
    int persistent;               /* 1 persistent, 0 scratch */
    int readonly;                 /* 1 when opened read-only */
} fmrt_stats;

#define FMRT_STATS_INIT { FMRT_STATS_VERSION, 0, 0, 0, 0, 0, 0, 0, 0, 0 }

/* Fills *out (whose version field the caller set) with a consistent snapshot.
 * Returns 0, or FMRT_EINVAL for NULL, a bad handle or an unknown version. */
FMRT_API int fmrt_runtime_stats(fmrt_stats *out, fmrt_runtime *rt);

#ifdef __cplusplus
}
#endif

#endif /* FMRT_H */
