// Header compile check: fmrt.h as strict C++17 (-std=c++17 -pedantic
// -Werror -Wall -Wextra), with the init macros, the C linkage of every
// function and the types usable from C++.
#include <fmrt.h>

#include <cstdio>
#include <cstring>
#include <type_traits>

static_assert(std::is_same<decltype(&fmrt_malloc), void *(*)(fmrt_runtime *, size_t)>::value,
              "fmrt_malloc signature");
static_assert(std::is_same<decltype(&fmrt_runtime_open),
                           int (*)(fmrt_runtime **, const char *, const fmrt_options *)>::value,
              "fmrt_runtime_open signature");
static_assert(std::is_same<decltype(&fmrt_ptr_to_offset), uint64_t (*)(const fmrt_runtime *, const void *)>::value,
              "fmrt_ptr_to_offset signature");
static_assert(std::is_standard_layout<fmrt_options>::value && std::is_trivially_copyable<fmrt_options>::value,
              "fmrt_options is a plain C struct");
static_assert(std::is_standard_layout<fmrt_stats>::value && std::is_trivially_copyable<fmrt_stats>::value,
              "fmrt_stats is a plain C struct");
static_assert(FMRT_OK == 0 && FMRT_EINTERNAL == -10, "status codes");

// C linkage: these names are not mangled (the symbol test checks the rest).
extern "C" int (*const fmrt_test_close_ptr)(fmrt_runtime *);
extern "C" int (*const fmrt_test_close_ptr)(fmrt_runtime *) = fmrt_runtime_close;

int main() {
    fmrt_options opts = FMRT_OPTIONS_INIT;
    fmrt_stats stats = FMRT_STATS_INIT;
    int failures = 0;
    auto check = [&](bool ok, const char *what) {
        if (!ok) {
            std::fprintf(stderr, "check failed: %s\n", what);
            ++failures;
        }
    };
    check(std::strcmp(fmrt_version(), FMRT_VERSION_STRING) == 0, "version string");
    check(fmrt_version_number() == FMRT_VERSION_NUMBER, "version number");
    check(opts.version == FMRT_OPTIONS_VERSION && opts.flags == FMRT_OPEN_CREATE, "FMRT_OPTIONS_INIT");
    check(stats.version == FMRT_STATS_VERSION, "FMRT_STATS_INIT");

    opts.mode = FMRT_MODE_SCRATCH;
    opts.max_size = uint64_t(1) << 30;  // the default 256 GiB is too much for valgrind
    fmrt_runtime *rt = nullptr;
    check(fmrt_runtime_open(&rt, nullptr, &opts) == FMRT_OK, "open scratch");
    if (rt != nullptr) {
        void *p = fmrt_malloc(rt, 64);
        check(p != nullptr, "malloc");
        check(fmrt_runtime_stats(&stats, rt) == FMRT_OK && stats.live_allocations == 1, "stats");
        check(fmrt_free(rt, p) == 0, "free");
        check(fmrt_test_close_ptr(rt) == FMRT_OK, "close");
    }
    if (failures != 0) return 1;
    std::printf("fmrt.h compiles as C++17\n");
    return 0;
}
