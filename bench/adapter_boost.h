// adapter_boost.h - Boost.Interprocess managed_mapped_file (rbtree best fit
// with its default interprocess mutex, so it is thread-safe), created fresh
// with the capacity the workload needs (it cannot grow while mapped).
// Growth uses raw_allocation_command(expand_fwd | allocate_new): in place
// when the block can expand forward, otherwise a new block, a copy of the
// old contents and a deallocate, as a container would do.
//
// SPDX-License-Identifier: GPL-2.0-or-later
#ifndef FMRT_BENCH_ADAPTER_BOOST_H
#define FMRT_BENCH_ADAPTER_BOOST_H

#include "bench_util.h"

#include <boost/interprocess/managed_mapped_file.hpp>
#include <boost/version.hpp>
#include <cstring>
#include <memory>
#include <new>

namespace bench {

class BoostAdapter {
public:
    using Handle = void *;
    static bool is_null(Handle h) { return h == nullptr; }

    bool open(const HeapSpec &spec, std::string *err) {
        namespace bip = boost::interprocess;
        path_ = spec.path;
        bip::file_mapping::remove(path_.c_str());
        try {
            file_ = std::make_unique<bip::managed_mapped_file>(bip::create_only, path_.c_str(),
                                                               spec.capacity);
        } catch (const std::exception &e) {
            *err = std::string("managed_mapped_file(create_only, ") + path_ + "): " + e.what();
            return false;
        }
        return true;
    }
    bool close(std::string *) {
        file_.reset();
        boost::interprocess::file_mapping::remove(path_.c_str());
        return true;
    }

    Handle alloc(size_t n) { return file_->allocate(n, std::nothrow); }
    bool free(Handle h, size_t) {
        file_->deallocate(h);
        return true;
    }
    void *ptr(Handle h) { return h; }
    bool grow(Handle *h, size_t old_n, size_t n) {
        namespace bip = boost::interprocess;
        void *old = *h;
        void *reuse = old;
        bip::managed_mapped_file::size_type received = n;
        void *q = file_->get_segment_manager()->raw_allocation_command(
            bip::expand_fwd | bip::allocate_new | bip::nothrow_allocation, n, received, reuse);
        if (q == nullptr) return false;
        if (q != old) { // not expanded in place: move the contents
            std::memcpy(q, old, old_n);
            file_->deallocate(old);
        }
        *h = q;
        return true;
    }

    static void describe(Info *info) {
        info->push_back({"allocator", "boost"});
        info->push_back({"version", std::string("Boost.Interprocess ") + BOOST_LIB_VERSION});
        info->push_back({"expect_library", ""});
        info->push_back({"library", "(header-only)"});
        info->push_back({"note", "managed_mapped_file, pre-sized, default mutex family"});
    }

private:
    std::unique_ptr<boost::interprocess::managed_mapped_file> file_;
    std::string path_;
};

} // namespace bench

#endif // FMRT_BENCH_ADAPTER_BOOST_H
