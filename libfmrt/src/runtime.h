// A runtime: one open heap file and everything the process keeps for it
// (region, heap, reference count).  The C handle `fmrt_runtime` is this
// object.  Handles are recorded in a registry, so close, retain and release
// recognise a handle that is not (or no longer) open instead of touching
// freed memory.
#ifndef FMRT_RUNTIME_H
#define FMRT_RUNTIME_H

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "catalog.h"
#include "error.h"
#include "fmrt.h"
#include "heap.h"
#include "region.h"
#include "tcache.h"

namespace fmrt {

constexpr uint32_t kLiveMagic = 0x464d5254;  // "FMRT"

class Runtime {
public:
    static int open(fmrt_runtime **out, const char *path, const fmrt_options *opts);
    static int verify_path(fmrt_report *out, const char *path);
    static int repair_path(fmrt_report *out, const char *path, unsigned flags);
    int verify(fmrt_report *out);

    // Handle checks for the allocation paths: cheap, not a registry lookup.
    bool looks_live() const { return magic_ == kLiveMagic; }
    bool writable() const { return writable_; }

    int close();
    int retain();
    int release();
    int sync();
    // fmrt_runtime_copy: the file's bytes, copied with every lock held.
    int copy_to(const char *dst);
    int stats(fmrt_stats *out);
    const char *path() const { return region_->path().c_str(); }
    static bool is_open(const Runtime *rt);

    void *malloc(size_t size);
    void *alloc(size_t size, size_t alignment, unsigned flags);
    void *calloc(size_t n, size_t size);
    void *realloc(void *p, size_t size);
    void *aligned_alloc(size_t alignment, size_t size);
    int free(void *p);
    size_t usable_size(const void *p) const;

    uint64_t to_offset(const void *p) const;
    void *to_pointer(uint64_t off) const;

    int set_transient(void *p, bool transient);
    int is_transient(const void *p) const;

    Catalog &catalog() { return *catalog_; }
    // Fills a public entry from a catalog entry.
    void to_public(const CatalogEntry &e, fmrt_entry *out) const;

    Region &region() { return *region_; }
    Heap &heap() { return *heap_; }

protected:
    Runtime() = default;
    ~Runtime();

private:
    void *alloc_small_uncached(uint32_t cls);
    int free_slow(void *p);  // free() for all but its common case
    // Repair: frees an allocation the file holds allocated (its run bit is
    // set, or it is a large span), straight into the heap, whatever its
    // freed-key word says; false when p is neither.  The caller has flushed
    // this process's thread caches, so no set bit stands for a cached slot.
    bool reclaim(void *p);
    // open() for repair: a damaged catalog table is rebuilt from the records
    // found in the heap instead of refusing the file.
    static int open_impl(fmrt_runtime **out, const char *path, const fmrt_options *opts, bool repair,
                         uint64_t *repairs, bool rebuild_catalog = false);
    static int open_once(fmrt_runtime **out, const char *path, const fmrt_options *opts, bool repair,
                         uint64_t *repairs, bool rebuild_catalog, uint64_t reserve_cap);
    int final_close();

    uint32_t magic_ = kLiveMagic;
    bool writable_ = false;
    bool close_requested_ = false;  // under the registry lock
    int refs_ = 1;                  // under the registry lock
    std::unique_ptr<Region> region_;
    std::unique_ptr<Heap> heap_;
    std::unique_ptr<CatalogHeap> catalog_heap_;
    std::unique_ptr<Catalog> catalog_;
    uint64_t reclaimed_at_open_ = 0;
    uint64_t damaged_at_open_ = 0;  // catalog records refused at open
};

// ---- The allocation fast paths, inline for the C boundary -----------------

inline void *Runtime::malloc(size_t size) {
    if (__builtin_expect(size <= kMaxSmall, 1)) {
        const uint32_t cls = size_class_of(size);
        ThreadCache *tc = thread_cache(*heap_);
        if (__builtin_expect(tc != nullptr, 1)) return tc->alloc(cls);
        return alloc_small_uncached(cls);
    }
    return heap_->alloc_large(size, 0, false);
}

inline int Runtime::free(void *p) {
    // The common case inline: a slot of a run, not carrying the freed key,
    // in a run without transient slots, with a thread cache to take it.
    // Everything else (and every error) goes through free_slow.
    bool run_transient = true;
    const int cls = heap_->small_slot_class(p, &run_transient);
    if (__builtin_expect(cls >= 0 && !run_transient, 1)) {
        // small_slot_class() proved p is a slot of a mapped run: reading it is safe.
        if (__builtin_expect(!carries_key(p, heap_->freed_key()), 1)) {
            ThreadCache *tc = thread_cache(*heap_);
            if (__builtin_expect(tc != nullptr, 1)) {
                tc->free(static_cast<uint32_t>(cls), p);
                return FMRT_OK;
            }
        }
    }
    return free_slow(p);
}

}  // namespace fmrt

// The public handle type is the runtime itself.
struct fmrt_runtime final : public fmrt::Runtime {
    fmrt_runtime() = default;
};

#endif  // FMRT_RUNTIME_H
