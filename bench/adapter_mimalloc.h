// adapter_mimalloc.h - mimalloc through its own API (mi_malloc, mi_free,
// mi_realloc), so the worker measures mimalloc whether or not Debian's
// libmimalloc also replaces malloc in this process (it does).
//
// SPDX-License-Identifier: GPL-2.0-or-later
#ifndef FMRT_BENCH_ADAPTER_MIMALLOC_H
#define FMRT_BENCH_ADAPTER_MIMALLOC_H

#include "bench_util.h"

#include <mimalloc.h>

namespace bench {

class MimallocAdapter {
public:
    using Handle = void *;
    static bool is_null(Handle h) { return h == nullptr; }

    bool open(const HeapSpec &, std::string *) { return true; }
    bool close(std::string *) { return true; }

    Handle alloc(size_t n) { return mi_malloc(n); }
    bool free(Handle h, size_t) {
        mi_free(h);
        return true;
    }
    void *ptr(Handle h) { return h; }
    bool grow(Handle *h, size_t, size_t n) {
        void *q = mi_realloc(*h, n);
        if (q == nullptr) return false;
        *h = q;
        return true;
    }

    static void describe(Info *info) {
        const int v = mi_version();
        info->push_back({"allocator", "mimalloc"});
        info->push_back({"version", "mimalloc " + std::to_string(v / 100) + "." +
                                        std::to_string(v % 100 / 10) + "." + std::to_string(v % 10)});
        info->push_back({"expect_library", "libmimalloc"});
        info->push_back({"library", library_of(reinterpret_cast<const void *>(&mi_malloc))});
    }
};

} // namespace bench

#endif // FMRT_BENCH_ADAPTER_MIMALLOC_H
