// The page allocator: hands out page-granular spans of the heap (runs for
// small objects, large allocations), coalesces freed spans and grows the
// file when nothing fits.  Free spans are indexed in RAM (by offset and by
// size, best fit), rebuilt at open by walking the span headers.
//
// Crash ordering: every operation writes the headers that are not yet
// reachable from the walk first and makes them reachable with one final
// aligned store, so a process killed between any two stores leaves a heap
// whose walk is valid (at most a span in flight is lost to a leak).
#ifndef FMRT_PAGES_H
#define FMRT_PAGES_H

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <vector>

#include "format.h"
#include "region.h"

namespace fmrt {

// PageAllocator::alloc's answer when only growing the file would do (positive:
// never an FMRT_ status).
constexpr int kWouldGrow = 1;

class PageAllocator {
public:
    // Called with a span's offset and whether its bytes (after the header
    // word) are known zero, before the span's header is published.
    using InitFn = std::function<void(uint64_t off, bool zeroed)>;
    // Called for every allocated span during load().
    using VisitFn = std::function<int(uint64_t off, const SpanHeader &h)>;

    explicit PageAllocator(Region &region) : region_(region) {}

    // Walks the heap: indexes free spans (joining neighbours in RAM), calls
    // `visit` for the others.  FMRT_EFORMAT on a damaged or overlapping
    // header.  Writes nothing; apply_load_fixes() writes the joins.
    int load(const VisitFn &visit);
    void apply_load_fixes();

    // A span of `pages` pages with header `h` (pages filled in) placed so
    // that (offset + skew) is a multiple of `align` (a power of two).
    // With `may_grow` false, a request no free span fits returns
    // kWouldGrow (no error recorded) instead of growing the file.
    int alloc(uint64_t pages, uint64_t align, uint64_t skew, SpanHeader h, const InitFn &init,
              uint64_t *out_off, bool *out_zeroed, bool may_grow = true);

    // Returns the allocated span at `off` to the free spans.
    void free(uint64_t off);

    // Changes the length of the allocated span at `off` in place.  Growing
    // takes pages from a free neighbour or the file's end; FMRT_ENOMEM
    // (no detail recorded) when the neighbour is taken, so the caller moves.
    int resize(uint64_t off, uint64_t new_pages, bool *out_zeroed_tail);

    // Rewrites the flags of the allocated span at `off` (one store).
    void set_flags(uint64_t off, uint8_t flags);
    uint8_t flags_at(uint64_t off) const;

    // Calls fn(offset, pages, flags) for every large allocation, in file
    // order, under the allocator's lock.
    void for_each_large(const std::function<void(uint64_t, uint32_t, uint8_t)> &fn) const;

    // For verify: hold the allocator still while the file is walked.
    std::mutex &mutex() const { return mu_; }
    uint64_t free_bytes_locked() const { return free_pages_ * kPageSize; }

    uint64_t free_bytes() const;
    uint64_t largest_free() const;
    uint64_t free_spans() const;

private:
    struct FreeSpan {
        uint32_t pages;
        uint8_t flags;
    };
    void store_header(uint64_t off, const SpanHeader &h);
    SpanHeader header_at(uint64_t off) const;
    void insert_free(uint64_t off, uint64_t pages, uint8_t flags);
    void erase_free(std::map<uint64_t, FreeSpan>::iterator it);
    // Puts [off, off+pages) back as free, merging with the next free span.
    void release_locked(uint64_t off, uint64_t pages);
    // Makes the free span at the end of the heap at least `pages` long.
    int grow_locked(uint64_t pages);

    Region &region_;
    mutable std::mutex mu_;
    std::map<uint64_t, FreeSpan> by_off_;
    std::set<std::pair<uint64_t, uint64_t>> by_size_;  // (pages, offset)
    uint64_t free_pages_ = 0;
    std::vector<uint64_t> pending_joins_;  // free spans that absorbed a neighbour in load()
};

}  // namespace fmrt

#endif  // FMRT_PAGES_H
