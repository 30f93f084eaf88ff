// Page allocator (pages.h).
#include "pages.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "error.h"

namespace fmrt {
namespace {

constexpr uint64_t kMinGrowth = uint64_t{1} << 20;
// Spans are limited by the 32-bit page count of the header word.
constexpr uint64_t kMaxSpanPages = 0xFFFFFFFFu;

}  // namespace

void PageAllocator::store_header(uint64_t off, const SpanHeader &h) {
    __atomic_store_n(static_cast<uint64_t *>(region_.ptr(off)), encode_span(off, h), __ATOMIC_RELEASE);
}

SpanHeader PageAllocator::header_at(uint64_t off) const {
    SpanHeader h;
    decode_span(off, __atomic_load_n(static_cast<uint64_t *>(region_.ptr(off)), __ATOMIC_ACQUIRE), &h);
    return h;
}

void PageAllocator::insert_free(uint64_t off, uint64_t pages, uint8_t flags) {
    by_off_[off] = FreeSpan{static_cast<uint32_t>(pages), flags};
    by_size_.insert({pages, off});
    free_pages_ += pages;
}

void PageAllocator::erase_free(std::map<uint64_t, FreeSpan>::iterator it) {
    by_size_.erase({it->second.pages, it->first});
    free_pages_ -= it->second.pages;
    by_off_.erase(it);
}

int PageAllocator::load(const VisitFn &visit) {
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t end = region_.heap_end();
    uint64_t off = region_.heap_start();
    uint64_t last_free = 0, last_free_pages = 0;  // the free span just before `off`, if any
    std::vector<uint64_t> merged;  // free spans that absorbed a free neighbour
    while (off < end) {
        uint64_t word = *static_cast<const uint64_t *>(region_.ptr(off));
        SpanHeader h;
        if (!decode_span(off, word, &h)) {
            return fail(FMRT_EFORMAT, "damaged span header at offset %llu", static_cast<unsigned long long>(off));
        }
        if (uint64_t{h.pages} > (end - off) / kPageSize) {
            return fail(FMRT_EFORMAT, "span at offset %llu runs past the end of the heap",
                        static_cast<unsigned long long>(off));
        }
        uint64_t next = off + uint64_t{h.pages} * kPageSize;
        if (h.kind == SpanKind::kFree) {
            if (last_free_pages != 0 && last_free_pages + h.pages <= kMaxSpanPages) {
                // Two free neighbours (a merge was cut short): join them.
                auto it = by_off_.find(last_free);
                erase_free(it);
                last_free_pages += h.pages;
                insert_free(last_free, last_free_pages, 0);
                if (merged.empty() || merged.back() != last_free) merged.push_back(last_free);
            } else {
                insert_free(off, h.pages, h.flags);
                last_free = off;
                last_free_pages = h.pages;
            }
        } else {
            last_free_pages = 0;
            int rc = visit(off, h);
            if (rc != FMRT_OK) return rc;
        }
        off = next;
    }
    pending_joins_ = std::move(merged);
    return FMRT_OK;
}

void PageAllocator::apply_load_fixes() {
    std::lock_guard<std::mutex> lock(mu_);
    for (uint64_t m : pending_joins_) {
        auto it = by_off_.find(m);
        if (it != by_off_.end()) store_header(m, SpanHeader{SpanKind::kFree, 0, 0, it->second.pages});
    }
    pending_joins_.clear();
}

int PageAllocator::grow_locked(uint64_t pages) {
    const uint64_t end = region_.heap_end();
    uint64_t have = 0, tail = 0;
    uint8_t tail_flags = 0;
    if (!by_off_.empty()) {
        auto last = std::prev(by_off_.end());
        if (last->first + uint64_t{last->second.pages} * kPageSize == end) {
            tail = last->first;
            have = last->second.pages;
            tail_flags = last->second.flags;
        }
    }
    if (have >= pages) return FMRT_OK;
    const uint64_t need = (pages - have) * kPageSize;
    const uint64_t limit = region_.max_size();
    if (need > limit || end > limit - need) {
        return fail(FMRT_ENOMEM, "heap reached its maximum size (%llu bytes)",
                    static_cast<unsigned long long>(limit));
    }
    // Grow by at least 1/8 of the heap so that growth stays rare, but never
    // past the reservation nor past the largest span a header can describe.
    uint64_t step = std::max({need, end / 8, kMinGrowth});
    step = std::min({(step + kPageSize - 1) / kPageSize * kPageSize, limit - end,
                     (kMaxSpanPages - have) * kPageSize});
    uint64_t new_end = end + step;
    // Bytes the file already held past the heap end (a growth cut short by
    // a crash, a repaired truncation, a hostile file) are not known zero:
    // only a pure extension of the file may be claimed zeroed.
    const uint8_t fresh = region_.file_size() <= end ? kSpanZeroed : 0;
    int rc = region_.grow_file(new_end);
    if (rc == FMRT_ENOMEM && step > need) {
        new_end = end + need;  // the disk may still hold what this request needs
        rc = region_.grow_file(new_end);
    }
    if (rc != FMRT_OK) return rc;
    const uint64_t added = (new_end - end) / kPageSize;
    // The new pages become a free span of their own beyond the recorded heap
    // end; then the superblock makes them part of the heap.
    store_header(end, SpanHeader{SpanKind::kFree, 0, fresh, static_cast<uint32_t>(added)});
    if ((rc = region_.set_heap_end(new_end)) != FMRT_OK) return rc;
    if (have == 0) {
        insert_free(end, added, fresh);
        return FMRT_OK;
    }
    // Join the new pages to the free tail.  The merged span is published
    // without the zeroed flag first, the absorbed header word cleared, and
    // only then the flag set, so no state ever claims zeros that are not there.
    erase_free(by_off_.find(tail));
    const uint32_t merged = static_cast<uint32_t>(have + added);
    store_header(tail, SpanHeader{SpanKind::kFree, 0, 0, merged});
    uint8_t flags = 0;
    if ((tail_flags & kSpanZeroed) && fresh) {
        __atomic_store_n(static_cast<uint64_t *>(region_.ptr(end)), uint64_t{0}, __ATOMIC_RELEASE);
        store_header(tail, SpanHeader{SpanKind::kFree, 0, kSpanZeroed, merged});
        flags = kSpanZeroed;
    }
    insert_free(tail, merged, flags);
    return FMRT_OK;
}

int PageAllocator::alloc(uint64_t pages, uint64_t align, uint64_t skew, SpanHeader h,
                         const InitFn &init, uint64_t *out_off, bool *out_zeroed, bool may_grow) {
    std::lock_guard<std::mutex> lock(mu_);
    uint64_t extra = align > kPageSize ? align / kPageSize - 1 : 0;
    uint64_t need = pages + extra;
    if (need > kMaxSpanPages) return fail(FMRT_ENOMEM, "allocation too large");
    auto fit = by_size_.lower_bound({need, 0});
    if (fit == by_size_.end()) {
        if (!may_grow) return kWouldGrow;
        int rc = grow_locked(need);
        if (rc != FMRT_OK) return rc;
        fit = by_size_.lower_bound({need, 0});
        if (fit == by_size_.end()) return fail(FMRT_EINTERNAL, "growth produced no fitting span");
    }
    auto it = by_off_.find(fit->second);
    const uint64_t off = it->first, len = it->second.pages;
    const uint8_t flags = it->second.flags;
    erase_free(it);
    uint64_t a = off;
    if (align > kPageSize) a = (off + skew + align - 1) / align * align - skew;
    if (a < off) a += align;
    const uint64_t prefix = (a - off) / kPageSize;
    const uint64_t suffix = len - prefix - pages;
    const bool zeroed = (flags & kSpanZeroed) != 0;
    // The stores below land inside the free span before its header changes;
    // a zeroed span first drops its claim so no crash state overstates it.
    // (The prefix and suffix keep the claim: their bodies stay untouched.)
    if (zeroed) store_header(off, SpanHeader{SpanKind::kFree, 0, 0, static_cast<uint32_t>(len)});
    if (suffix != 0) {
        uint64_t s = a + pages * kPageSize;
        store_header(s, SpanHeader{SpanKind::kFree, 0, flags, static_cast<uint32_t>(suffix)});
        insert_free(s, suffix, flags);
    }
    if (init) init(a, zeroed);
    h.pages = static_cast<uint32_t>(pages);
    store_header(a, h);
    if (prefix != 0) {
        store_header(off, SpanHeader{SpanKind::kFree, 0, flags, static_cast<uint32_t>(prefix)});
        insert_free(off, prefix, flags);
    }
    *out_off = a;
    *out_zeroed = zeroed;
    return FMRT_OK;
}

void PageAllocator::release_locked(uint64_t off, uint64_t pages) {
    auto next = by_off_.find(off + pages * kPageSize);
    if (next != by_off_.end() && pages + next->second.pages <= kMaxSpanPages) {
        pages += next->second.pages;
        erase_free(next);
    }
    store_header(off, SpanHeader{SpanKind::kFree, 0, 0, static_cast<uint32_t>(pages)});
    insert_free(off, pages, 0);
}

void PageAllocator::free(uint64_t off) {
    std::lock_guard<std::mutex> lock(mu_);
    SpanHeader h = header_at(off);
    uint64_t pages = h.pages;
    release_locked(off, pages);
    // Merge into a free predecessor: one store on its header absorbs ours.
    auto me = by_off_.find(off);
    if (me != by_off_.begin()) {
        auto prev = std::prev(me);
        uint64_t total = uint64_t{prev->second.pages} + me->second.pages;
        if (prev->first + uint64_t{prev->second.pages} * kPageSize == off && total <= kMaxSpanPages) {
            uint64_t p = prev->first;
            erase_free(me);
            erase_free(prev);
            store_header(p, SpanHeader{SpanKind::kFree, 0, 0, static_cast<uint32_t>(total)});
            insert_free(p, total, 0);
        }
    }
}

int PageAllocator::resize(uint64_t off, uint64_t new_pages, bool *out_zeroed_tail) {
    std::lock_guard<std::mutex> lock(mu_);
    SpanHeader h = header_at(off);
    const uint64_t old_pages = h.pages;
    *out_zeroed_tail = false;
    if (new_pages == old_pages) return FMRT_OK;
    if (new_pages > kMaxSpanPages) return FMRT_ENOMEM;
    if (new_pages < old_pages) {
        uint64_t cut = off + new_pages * kPageSize;
        store_header(cut, SpanHeader{SpanKind::kFree, 0, 0, static_cast<uint32_t>(old_pages - new_pages)});
        h.pages = static_cast<uint32_t>(new_pages);
        store_header(off, h);
        release_locked(cut, old_pages - new_pages);
        return FMRT_OK;
    }
    const uint64_t next = off + old_pages * kPageSize;
    const uint64_t need = new_pages - old_pages;
    auto it = by_off_.find(next);
    bool at_end = next == region_.heap_end() ||
                  (it != by_off_.end() && next + uint64_t{it->second.pages} * kPageSize == region_.heap_end());
    if ((it == by_off_.end() || it->second.pages < need) && at_end) {
        int rc = grow_locked(need);
        if (rc != FMRT_OK) return rc;
        it = by_off_.find(next);
    }
    if (it == by_off_.end() || it->second.pages < need) return FMRT_ENOMEM;
    const uint64_t rest = it->second.pages - need;
    const uint8_t flags = it->second.flags;
    const uint32_t next_pages = it->second.pages;
    erase_free(it);
    // As in alloc(): the remainder's header lands inside the neighbour
    // before our header absorbs it, so a zeroed neighbour drops its claim.
    if (flags & kSpanZeroed) store_header(next, SpanHeader{SpanKind::kFree, 0, 0, next_pages});
    if (rest != 0) {
        uint64_t s = next + need * kPageSize;
        store_header(s, SpanHeader{SpanKind::kFree, 0, flags, static_cast<uint32_t>(rest)});
        insert_free(s, rest, flags);
    }
    h.pages = static_cast<uint32_t>(new_pages);
    store_header(off, h);
    // The absorbed header word now lies inside our data; clear it so a
    // zeroed neighbour really leaves zeros behind.
    if (flags & kSpanZeroed) {
        __atomic_store_n(static_cast<uint64_t *>(region_.ptr(next)), uint64_t{0}, __ATOMIC_RELEASE);
        *out_zeroed_tail = true;
    }
    return FMRT_OK;
}

void PageAllocator::set_flags(uint64_t off, uint8_t flags) {
    std::lock_guard<std::mutex> lock(mu_);
    SpanHeader h = header_at(off);
    h.flags = flags;
    store_header(off, h);
}

uint8_t PageAllocator::flags_at(uint64_t off) const {
    std::lock_guard<std::mutex> lock(mu_);
    return header_at(off).flags;
}

void PageAllocator::for_each_large(const std::function<void(uint64_t, uint32_t, uint8_t)> &fn) const {
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t end = region_.heap_end();
    for (uint64_t off = region_.heap_start(); off < end;) {
        SpanHeader h = header_at(off);
        if (h.pages == 0) break;  // cannot happen after a successful load
        if (h.kind == SpanKind::kLarge) fn(off, h.pages, h.flags);
        off += uint64_t{h.pages} * kPageSize;
    }
}

uint64_t PageAllocator::free_bytes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return free_pages_ * kPageSize;
}

uint64_t PageAllocator::largest_free() const {
    std::lock_guard<std::mutex> lock(mu_);
    return by_size_.empty() ? 0 : by_size_.rbegin()->first * kPageSize;
}

uint64_t PageAllocator::free_spans() const {
    std::lock_guard<std::mutex> lock(mu_);
    return by_off_.size();
}

}  // namespace fmrt

