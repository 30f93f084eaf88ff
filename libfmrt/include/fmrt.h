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
                              file's current size.  With 0, a process that
                              cannot reserve that much (ulimit -v, valgrind)
                              reserves half, then half again, down to 1 GiB,
                              and the heap grows only that far while this
                              handle is open (fmrt_stats.reserved_bytes says
                              how far); the file keeps its stored value.  An
                              explicit max_size is reserved whole or the open
                              fails with FMRT_ENOMEM. */
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
 *                  damaged header), or (read-write) it was not closed
 *                  cleanly and fails verification, as a power cut between
 *                  syncs can leave it: fmrt_repair_path makes it usable.
 *                  The file is left byte-for-byte unchanged.  (A read-write
 *                  open of a file not closed cleanly verifies it first,
 *                  which takes time in proportion to its allocations.)
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

/* Writes a consistent copy of an open heap to the new file `dst_path` (an
 * online backup; `fmrt copy` does the same for a heap no process has open
 * read-write).  The copy shares blocks with the heap where the file system
 * can (a reflink: btrfs, XFS), else it is a copy that keeps holes; it is
 * built under a temporary name in dst_path's directory, synced, and given
 * its name only when complete, never replacing an existing file.
 *
 * While it is made, catalog changes and the allocations and frees that
 * need the heap's shared structures wait (for as long as the copy takes);
 * allocations and frees served by a thread's own cache do not.  So, as for
 * fmrt_runtime_close, the caller keeps other threads from calling into the
 * runtime and from storing into its memory meanwhile: then the copy is the
 * heap as of one instant, and it opens like a heap whose writer stopped at
 * that instant: every catalog entry committed before the call is in it,
 * cached slots are given back and transient allocations reclaimed at its
 * first read-write open.  The heap itself is not changed.  Read-only and
 * scratch runtimes can be copied too (a scratch heap saved to a file).
 *
 * Returns 0, or:
 *   FMRT_EINVAL   rt is not an open runtime, dst_path is NULL or empty;
 *   FMRT_EEXISTS  dst_path exists;
 *   FMRT_EIO      creating, writing or syncing the copy failed (nothing is
 *                 left at dst_path). */
FMRT_API int fmrt_runtime_copy(fmrt_runtime *rt, const char *dst_path);

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

/* Histogram rows: one per size class, then one for large allocations. */
#define FMRT_STATS_CLASSES 64

typedef struct fmrt_stats {
    unsigned int version;         /* set to FMRT_STATS_VERSION by the caller */
    uint64_t reserved_bytes;      /* the maximum size the file may grow to */
    uint64_t mapped_bytes;        /* current file size, all of it mapped */
    uint64_t in_use_bytes;        /* usable bytes of live allocations */
    uint64_t free_bytes;          /* heap bytes neither in use nor overhead */
    uint64_t live_allocations;    /* number of live allocations */
    uint64_t largest_free_block;  /* bytes of the largest free span */
    uint64_t overhead_bytes;      /* headers, bitmaps and slot rounding */
    int persistent;               /* 1 persistent, 0 scratch */
    int readonly;                 /* 1 when opened read-only */
    double fragmentation;         /* 1 - largest_free_block / free span bytes
                                     (0: all free space in one piece) */
    uint64_t catalog_entries;     /* named entries */
    uint64_t transient_allocations; /* live allocations flagged transient */
    uint64_t reclaimed_at_open;   /* transient allocations reclaimed when opened */
    int clean_last_close;         /* 1 when the file was closed cleanly before
                                     this open (0 after a crash) */
    uint32_t format_major;        /* on-disk format of the file */
    uint32_t format_minor;
    uint8_t uuid[16];             /* the file's identity, set at creation */
    uint64_t created_unix_ns;     /* creation time */
    uint32_t class_count;         /* rows used in the arrays below: size
                                     classes, then one row for large */
    uint32_t class_size[FMRT_STATS_CLASSES];     /* slot bytes; 0 for large */
    uint64_t class_live[FMRT_STATS_CLASSES];     /* live allocations per row */
    uint64_t class_bytes[FMRT_STATS_CLASSES];    /* usable bytes per row */
    uint64_t catalog_damaged;     /* catalog records refused at open (damaged
                                     or naming no live allocation); see
                                     fmrt_verify_path and fmrt_repair_path */
} fmrt_stats;

#define FMRT_STATS_INIT \
    { FMRT_STATS_VERSION, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.0, 0, 0, 0, 0, 0, 0, {0}, 0, 0, {0}, {0}, {0}, 0 }

/* Fills *out (whose version field the caller set) with a consistent snapshot.
 * Returns 0, or FMRT_EINVAL for NULL, a bad handle or an unknown version. */
FMRT_API int fmrt_runtime_stats(fmrt_stats *out, fmrt_runtime *rt);

/* ------------------------------------------------------------------------
 * Transient allocations: temporaries that must never outlive a crash.  A
 * transient allocation behaves like any other, but whatever is still
 * allocated and transient when the file is next opened read-write (after a
 * crash, or a close that left it) is freed at that open.
 * ------------------------------------------------------------------------ */

#define FMRT_ALLOC_ZERO 0x1u      /* zero the memory, as calloc */
#define FMRT_ALLOC_TRANSIENT 0x2u /* flag the allocation transient */

/* The general allocator: `size` bytes aligned to `alignment` (0 or a power
 * of two up to 1 GiB), with FMRT_ALLOC_* flags.  NULL on failure, as
 * fmrt_malloc. */
FMRT_API void *fmrt_alloc(fmrt_runtime *rt, size_t size, size_t alignment, unsigned int flags);

/* Makes the allocation at p durable (transient = 0) or transient (1).
 * A single atomic change in the file.  Returns 0, FMRT_EINVAL for a pointer
 * that is not a live allocation of rt, FMRT_EREADONLY. */
FMRT_API int fmrt_set_transient(fmrt_runtime *rt, void *p, int transient);

/* 1 when p is a live transient allocation of rt, 0 when durable, or a
 * negative status (FMRT_EINVAL) when p is not a live allocation. */
FMRT_API int fmrt_is_transient(const fmrt_runtime *rt, const void *p);

/* ------------------------------------------------------------------------
 * The catalog: names for allocations, kept in the file.  A name is 1 to
 * FMRT_NAME_MAX bytes of UTF-8 without NUL.  Each entry records an
 * allocation (or none), a size, a user type tag and a metadata blob of any
 * length.  Every change is committed by one atomic store after its record
 * is complete, so a crash leaves each entry either as it was or as it was
 * changed to; records carry checksums and a damaged one is reported, never
 * used.  Changes are durable on disk after fmrt_runtime_sync or close.
 * ------------------------------------------------------------------------ */

#define FMRT_NAME_MAX 4096

#define FMRT_ENTRY_VERSION 1

/* One catalog entry.  `name` and `meta` point into the mapped file: valid
 * until the entry is removed, replaced or renamed, or the runtime closes. */
typedef struct fmrt_entry {
    unsigned int version;     /* set to FMRT_ENTRY_VERSION by the caller */
    const char *name;         /* NUL-terminated */
    size_t name_len;          /* bytes, without the NUL */
    void *ptr;                /* the allocation, or NULL */
    uint64_t offset;          /* its offset (0 with ptr NULL) */
    uint64_t size;            /* the size given at put */
    uint32_t type;            /* the type tag given at put */
    const void *meta;         /* metadata blob (NULL when meta_len is 0) */
    size_t meta_len;
    uint64_t created_unix_ns; /* when this entry was put (or renamed) */
} fmrt_entry;

#define FMRT_ENTRY_INIT { FMRT_ENTRY_VERSION, 0, 0, 0, 0, 0, 0, 0, 0, 0 }

/* fmrt_catalog_put flags. */
#define FMRT_PUT_REPLACE 0x1u      /* replace an entry of the same name */
#define FMRT_PUT_FREE_REPLACED 0x2u /* and free the replaced entry's allocation
                                      (unless it is the same allocation) */

/* Names the allocation at p (NULL for an entry without one).  `size` (at
 * most p's usable size; 0 when p is NULL), `type` and the `meta_len` bytes at
 * `meta` are stored with it.  A transient allocation becomes durable.
 * Returns 0, or FMRT_EINVAL (bad name, p not a live allocation of rt, size
 * too big), FMRT_EEXISTS (name taken and no FMRT_PUT_REPLACE), FMRT_ENOMEM,
 * FMRT_EREADONLY. */
FMRT_API int fmrt_catalog_put(fmrt_runtime *rt, const char *name, void *p, uint64_t size,
                              uint32_t type, const void *meta, size_t meta_len,
                              unsigned int flags);

/* Looks `name` up.  Returns 0 with *out filled, FMRT_ENOTFOUND, or
 * FMRT_EINVAL (NULL arguments, bad name). */
FMRT_API int fmrt_catalog_get(fmrt_entry *out, fmrt_runtime *rt, const char *name);

/* fmrt_catalog_remove flags. */
#define FMRT_REMOVE_FREE 0x1u /* also free the entry's allocation */

/* Removes the entry.  Returns 0, FMRT_ENOTFOUND, FMRT_EINVAL,
 * FMRT_EREADONLY. */
FMRT_API int fmrt_catalog_remove(fmrt_runtime *rt, const char *name, unsigned int flags);

/* Renames `from` to `to`, atomically: after a crash exactly one of the two
 * names exists.  Flags: FMRT_PUT_REPLACE (and FMRT_PUT_FREE_REPLACED) to
 * replace an entry named `to`.  Returns 0, FMRT_ENOTFOUND, FMRT_EEXISTS,
 * FMRT_EINVAL, FMRT_ENOMEM, FMRT_EREADONLY. */
FMRT_API int fmrt_catalog_rename(fmrt_runtime *rt, const char *from, const char *to,
                                 unsigned int flags);

/* Iteration in byte-wise name order: fills *out with the first entry whose
 * name sorts after `after` (NULL: the first entry).  Returns 0, or
 * FMRT_ENOTFOUND past the last entry.  Entries added or removed meanwhile
 * are seen or not according to their names, never twice. */
FMRT_API int fmrt_catalog_next(fmrt_entry *out, fmrt_runtime *rt, const char *after);

/* The number of entries.  Returns 0 or FMRT_EINVAL. */
FMRT_API int fmrt_catalog_count(uint64_t *out, fmrt_runtime *rt);

/* ------------------------------------------------------------------------
 * Verification and repair.
 * ------------------------------------------------------------------------ */

#define FMRT_REPORT_VERSION 2
#define FMRT_REPORT_PROBLEMS 16

/* One problem found: where and what. */
typedef struct fmrt_problem {
    uint64_t offset;  /* file offset the problem is at */
    int code;         /* FMRT_EFORMAT for damage, FMRT_EINVAL for a record
                         pointing at something that is not a live allocation,
                         FMRT_EINTERNAL when an open runtime's RAM indexes
                         disagree with the file (a libfmrt bug: report it) */
    char what[116];   /* one line of English */
} fmrt_problem;

typedef struct fmrt_report {
    unsigned int version;        /* set to FMRT_REPORT_VERSION by the caller */
    uint64_t file_bytes;         /* file size */
    uint64_t heap_bytes;         /* heap_end - heap_start */
    uint64_t spans;              /* spans walked */
    uint64_t free_spans, free_bytes;
    uint64_t runs;               /* small-object runs */
    uint64_t small_allocations, small_bytes;
    uint64_t large_allocations, large_bytes;
    uint64_t transient_allocations;
    uint64_t catalog_entries;    /* valid records reachable from the catalog */
    uint64_t damaged_records;    /* records failing their checksum */
    uint64_t unreachable_allocations; /* live, durable, named by no entry and
                                         not catalog storage (not a problem:
                                         C users may keep their own offsets) */
    uint64_t unreachable_bytes;
    uint64_t problems;           /* total problems found (0: healthy) */
    uint64_t repairs;            /* changes made (or, for a dry run, that
                                    would be made) */
    int clean;                   /* 1 when the file was closed cleanly */
    fmrt_problem first[FMRT_REPORT_PROBLEMS]; /* the first problems */
    /* Version 2. */
    unsigned int superblock_damaged; /* bit i set: superblock copy i (at
                                        offset i * 4096) fails its check.
                                        One bit: the other copy is in use,
                                        and repair rewrites this one (a
                                        repair, not a problem: a power cut
                                        while it was written leaves this).
                                        Both bits: a problem. */
} fmrt_report;

#define FMRT_REPORT_INIT \
    { FMRT_REPORT_VERSION, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, {{0, 0, {0}}}, 0 }

/* Checks every invariant of an open runtime: span headers and the walk,
 * the free index against the walk, run bitmaps against their counts, every
 * catalog record's checksum and that it names a live allocation, and the
 * totals.  Never writes.  Returns 0 when the check ran (out->problems says
 * what it found), or FMRT_EINVAL. */
FMRT_API int fmrt_runtime_verify(fmrt_report *out, fmrt_runtime *rt);

/* The same check on a file, opened read-only (shared lock); works on files
 * that fmrt_runtime_open refuses, and never writes, crashes or hangs
 * whatever the file holds.  When both superblock copies fail their checks
 * but one still carries the magic number, byte order and format version,
 * the check runs on it and reports the damage (fmrt_repair_path rewrites
 * both copies).  Returns 0 when the check ran, or FMRT_EFORMAT /
 * FMRT_EVERSION when no superblock copy is recognisable, FMRT_ENOTFOUND,
 * FMRT_EBUSY, FMRT_EIO. */
FMRT_API int fmrt_verify_path(fmrt_report *out, const char *path);

/* fmrt_repair_path flags. */
#define FMRT_REPAIR_APPLY 0x1u     /* make the changes (default: dry run) */
#define FMRT_REPAIR_RECLAIM 0x2u   /* also free unreachable allocations */

/* Repairs a file that is not open: rebuilds the span structure where
 * headers are damaged (unknown ranges become free; a header that the
 * catalog shows to be left from an earlier layout is not believed), joins
 * free neighbours, clears impossible bitmap bits, drops damaged or dangling
 * catalog records, rebuilds the catalog table from the records when it is
 * lost or misses a valid record's name (after a power cut between syncs),
 * frees transient allocations, and with FMRT_REPAIR_RECLAIM frees
 * unreachable allocations.  Without FMRT_REPAIR_APPLY nothing is written and
 * out->repairs counts what would change.  A dry run takes a shared lock, as
 * fmrt_verify_path (it works beside read-only users); applying takes the
 * exclusive lock (FMRT_EBUSY while any other handle has the file open).
 * Returns as fmrt_verify_path. */
FMRT_API int fmrt_repair_path(fmrt_report *out, const char *path, unsigned int flags);

#ifdef __cplusplus
}
#endif

#endif /* FMRT_H */
