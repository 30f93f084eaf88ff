// adapter_pmdk.h - PMDK libpmemobj: a pool made with pmemobj_create, large
// enough for the workload; pmemobj_alloc / pmemobj_free / pmemobj_realloc
// (failure-atomic), objects addressed through pmemobj_direct.  Handles are
// PMEMoids kept in volatile memory, as the other allocators keep pointers.
// The worker runs with flushing off: PMEM_IS_PMEM_FORCE=1 (no msync) and
// PMEM_NO_FLUSH=1 (no cache-line flush instructions); see worker.cc.
//
// SPDX-License-Identifier: GPL-2.0-or-later
#ifndef FMRT_BENCH_ADAPTER_PMDK_H
#define FMRT_BENCH_ADAPTER_PMDK_H

#include "bench_util.h"

#include <algorithm>
#include <libpmemobj.h>
#include <unistd.h>

namespace bench {

class PmdkAdapter {
public:
    using Handle = PMEMoid;
    static bool is_null(Handle h) { return OID_IS_NULL(h); }

    bool open(const HeapSpec &spec, std::string *err) {
        path_ = spec.path;
        ::unlink(path_.c_str());
        const size_t size = std::max<uint64_t>(spec.capacity, PMEMOBJ_MIN_POOL);
        pop_ = pmemobj_create(path_.c_str(), "fmrt-bench", size, 0600);
        if (pop_ == nullptr) {
            *err = std::string("pmemobj_create(") + path_ + "): " + pmemobj_errormsg();
            return false;
        }
        return true;
    }
    bool close(std::string *) {
        pmemobj_close(pop_);
        pop_ = nullptr;
        ::unlink(path_.c_str());
        return true;
    }

    Handle alloc(size_t n) {
        PMEMoid oid = OID_NULL;
        if (pmemobj_alloc(pop_, &oid, n, 0, nullptr, nullptr) != 0) return OID_NULL;
        return oid;
    }
    bool free(Handle h, size_t) {
        pmemobj_free(&h);
        return true;
    }
    void *ptr(Handle h) { return pmemobj_direct(h); }
    bool grow(Handle *h, size_t, size_t n) { return pmemobj_realloc(pop_, h, n, 0) == 0; }

    static void describe(Info *info) {
        info->push_back({"allocator", "pmdk"});
        info->push_back({"version", "libpmemobj API " + std::to_string(PMEMOBJ_MAJOR_VERSION) + "." +
                                        std::to_string(PMEMOBJ_MINOR_VERSION)});
        info->push_back({"expect_library", "libpmemobj"});
        info->push_back({"library", library_of(reinterpret_cast<const void *>(&pmemobj_create))});
        info->push_back({"note", "flushing off: PMEM_IS_PMEM_FORCE=1 PMEM_NO_FLUSH=1"});
    }

private:
    PMEMobjpool *pop_ = nullptr;
    std::string path_;
};

} // namespace bench

#endif // FMRT_BENCH_ADAPTER_PMDK_H
