/* Header compile check: fmrt.h as strict C99 (-std=c99 -pedantic -Werror
 * -Wall -Wextra).  Every declaration is taken through a pointer of the type
 * the header documents, the init macros are used, and the program checks
 * from C that the library loaded is the one the header describes. */
#include <fmrt.h>

#include <stdio.h>
#include <string.h>

static int failures = 0;

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                          \
        }                                                                        \
    } while (0)

int main(void) {
    /* Each function through a pointer of its documented type. */
    const char *(*version)(void) = fmrt_version;
    int (*version_number)(void) = fmrt_version_number;
    const char *(*strerror_fn)(int) = fmrt_strerror;
    const char *(*error_message)(void) = fmrt_error_message;
    int (*last_status)(void) = fmrt_last_status;
    int (*open_fn)(fmrt_runtime **, const char *, const fmrt_options *) = fmrt_runtime_open;
    int (*close_fn)(fmrt_runtime *) = fmrt_runtime_close;
    int (*retain)(fmrt_runtime *) = fmrt_runtime_retain;
    int (*release)(fmrt_runtime *) = fmrt_runtime_release;
    int (*sync_fn)(fmrt_runtime *) = fmrt_runtime_sync;
    const char *(*path)(const fmrt_runtime *) = fmrt_runtime_path;
    int (*stats_fn)(fmrt_stats *, fmrt_runtime *) = fmrt_runtime_stats;
    void *(*malloc_fn)(fmrt_runtime *, size_t) = fmrt_malloc;
    void *(*calloc_fn)(fmrt_runtime *, size_t, size_t) = fmrt_calloc;
    void *(*realloc_fn)(fmrt_runtime *, void *, size_t) = fmrt_realloc;
    void *(*aligned_fn)(fmrt_runtime *, size_t, size_t) = fmrt_aligned_alloc;
    int (*free_fn)(fmrt_runtime *, void *) = fmrt_free;
    size_t (*usable)(const fmrt_runtime *, const void *) = fmrt_usable_size;
    uint64_t (*to_offset)(const fmrt_runtime *, const void *) = fmrt_ptr_to_offset;
    void *(*to_ptr)(const fmrt_runtime *, uint64_t) = fmrt_offset_to_ptr;

    fmrt_options opts = FMRT_OPTIONS_INIT;
    fmrt_stats stats = FMRT_STATS_INIT;
    fmrt_runtime *rt = NULL;
    fmrt_status ok = FMRT_OK;
    fmrt_mode mode = FMRT_MODE_PERSISTENT;
    char *p;
    char *q;

    CHECK(strcmp(version(), FMRT_VERSION_STRING) == 0);
    CHECK(version_number() == FMRT_VERSION_NUMBER);
    CHECK(FMRT_VERSION_NUMBER == FMRT_VERSION_MAJOR * 10000 + FMRT_VERSION_MINOR * 100 + FMRT_VERSION_PATCH);
    CHECK(FMRT_FORMAT_VERSION == 1);
    CHECK(opts.version == FMRT_OPTIONS_VERSION);
    CHECK(opts.mode == mode);
    CHECK(opts.flags == FMRT_OPEN_CREATE);
    CHECK(opts.initial_size == 0 && opts.max_size == 0);
    CHECK(stats.version == FMRT_STATS_VERSION);
    CHECK(stats.live_allocations == 0 && stats.persistent == 0 && stats.readonly == 0);
    CHECK(ok == 0);
    CHECK(strcmp(strerror_fn(12345), "unknown status code") == 0);
    CHECK(error_message() != NULL);
    CHECK(FMRT_EINTERNAL == -10 && FMRT_EEXISTS == -9 && FMRT_EINVAL == -1);

    /* A scratch runtime used from C. */
    opts.mode = FMRT_MODE_SCRATCH;
    opts.max_size = (uint64_t)1 << 30; /* the default 256 GiB is too much for valgrind */
    CHECK(open_fn(&rt, NULL, &opts) == FMRT_OK);
    if (rt != NULL) {
        p = (char *)malloc_fn(rt, 100);
        CHECK(p != NULL);
        CHECK(usable(rt, p) >= 100);
        memset(p, 7, 100);
        p = (char *)realloc_fn(rt, p, 1000);
        CHECK(p != NULL && p[99] == 7);
        q = (char *)calloc_fn(rt, 10, 10);
        CHECK(q != NULL && q[0] == 0 && q[99] == 0);
        CHECK(to_ptr(rt, to_offset(rt, q)) == q);
        CHECK(free_fn(rt, q) == 0);
        q = (char *)aligned_fn(rt, 256, 10);
        CHECK(q != NULL && ((size_t)q) % 256 == 0);
        CHECK(free_fn(rt, q) == 0);
        CHECK(aligned_fn(rt, 3, 10) == NULL && last_status() == FMRT_EINVAL);
        CHECK(path(rt) != NULL);
        CHECK(stats_fn(&stats, rt) == FMRT_OK);
        CHECK(stats.live_allocations == 1 && stats.persistent == 0);
        CHECK(sync_fn(rt) == FMRT_OK);
        CHECK(retain(rt) == FMRT_OK);
        CHECK(free_fn(rt, p) == 0);
        CHECK(close_fn(rt) == FMRT_OK);
        CHECK(release(rt) == FMRT_OK);
    }
    if (failures != 0) {
        fprintf(stderr, "%d checks failed (%s)\n", failures, error_message());
        return 1;
    }
    printf("fmrt.h compiles as C99; library %s\n", version());
    return 0;
}
