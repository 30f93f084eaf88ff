/*
 * demo.c - fmrt-demo: data that outlives the process.
 *
 * Run 1 creates a heap file, builds a linked list of records in it (linked
 * by offsets, never pointers) and names its root in the file's catalog.
 * Run 2 and every later run reopen the file, look the root up by name, walk
 * the list, check it against the checksum run 1 stored, and say that this
 * is the same data.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fmrt.h>

/*
 * The data the demo keeps in the heap.
 *
 * One root struct, found by its name in the catalog (DEMO_ROOT_NAME), holds
 * the offset of the first record; every record holds the offset of the next.
 * So the heap may be mapped at a different address in every process (and it
 * is: watch the addresses change between runs).
 */
#define DEMO_ROOT_NAME "fmrt-demo/root"
#define DEMO_ROOT_TYPE UINT32_C(0x646d6f31)         /* our type tag, "dmo1" */
#define DEMO_MAGIC UINT64_C(0x6f6d65642d74726d) /* "mrt-demo" read little-endian */
#define DEMO_LAYOUT 1                           /* bump when these structs change */
#define DEMO_RECORDS 5

typedef struct demo_record {
    uint64_t id;    /* 1, 2, 3 ... */
    char name[32];  /* NUL-terminated */
    double value;
    uint64_t next;  /* offset of the next record; 0 ends the list */
} demo_record;

typedef struct demo_root {
    uint64_t magic;      /* DEMO_MAGIC */
    uint32_t layout;     /* DEMO_LAYOUT */
    uint32_t count;      /* number of records in the list */
    uint64_t first;      /* offset of the first record */
    uint64_t checksum;   /* FNV-1a of the records, as written by run 1 */
    int64_t writer_pid;  /* the process that wrote the records (run 1) */
    int64_t written_at;  /* when, seconds since the epoch */
    uint64_t runs;       /* how many times the demo has opened this heap */
    int64_t last_pid;    /* the process of the latest run */
} demo_root;

static const char *const default_path = "./fmrt-demo.heap";

/* The runtime, closed by fail() so an error exit still releases it. */
static fmrt_runtime *g_rt = NULL;

/* Prints "fmrt-demo: <what>: <status text> (<detail>)" and exits 1. */
static void fail(const char *what, int code)
{
    char detail[512];
    snprintf(detail, sizeof detail, "%s", fmrt_error_message());
    fflush(stdout);
    fprintf(stderr, "fmrt-demo: %s: %s", what, fmrt_strerror(code));
    if (detail[0] != '\0')
        fprintf(stderr, " (%s)", detail);
    fputc('\n', stderr);
    if (g_rt != NULL) {
        fmrt_runtime_close(g_rt);
        g_rt = NULL;
    }
    exit(1);
}

/* For problems that are not libfmrt status codes (our own data, files). */
static void fail_plain(const char *fmt, const char *arg)
{
    fflush(stdout);
    fprintf(stderr, "fmrt-demo: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    if (g_rt != NULL) {
        fmrt_runtime_close(g_rt);
        g_rt = NULL;
    }
    exit(1);
}

/* FNV-1a, 64 bits: enough to notice any change to the records. */
static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = (const unsigned char *)data;
    size_t i;
    for (i = 0; i < n; i++) {
        h ^= p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

/* The checksum covers every field of every record, links included. */
static uint64_t record_checksum(uint64_t h, const demo_record *r)
{
    h = fnv1a(h, &r->id, sizeof r->id);
    h = fnv1a(h, r->name, sizeof r->name);
    h = fnv1a(h, &r->value, sizeof r->value);
    h = fnv1a(h, &r->next, sizeof r->next);
    return h;
}

static const char *format_time(int64_t t, char *buf, size_t n)
{
    time_t tt = (time_t)t;
    struct tm *tm = gmtime(&tt);
    if (tm == NULL || strftime(buf, n, "%Y-%m-%d %H:%M:%S UTC", tm) == 0)
        snprintf(buf, n, "%" PRId64, t);
    return buf;
}

static void print_stats(fmrt_runtime *rt)
{
    fmrt_stats st = FMRT_STATS_INIT;
    int rc = fmrt_runtime_stats(&st, rt);
    if (rc != 0)
        fail("fmrt_runtime_stats", rc);
    printf("heap statistics (fmrt_runtime_stats):\n");
    printf("  %-20s %" PRIu64 "\n", "reserved_bytes", st.reserved_bytes);
    printf("  %-20s %" PRIu64 "\n", "mapped_bytes", st.mapped_bytes);
    printf("  %-20s %" PRIu64 "\n", "in_use_bytes", st.in_use_bytes);
    printf("  %-20s %" PRIu64 "\n", "free_bytes", st.free_bytes);
    printf("  %-20s %" PRIu64 "\n", "live_allocations", st.live_allocations);
    printf("  %-20s %" PRIu64 "\n", "largest_free_block", st.largest_free_block);
    printf("  %-20s %" PRIu64 "\n", "overhead_bytes", st.overhead_bytes);
    printf("  %-20s %d\n", "persistent", st.persistent);
    printf("  %-20s %d\n", "readonly", st.readonly);
    printf("  %-20s %" PRIu64 "\n", "catalog_entries", st.catalog_entries);
    printf("  %-20s %d\n", "clean_last_close", st.clean_last_close);
    printf("  %-20s %" PRIu32 ".%" PRIu32 "\n", "format", st.format_major,
           st.format_minor);
}

/* Run 1: a brand-new heap. */
static void write_data(fmrt_runtime *rt)
{
    static const struct { const char *name; double value; } sample[DEMO_RECORDS] = {
        { "hydrogen", 1.008 },
        { "helium", 4.002602 },
        { "lithium", 6.94 },
        { "beryllium", 9.0121831 },
        { "boron", 10.81 },
    };
    demo_root *root;
    demo_record *prev = NULL;
    uint64_t root_off, h = UINT64_C(0xcbf29ce484222325);
    char when[64];
    int i, rc;

    root = (demo_root *)fmrt_calloc(rt, 1, sizeof *root);
    if (root == NULL)
        fail("fmrt_calloc(root)", fmrt_last_status());
    root_off = fmrt_ptr_to_offset(rt, root);

    /* Build the list front to back; each record is linked into its
     * predecessor by offset. */
    for (i = 0; i < DEMO_RECORDS; i++) {
        demo_record *r = (demo_record *)fmrt_malloc(rt, sizeof *r);
        uint64_t off;
        if (r == NULL)
            fail("fmrt_malloc(record)", fmrt_last_status());
        memset(r, 0, sizeof *r);
        r->id = (uint64_t)(i + 1);
        snprintf(r->name, sizeof r->name, "%s", sample[i].name);
        r->value = sample[i].value;
        r->next = 0;
        off = fmrt_ptr_to_offset(rt, r);
        if (prev == NULL)
            root->first = off;
        else
            prev->next = off;
        prev = r;
        printf("  wrote record %d %-10s %10.6f at offset %-8" PRIu64 " (address %p here)\n",
               i + 1, r->name, r->value, off, (void *)r);
    }

    /* The checksum is computed once the links are final. */
    {
        const demo_record *r = (const demo_record *)fmrt_offset_to_ptr(rt, root->first);
        for (i = 0; i < DEMO_RECORDS && r != NULL; i++) {
            h = record_checksum(h, r);
            r = (const demo_record *)fmrt_offset_to_ptr(rt, r->next);
        }
    }

    root->layout = DEMO_LAYOUT;
    root->count = DEMO_RECORDS;
    root->checksum = h;
    root->writer_pid = (int64_t)getpid();
    root->written_at = (int64_t)time(NULL);
    root->runs = 1;
    root->last_pid = root->writer_pid;
    root->magic = DEMO_MAGIC;

    /* Naming the root is the commit point: a run 1 that dies before this
     * line leaves a heap without the name, never a half-written list. */
    rc = fmrt_catalog_put(rt, DEMO_ROOT_NAME, root, sizeof *root, DEMO_ROOT_TYPE,
                          "written by fmrt-demo", strlen("written by fmrt-demo"), 0);
    if (rc != 0)
        fail("fmrt_catalog_put", rc);
    rc = fmrt_runtime_sync(rt);
    if (rc != 0)
        fail("fmrt_runtime_sync", rc);

    printf("root at offset %" PRIu64 ", named \"%s\" in the catalog, checksum %016" PRIx64
           "\n", root_off, DEMO_ROOT_NAME, h);
    printf("run 1: wrote %d records as pid %" PRId64 " at %s\n", DEMO_RECORDS,
           root->writer_pid, format_time(root->written_at, when, sizeof when));
    printf("Run the same command again: the next run finds this data.\n");
}

/* Run 2 and later: find the root, walk the list, compare the checksum. */
static void check_data(fmrt_runtime *rt, const char *path)
{
    fmrt_entry entry = FMRT_ENTRY_INIT;
    demo_root *root;
    const demo_record *r;
    uint64_t off, h = UINT64_C(0xcbf29ce484222325);
    uint32_t i;
    char when[64];
    int rc;

    rc = fmrt_catalog_get(&entry, rt, DEMO_ROOT_NAME);
    if (rc == FMRT_ENOTFOUND)
        fail_plain("%s has no catalog entry \"" DEMO_ROOT_NAME "\" (not made by "
                   "fmrt-demo, or its run 1 did not finish); "
                   "run `fmrt-demo --reset` to start over", path);
    if (rc != 0)
        fail("fmrt_catalog_get", rc);
    root = (demo_root *)entry.ptr;
    if (root == NULL || entry.type != DEMO_ROOT_TYPE || entry.size != sizeof *root ||
        root->magic != DEMO_MAGIC || root->layout != DEMO_LAYOUT)
        fail_plain("the catalog entry \"" DEMO_ROOT_NAME "\" of %s is not an "
                   "fmrt-demo root; run `fmrt-demo --reset` to start over", path);

    printf("root \"%s\" found in the catalog at offset %" PRIu64
           " (address %p in this process)\n", entry.name, entry.offset, (void *)root);
    off = root->first;
    for (i = 0; i < root->count; i++) {
        r = (const demo_record *)fmrt_offset_to_ptr(rt, off);
        if (r == NULL)
            fail_plain("the record list of %s is broken (an offset points "
                       "outside the heap)", path);
        printf("  found record %" PRIu64 " %-10.32s %10.6f at offset %-8" PRIu64
               " (address %p here)\n", r->id, r->name, r->value, off, (const void *)r);
        h = record_checksum(h, r);
        off = r->next;
    }
    if (off != 0)
        fail_plain("the record list of %s is longer than its root says", path);
    if (h != root->checksum) {
        fflush(stdout);
        fprintf(stderr, "fmrt-demo: checksum %016" PRIx64 " differs from the %016" PRIx64
                " stored by run 1: the data changed\n", h, root->checksum);
        fmrt_runtime_close(rt);
        g_rt = NULL;
        exit(1);
    }

    /* Count this run in the root: a write that the next run will see. */
    root->runs += 1;
    root->last_pid = (int64_t)getpid();
    rc = fmrt_runtime_sync(rt);
    if (rc != 0)
        fail("fmrt_runtime_sync", rc);

    printf("checksum %016" PRIx64 " matches (%" PRIu32 " records)\n", h, root->count);
    printf("run %" PRIu64 ": found the same data written by run 1 (pid %" PRId64
           " at time %s)\n", root->runs, root->writer_pid,
           format_time(root->written_at, when, sizeof when));
    printf("Runs after the first append nothing: each one checks the same %" PRIu32
           " records and only counts itself in the root (now %" PRIu64 " runs).\n",
           root->count, root->runs);
}

/* --reset: deletes the heap, but only a file libfmrt recognises as a heap
 * (and that no one has open), so a mistyped path cannot delete other data. */
static int reset(const char *path)
{
    fmrt_options opts = FMRT_OPTIONS_INIT;
    int rc;

    opts.flags = 0; /* never create it */
    rc = fmrt_runtime_open(&g_rt, path, &opts);
    if (rc == FMRT_ENOTFOUND) {
        printf("reset %s: no such heap, nothing to do\n", path);
        return 0;
    }
    if (rc != 0) {
        char what[4200];
        snprintf(what, sizeof what, "not deleting %s, which does not open as a heap", path);
        fail(what, rc);
    }
    rc = fmrt_runtime_close(g_rt);
    g_rt = NULL;
    if (rc != 0)
        fail("fmrt_runtime_close", rc);
    if (unlink(path) != 0) {
        fprintf(stderr, "fmrt-demo: cannot remove %s: %s\n", path, strerror(errno));
        return 1;
    }
    printf("removed %s: the next run starts a new heap\n", path);
    return 0;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: fmrt-demo [HEAP]          write data (first run) or find it again\n"
            "       fmrt-demo --reset [HEAP]  delete the heap file HEAP\n"
            "HEAP defaults to %s.\n", default_path);
}

int main(int argc, char **argv)
{
    fmrt_options opts = FMRT_OPTIONS_INIT;
    const char *path = default_path;
    int do_reset = 0, i, rc;

    /* Line by line, so messages and errors interleave when piped (tee). */
    setvbuf(stdout, NULL, _IOLBF, 0);

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reset") == 0) {
            do_reset = 1;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            usage(stderr);
            return 1;
        } else if (path == default_path) {
            path = argv[i];
        } else {
            usage(stderr);
            return 1;
        }
    }

    if (do_reset)
        return reset(path);

    printf("fmrt-demo: libfmrt %s, heap %s\n", fmrt_version(), path);

    /* Open without CREATE first: ENOTFOUND tells us this is run 1. */
    opts.flags = 0;
    rc = fmrt_runtime_open(&g_rt, path, &opts);
    if (rc == FMRT_ENOTFOUND) {
        opts.flags = FMRT_OPEN_CREATE;
        rc = fmrt_runtime_open(&g_rt, path, &opts);
        if (rc != 0)
            fail("fmrt_runtime_open (create)", rc);
        printf("created a new heap\n");
        write_data(g_rt);
    } else if (rc != 0) {
        fail("fmrt_runtime_open", rc);
    } else {
        printf("opened an existing heap\n");
        check_data(g_rt, path);
    }

    print_stats(g_rt);
    rc = fmrt_runtime_close(g_rt);
    g_rt = NULL;
    if (rc != 0)
        fail("fmrt_runtime_close", rc);
    return 0;
}
