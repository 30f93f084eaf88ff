// adapter_fmrt.h - libfmrt: one persistent runtime (FMRT_OPTIONS_INIT, so
// FMRT_MODE_PERSISTENT with FMRT_OPEN_CREATE and the default 1 MiB initial
// size, growing on demand) in a fresh file per workload run; fmrt_malloc,
// fmrt_free, fmrt_realloc.  Open and close are not timed; the file is
// removed after close.  FMRT_BENCH_MAX_SIZE=<bytes> in the environment sets
// fmrt_options.max_size (the driver never sets it; without it, a process
// that cannot reserve the default 256 GiB, such as one under valgrind,
// gets a smaller reservation).
//
// SPDX-License-Identifier: GPL-2.0-or-later
#ifndef FMRT_BENCH_ADAPTER_FMRT_H
#define FMRT_BENCH_ADAPTER_FMRT_H

#include "bench_util.h"

#include <cstdlib>
#include <fmrt.h>
#include <unistd.h>

namespace bench {

class FmrtAdapter {
public:
    using Handle = void *;
    static bool is_null(Handle h) { return h == nullptr; }

    bool open(const HeapSpec &spec, std::string *err) {
        path_ = spec.path;
        ::unlink(path_.c_str());
        fmrt_options opts = FMRT_OPTIONS_INIT;
        if (const char *max = std::getenv("FMRT_BENCH_MAX_SIZE")) opts.max_size = std::strtoull(max, nullptr, 0);
        const int rc = fmrt_runtime_open(&rt_, path_.c_str(), &opts);
        if (rc != 0) {
            *err = std::string("fmrt_runtime_open: ") + fmrt_strerror(rc) + ": " + fmrt_error_message();
            return false;
        }
        return true;
    }
    bool close(std::string *err) {
        const int rc = fmrt_runtime_close(rt_);
        rt_ = nullptr;
        ::unlink(path_.c_str());
        if (rc != 0) {
            *err = std::string("fmrt_runtime_close: ") + fmrt_strerror(rc) + ": " + fmrt_error_message();
            return false;
        }
        return true;
    }

    Handle alloc(size_t n) { return fmrt_malloc(rt_, n); }
    bool free(Handle h, size_t) { return fmrt_free(rt_, h) == 0; }
    void *ptr(Handle h) { return h; }
    bool grow(Handle *h, size_t, size_t n) {
        void *q = fmrt_realloc(rt_, *h, n);
        if (q == nullptr) return false;
        *h = q;
        return true;
    }

    static void describe(Info *info) {
        info->push_back({"allocator", "libfmrt"});
        info->push_back({"version", std::string("libfmrt ") + fmrt_version()});
        info->push_back({"expect_library", "libfmrt"});
        info->push_back({"library", library_of(reinterpret_cast<const void *>(&fmrt_malloc))});
        info->push_back({"note", "persistent runtime, FMRT_OPTIONS_INIT, grows on demand"});
    }

private:
    fmrt_runtime *rt_ = nullptr;
    std::string path_;
};

} // namespace bench

#endif // FMRT_BENCH_ADAPTER_FMRT_H
