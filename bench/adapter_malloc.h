// adapter_malloc.h - the process's malloc/free/realloc.  bench-worker-glibc
// is built with nothing else, so this is glibc's ptmalloc;
// bench-worker-jemalloc links Debian's libjemalloc, which replaces malloc for
// the whole process (BENCH_JEMALLOC is then defined to report its version).
// describe() names the library that really defines malloc, and the worker
// refuses to run when it is not the one the executable is named after.
//
// SPDX-License-Identifier: GPL-2.0-or-later
#ifndef FMRT_BENCH_ADAPTER_MALLOC_H
#define FMRT_BENCH_ADAPTER_MALLOC_H

#include "bench_util.h"

#include <cstdlib>
#include <gnu/libc-version.h>

#ifdef BENCH_JEMALLOC
extern "C" int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);
#endif

namespace bench {

class MallocAdapter {
public:
    using Handle = void *;
    static bool is_null(Handle h) { return h == nullptr; }

    bool open(const HeapSpec &, std::string *) { return true; }
    bool close(std::string *) { return true; }

    Handle alloc(size_t n) { return std::malloc(n); }
    bool free(Handle h, size_t) {
        std::free(h);
        return true;
    }
    void *ptr(Handle h) { return h; }
    bool grow(Handle *h, size_t, size_t n) {
        void *q = std::realloc(*h, n);
        if (q == nullptr) return false;
        *h = q;
        return true;
    }

    static void describe(Info *info) {
        void *(*m)(size_t) = &::malloc;
        const std::string lib = library_of(reinterpret_cast<const void *>(m));
#ifdef BENCH_JEMALLOC
        const char *v = "?";
        size_t len = sizeof v;
        if (mallctl("version", &v, &len, nullptr, 0) != 0) v = "?";
        info->push_back({"allocator", "jemalloc"});
        info->push_back({"version", std::string("jemalloc ") + v});
        info->push_back({"expect_library", "libjemalloc"});
#else
        info->push_back({"allocator", "glibc"});
        info->push_back({"version", std::string("glibc ") + gnu_get_libc_version()});
        info->push_back({"expect_library", "libc.so"});
#endif
        info->push_back({"library", lib});
    }
};

} // namespace bench

#endif // FMRT_BENCH_ADAPTER_MALLOC_H
