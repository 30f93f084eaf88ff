/*
 * fixture.c - fmrt-test-fixture: makes the heap files the fmrt tool's tests
 * run on (named entries, a damaged record, leftover transient allocations,
 * an unnamed allocation, an unclean close, a punched hole) and holds a heap
 * open read-write for the busy case.  Public header only.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE /* fallocate */

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fmrt.h>

static const char *g_path;

static void die(const char *what, int rc) {
    fprintf(stderr, "fmrt-test-fixture: %s: %s: %s (%s)\n", g_path, what, fmrt_strerror(rc),
            fmrt_error_message());
    exit(2);
}

static fmrt_runtime *open_rw(uint64_t initial_size) {
    fmrt_runtime *rt = NULL;
    fmrt_options opts = FMRT_OPTIONS_INIT;
    opts.initial_size = initial_size;
    int rc = fmrt_runtime_open(&rt, g_path, &opts);
    if (rc != 0) die("open", rc);
    return rt;
}

static void close_rt(fmrt_runtime *rt) {
    int rc = fmrt_runtime_close(rt);
    if (rc != 0) die("close", rc);
}

/* One named entry: `size` bytes (no allocation when size is 0) filled with
 * the low byte of `type`, type tag `type`, and `meta_len` bytes of metadata. */
static void put(fmrt_runtime *rt, const char *name, size_t size, uint32_t type, size_t meta_len) {
    char meta[256];
    void *p = NULL;
    if (size != 0) {
        p = fmrt_malloc(rt, size);
        if (p == NULL) die("malloc", fmrt_last_status());
        memset(p, (int)(type & 0xFF), size);
    }
    for (size_t i = 0; i < sizeof meta; ++i) meta[i] = (char)('a' + i % 26);
    int rc = fmrt_catalog_put(rt, name, p, size, type, meta_len ? meta : NULL, meta_len, 0);
    if (rc != 0) die("catalog put", rc);
}

/* The entries every fixture starts with (the test script knows them). */
static void populate(fmrt_runtime *rt, int extra) {
    put(rt, "alpha", 100, 1, 5);
    put(rt, "beta", 70000, 2, 0);
    put(rt, "gamma", 16, 3, 100);
    put(rt, "caf\xc3\xa9", 32, 4, 0);
    put(rt, "tab\there", 8, 5, 1);
    put(rt, "empty", 0, 0, 0);
    for (int i = 0; i < extra; ++i) {
        char name[32];
        snprintf(name, sizeof name, "item-%03d", i);
        put(rt, name, (size_t)(1 + i * 37), (uint32_t)(100 + i), (size_t)(i % 7));
    }
}

/* Flips a byte of gamma's name in the record, through the mapping: the
 * record's checksum no longer matches. */
static void damage(fmrt_runtime *rt) {
    fmrt_entry e = FMRT_ENTRY_INIT;
    int rc = fmrt_catalog_get(&e, rt, "gamma");
    if (rc != 0) die("catalog get", rc);
    ((char *)e.name)[0] ^= 0x20;
}

static void leave_transients(fmrt_runtime *rt, int n) {
    for (int i = 0; i < n; ++i) {
        size_t size = i == 0 ? 100000 : (size_t)(24 + 40 * i);
        if (fmrt_alloc(rt, size, 0, FMRT_ALLOC_TRANSIENT) == NULL) die("transient alloc", fmrt_last_status());
    }
}

/* Frees an 8 MiB allocation, then punches a hole in its data pages (the
 * library never reads freed data).  Prints "OFFSET LENGTH" of the hole. */
static void punch_hole(void) {
    const size_t len = (size_t)8 << 20;
    fmrt_runtime *rt = open_rw(0);
    populate(rt, 0);
    void *big = fmrt_malloc(rt, len);
    if (big == NULL) die("malloc", fmrt_last_status());
    memset(big, 0xAB, len);
    uint64_t off = fmrt_ptr_to_offset(rt, big);
    int rc = fmrt_free(rt, big);
    if (rc != 0) die("free", rc);
    close_rt(rt);
    int fd = open(g_path, O_RDWR);
    if (fd < 0 || fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) != 0) {
        perror("fmrt-test-fixture: punch hole");
        exit(2);
    }
    close(fd);
    printf("%llu %llu\n", (unsigned long long)off, (unsigned long long)len);
}

/* Holds the heap open read-write until standard input closes. */
static void hold(void) {
    fmrt_runtime *rt = open_rw(0);
    printf("ready\n");
    fflush(stdout);
    char buf[64];
    while (fread(buf, 1, sizeof buf, stdin) > 0) {
    }
    close_rt(rt);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr,
                "usage: fmrt-test-fixture KIND PATH [N]\n"
                "kinds: empty heap damaged transient unreachable unclean holed hold\n");
        return 2;
    }
    const char *kind = argv[1];
    g_path = argv[2];
    const int n = argc > 3 ? atoi(argv[3]) : 0;
    if (strcmp(kind, "holed") == 0) {
        punch_hole();
        return 0;
    }
    if (strcmp(kind, "hold") == 0) {
        hold();
        return 0;
    }
    fmrt_runtime *rt = open_rw(0);
    if (strcmp(kind, "empty") == 0) {
        close_rt(rt);
        return 0;
    }
    populate(rt, strcmp(kind, "heap") == 0 ? n : 0);
    if (strcmp(kind, "damaged") == 0) {
        damage(rt);
    } else if (strcmp(kind, "transient") == 0) {
        leave_transients(rt, n > 0 ? n : 3);
    } else if (strcmp(kind, "unreachable") == 0) {
        if (fmrt_malloc(rt, 200) == NULL) die("malloc", fmrt_last_status());
    } else if (strcmp(kind, "unclean") == 0) {
        _exit(0); /* no close: the file stays marked open */
    } else if (strcmp(kind, "heap") != 0) {
        fprintf(stderr, "fmrt-test-fixture: unknown kind '%s'\n", kind);
        return 2;
    }
    close_rt(rt);
    return 0;
}
