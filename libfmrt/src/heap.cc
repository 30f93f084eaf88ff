// Heap: runs of size classes, large spans and the page map (heap.h).
#include "heap.h"

#include <cstring>
#include <xxhash.h>

#include "error.h"
#include "platform.h"

namespace fmrt {
namespace {

std::atomic<uint64_t> g_next_heap_id{1};

inline uint64_t load_word(const uint64_t *w) { return __atomic_load_n(w, __ATOMIC_RELAXED); }
inline void store_word(uint64_t *w, uint64_t v) { __atomic_store_n(w, v, __ATOMIC_RELAXED); }

// Bits of bitmap word `w` that stand for real slots.
inline uint64_t slot_mask(uint32_t slots, uint32_t w) {
    uint32_t first = w * 64;
    if (first >= slots) return 0;  // bitmap words are sized before the header is taken off
    if (first + 64 <= slots) return ~uint64_t{0};
    return (uint64_t{1} << (slots - first)) - 1;
}

// Data pages for `size` bytes, without overflow for any size_t.
inline uint64_t pages_for(size_t size) {
    uint64_t s = static_cast<uint64_t>(size);
    uint64_t n = s / kPageSize + (s % kPageSize != 0);
    return n == 0 ? 1 : n;
}

}  // namespace

Heap::Heap(Region &region)
    : region_(region), base_addr_(reinterpret_cast<uintptr_t>(region.base())),
      span_bytes_(region.reserved() - kHeapStart), pages_(region), id_(g_next_heap_id.fetch_add(1)),
      freed_key_(freed_slot_key(region.superblock().uuid)) {}

Heap::~Heap() {
    os::unmap(map_, map_bytes_);
    for (Run *r : all_runs_) delete r;
}

void Heap::map_set(uint64_t off, uint64_t pages, uintptr_t v) {
    uint64_t first = off >> kPageShift;
    for (uint64_t i = 0; i < pages; ++i) __atomic_store_n(&map_[first + i], v, __ATOMIC_RELEASE);
}

Run *Heap::adopt_run(uint64_t off, uint32_t cls) {
    Run *r;
    {
        std::lock_guard<std::mutex> lock(runs_mu_);
        if (!spare_runs_.empty()) {
            r = spare_runs_.back();
            spare_runs_.pop_back();
        } else {
            r = new Run();
            all_runs_.push_back(r);
        }
    }
    const RunLayout &l = run_layout(cls);
    r->off = off;
    r->data_off = off + l.data_offset;
    r->hdr = static_cast<RunHeader *>(region_.ptr(off));
    r->cls = cls;
    r->slot_size = l.slot_size;
    r->slots = l.slots;
    r->used = 0;
    r->scan = 0;
    r->div_magic = l.div_magic;
    r->prev = r->next = nullptr;
    r->listed = false;
    r->active = true;
    r->transient.store(0, std::memory_order_relaxed);
    r->high_water.store(0, std::memory_order_relaxed);
    return r;
}

int Heap::load() {
    map_bytes_ = region_.reserved() / kPageSize * sizeof(uintptr_t);
    void *m = nullptr;
    int rc = os::map_anonymous(&m, map_bytes_);
    if (rc != FMRT_OK) return rc;
    map_ = static_cast<uintptr_t *>(m);
    std::vector<Run *> runs;
    std::vector<std::pair<uint64_t, uint32_t>> cache_blocks;  // offset, pages
    rc = pages_.load([&](uint64_t off, const SpanHeader &h) -> int {
        if (h.kind == SpanKind::kCache) {
            cache_blocks.emplace_back(off, h.pages);
            return FMRT_OK;
        }
        if (h.kind == SpanKind::kLarge) {
            if (h.pages < 2) {
                return fail(FMRT_EFORMAT, "large span at offset %llu has no data page",
                            static_cast<unsigned long long>(off));
            }
            map_set(off + kPageSize, 1, static_cast<uintptr_t>(off) | 1);
            if (h.flags & kSpanTransient) {
                transient_spans_.push_back(off);
                transient_large_.fetch_add(1, std::memory_order_relaxed);
            }
            live_large_.fetch_add(1, std::memory_order_relaxed);
            large_bytes_.fetch_add((h.pages - 1) * kPageSize, std::memory_order_relaxed);
            large_span_bytes_.fetch_add(uint64_t{h.pages} * kPageSize, std::memory_order_relaxed);
            return FMRT_OK;
        }
        const RunLayout &l = run_layout(h.size_class);
        if (h.pages != l.pages) {
            return fail(FMRT_EFORMAT, "run at offset %llu has %u pages, its size class needs %u",
                        static_cast<unsigned long long>(off), h.pages, l.pages);
        }
        Run *r = adopt_run(off, h.size_class);
        for (uint32_t w = 0; w < l.bitmap_words; ++w) {
            uint64_t bits = *r->hdr->alloc_word(w);
            uint64_t trans = *r->hdr->transient_word(w);
            if ((bits | trans) & ~slot_mask(l.slots, w)) {
                return fail(FMRT_EFORMAT, "run at offset %llu marks slots it does not have",
                            static_cast<unsigned long long>(off));
            }
            r->used += static_cast<uint32_t>(__builtin_popcountll(bits));
            if (bits != 0) r->high_water.store(w * 64 + 64 - static_cast<uint32_t>(__builtin_clzll(bits)),
                                               std::memory_order_relaxed);
        }
        map_set(off, l.pages, reinterpret_cast<uintptr_t>(r));
        runs.push_back(r);
        return FMRT_OK;
    });
    if (rc != FMRT_OK) return rc;
    // Slots the previous process's thread caches held look allocated; the
    // cache blocks list them.  Free them (in RAM now, in the file at
    // apply_load_fixes) and the blocks with them.
    std::vector<uint64_t> listed;
    for (auto &cb : cache_blocks) {
        listed.clear();
        if (cache_block_entries(static_cast<const uint8_t *>(region_.ptr(cb.first)), cb.second, &listed)) {
            for (uint64_t off : listed) {
                if (off < kHeapStart || off >= region_.heap_end()) continue;
                uintptr_t e = map_[off >> kPageShift];
                if (e == 0 || (e & 1)) continue;
                Run *r = reinterpret_cast<Run *>(e);
                if (off < r->data_off) continue;
                const uint64_t d = off - r->data_off, idx = (d * r->div_magic) >> 40;
                if (idx >= r->slots || idx * r->slot_size != d) continue;
                // A slot handed out since it was listed (a stale entry) does
                // not carry the key: it stays allocated.
                if (!slot_carries_key(static_cast<const uint8_t *>(region_.ptr(off)), freed_key_)) continue;
                const uint64_t bit = uint64_t{1} << (idx & 63);
                uint64_t *aw = r->hdr->alloc_word(idx >> 6);
                uint64_t &clear = pending_clears_[aw];
                if (!(*aw & bit) || (clear & bit)) continue;  // not marked, or listed twice
                clear |= bit;
                r->used--;
            }
        }
        pending_block_frees_.push_back(cb.first);
    }
    for (Run *r : runs) {
        ClassState &cs = classes_[r->cls];
        bool has_transient = false;
        for (uint32_t w = 0; w < (r->slots + 63) / 64; ++w) {
            uint64_t a = *r->hdr->alloc_word(w), t = *r->hdr->transient_word(w);
            auto pc = pending_clears_.find(r->hdr->alloc_word(w));
            if (pc != pending_clears_.end()) a &= ~pc->second;
            // A transient bit without its allocated bit is a crash between
            // the two stores of a transient allocation: nothing to reclaim
            // (take_slots clears the bit when it hands the slot out again).
            if (t & a) {
                has_transient = true;
                const uint32_t n = static_cast<uint32_t>(__builtin_popcountll(t & a));
                transient_small_.fetch_add(n, std::memory_order_relaxed);
                r->transient.fetch_add(n, std::memory_order_relaxed);
            }
        }
        if (has_transient) transient_runs_.push_back(r);
        cs.runs++;
        cs.used += r->used;
        if (r->used < r->slots) list_push(cs, r);
        if (r->used == 0) cs.empty_runs++;
    }
    return FMRT_OK;
}

void Heap::apply_load_fixes() {
    pages_.apply_load_fixes();
    for (auto &pc : pending_clears_) {
        // Allocated bit and any transient bit of a slot a cache held.
        store_word(pc.first, load_word(pc.first) & ~pc.second);
        store_word(pc.first + 1, load_word(pc.first + 1) & ~pc.second);
    }
    pending_clears_.clear();
    for (uint64_t off : pending_block_frees_) pages_.free(off);
    pending_block_frees_.clear();
}

void Heap::list_push(ClassState &cs, Run *r) {
    r->prev = nullptr;
    r->next = cs.partial;
    if (cs.partial) cs.partial->prev = r;
    cs.partial = r;
    r->listed = true;
}

void Heap::list_remove(ClassState &cs, Run *r) {
    if (r->prev) r->prev->next = r->next;
    else cs.partial = r->next;
    if (r->next) r->next->prev = r->prev;
    r->prev = r->next = nullptr;
    r->listed = false;
}

Run *Heap::new_run(uint32_t cls) {
    const RunLayout &l = run_layout(cls);
    uint64_t off = 0;
    bool zeroed = false;
    auto init = [&](uint64_t o, bool z) {
        if (!z) std::memset(static_cast<uint8_t *>(region_.ptr(o)) + 8, 0, l.data_offset - 8);
    };
    if (alloc_pages(l.pages, 0, 0, SpanHeader{SpanKind::kRun, static_cast<uint8_t>(cls), 0, 0}, init, &off,
                     &zeroed) != FMRT_OK) {
        return nullptr;
    }
    // A run from fresh space is about to be written slot by slot: fault
    // it in at once rather than a trap per page.
    if (zeroed) os::prefault(region_.ptr(off), uint64_t{l.pages} * kPageSize);
    Run *r = adopt_run(off, cls);
    map_set(off, l.pages, reinterpret_cast<uintptr_t>(r));
    return r;
}

int Heap::alloc_pages(uint64_t pages, uint64_t align, uint64_t skew, SpanHeader h, const PageAllocator::InitFn &init,
                      uint64_t *out_off, bool *out_zeroed) {
    int rc = pages_.alloc(pages, align, skew, h, init, out_off, out_zeroed, false);
    if (rc != kWouldGrow) return rc;
    // Empty runs are kept for their class until the space is wanted: give
    // them all back (they may join into a fitting span) before growing.
    if (release_empty_runs() != 0) {
        rc = pages_.alloc(pages, align, skew, h, init, out_off, out_zeroed, false);
        if (rc != kWouldGrow) return rc;
    }
    return pages_.alloc(pages, align, skew, h, init, out_off, out_zeroed, true);
}

uint64_t Heap::release_empty_runs() {
    uint64_t released = 0;
    std::vector<Run *> empty;
    for (uint32_t c = 0; c < kNumClasses; ++c) {
        ClassState &cs = classes_[c];
        {
            std::lock_guard<SpinLock> lock(cs.mu);
            if (cs.empty_runs == 0) continue;
            for (Run *r = cs.partial; r != nullptr;) {
                Run *next = r->next;
                if (r->used == 0) {
                    unlist_run(cs, r);
                    empty.push_back(r);
                }
                r = next;
            }
        }
        for (Run *r : empty) dispose_run(r);
        released += empty.size();
        empty.clear();
    }
    return released;
}

void Heap::unlist_run(ClassState &cs, Run *r) {
    list_remove(cs, r);
    cs.empty_runs--;
    cs.runs--;
    map_set(r->off, run_layout(r->cls).pages, 0);
}

void Heap::dispose_run(Run *r) {
    pages_.free(r->off);
    std::lock_guard<std::mutex> lock(runs_mu_);
    r->active = false;
    spare_runs_.push_back(r);
}

uint32_t Heap::take_slots(uint32_t cls, uint32_t want, uint64_t *stack, uint32_t *count) {
    const uint32_t base = __atomic_load_n(count, __ATOMIC_RELAXED);
    const uint32_t got = take_slots_locked(cls, want, stack, count);
    // Outside the class lock (these slots are the caller's now): each
    // carries the freed key until handed out, a store to a line of the
    // slot that is often not in the cache.
    for (uint32_t i = 0; i < got; ++i) mark_freed(region_.ptr(stack[base + i]), freed_key_);
    return got;
}

uint32_t Heap::take_slots_locked(uint32_t cls, uint32_t want, uint64_t *stack, uint32_t *count) {
    ClassState &cs = classes_[cls];
    std::unique_lock<SpinLock> lock(cs.mu);
    // Crash order: the slots are listed in the stack and the count published
    // before their allocated bits are stored (a listed slot whose bit is
    // still clear is harmless at the next open).
    struct Pending {
        uint64_t *word;
        uint64_t bits;
    } pending[kMaxTake];
    uint32_t npending = 0;
    const uint32_t base = __atomic_load_n(count, __ATOMIC_RELAXED);
    want = std::min(want, kMaxTake);
    uint32_t got = 0, published = 0;
    // Count first, then the bits; done before the lock is let go, so no
    // other thread can see a chosen slot as free.
    auto publish = [&] {
        cs.used += got - published;
        published = got;
        __atomic_store_n(count, base + got, __ATOMIC_RELEASE);
        for (uint32_t i = 0; i < npending; ++i) {
            __atomic_store_n(pending[i].word, pending[i].bits, __ATOMIC_RELEASE);
        }
        npending = 0;
    };
    while (got < want) {
        Run *r = cs.partial;
        if (r == nullptr) {
            // A new run takes the page allocator's lock and may fault pages
            // in: not while holding the class lock other threads wait on.
            publish();
            lock.unlock();
            Run *fresh = new_run(cls);
            lock.lock();
            if (fresh == nullptr) break;
            cs.runs++;
            list_push(cs, fresh);
            cs.empty_runs++;
            continue;
        }
        if (r->used == 0) cs.empty_runs--;
        const uint32_t words = (r->slots + 63) / 64;
        uint32_t w = r->scan;
        for (; w < words && got < want; ++w) {
            uint64_t *aw = r->hdr->alloc_word(w);
            uint64_t bits = load_word(aw);
            const uint64_t was = bits;
            uint64_t avail = ~bits & slot_mask(r->slots, w);
            if (avail == 0) continue;
            while (avail != 0 && got < want) {
                uint32_t b = static_cast<uint32_t>(__builtin_ctzll(avail));
                avail &= avail - 1;
                bits |= uint64_t{1} << b;
                const uint32_t slot = w * 64 + b;
                const uint64_t off = r->data_off + uint64_t{slot} * r->slot_size;
                if (slot >= r->high_water.load(std::memory_order_relaxed)) {
                    // Never handed out before: key it before the free path can
                    // see it (take_slots keys the others after the lock).
                    mark_freed(region_.ptr(off), freed_key_);
                    r->high_water.store(slot + 1, std::memory_order_release);
                }
                stack[base + got] = off;
                ++got;
                ++r->used;
            }
            // A transient bit left on a free slot (a kill between the two
            // stores of a transient free) must not pass to its next owner.
            uint64_t *tw = r->hdr->transient_word(w);
            const uint64_t stale = load_word(tw) & (bits & ~was);
            if (stale != 0) store_word(tw, load_word(tw) & ~stale);
            pending[npending++] = Pending{aw, bits};
            if (avail != 0) break;  // this word still has free slots
        }
        r->scan = w;
        // Full, or (should the counts ever disagree with the bitmap) no
        // clear bit left to find: either way not a run to take from.
        if (r->used == r->slots || w >= words) list_remove(cs, r);
    }
    publish();
    return got;
}

void Heap::return_slots(uint32_t cls, const uint64_t *offs, uint32_t n, uint32_t *count) {
    ClassState &cs = classes_[cls];
    // Bring the bitmap words in before taking the lock, so the critical
    // section does not wait on memory.  (The runs cannot go away meanwhile:
    // these slots are still marked in them.)
    for (uint32_t i = 0; i < n; ++i) {
        const Run *r = reinterpret_cast<const Run *>(map_[offs[i] >> kPageShift]);
        if (r == nullptr || (reinterpret_cast<uintptr_t>(r) & 1)) continue;
        const uint64_t idx = ((offs[i] - r->data_off) * r->div_magic) >> 40;
        __builtin_prefetch(r->hdr->alloc_word(idx >> 6), 1);
    }
    std::lock_guard<SpinLock> lock(cs.mu);
    // Crash order: the bits are cleared before the stack forgets the slots.
    uint32_t returned = 0;
    for (uint32_t i = 0; i < n; ++i) {
        const uint64_t off = offs[i];
        Run *r = reinterpret_cast<Run *>(map_[off >> kPageShift]);
        uint64_t idx = ((off - r->data_off) * r->div_magic) >> 40;
        uint64_t *word = r->hdr->alloc_word(idx >> 6);
        const uint64_t bit = uint64_t{1} << (idx & 63);
        const uint64_t bits = load_word(word);
        if (!(bits & bit)) continue;  // never allocated: a stray free got this far
        uint64_t *tword = r->hdr->transient_word(idx >> 6);
        if (load_word(tword) & bit) {
            store_word(tword, load_word(tword) & ~bit);
            transient_small_.fetch_sub(1, std::memory_order_relaxed);
            r->transient.fetch_sub(1, std::memory_order_relaxed);
        }
        store_word(word, bits & ~bit);
        ++returned;
        if (!r->listed) list_push(cs, r);
        uint32_t w = static_cast<uint32_t>(idx >> 6);
        if (w < r->scan) r->scan = w;
        // An empty run stays with its class (a free/malloc cycle then never
        // goes to the page allocator) until alloc_pages wants the space.
        if (--r->used == 0) cs.empty_runs++;
    }
    cs.used -= returned;
    if (count != nullptr) {
        __atomic_store_n(count, __atomic_load_n(count, __ATOMIC_RELAXED) - n, __ATOMIC_RELEASE);
    }
}

uint64_t Heap::alloc_cache_block(uint64_t pages, const std::function<void(uint8_t *)> &init) {
    uint64_t off = 0;
    bool zeroed = false;
    auto fill = [&](uint64_t o, bool) { init(static_cast<uint8_t *>(region_.ptr(o))); };
    if (alloc_pages(pages, 0, 0, SpanHeader{SpanKind::kCache, 0, 0, 0}, fill, &off, &zeroed) != FMRT_OK) return 0;
    return off;
}

void Heap::free_cache_block(uint64_t off) { pages_.free(off); }

void *Heap::alloc_large(size_t size, size_t align, bool zero, bool transient) {
    const uint64_t data_pages = pages_for(size);
    if (data_pages >= (uint64_t{1} << 32) - 1) {
        fail(FMRT_ENOMEM, "allocation of %zu bytes is too large", size);
        return nullptr;
    }
    uint64_t off = 0;
    bool zeroed = false;
    auto init = [&](uint64_t o, bool) { static_cast<LargeHeader *>(region_.ptr(o))->requested = size; };
    const uint8_t flags = transient ? kSpanTransient : 0;
    if (alloc_pages(data_pages + 1, align, kPageSize, SpanHeader{SpanKind::kLarge, 0, flags, 0}, init, &off,
                     &zeroed) != FMRT_OK) {
        return nullptr;
    }
    void *data = region_.ptr(off + kPageSize);
    if (zero && !zeroed) std::memset(data, 0, data_pages * kPageSize);
    map_set(off + kPageSize, 1, static_cast<uintptr_t>(off) | 1);
    if (transient) transient_large_.fetch_add(1, std::memory_order_relaxed);
    live_large_.fetch_add(1, std::memory_order_relaxed);
    large_bytes_.fetch_add(data_pages * kPageSize, std::memory_order_relaxed);
    large_span_bytes_.fetch_add((data_pages + 1) * kPageSize, std::memory_order_relaxed);
    return data;
}

size_t Heap::large_usable(uint64_t span_off) const {
    SpanHeader h;
    decode_span(span_off, load_word(static_cast<uint64_t *>(region_.ptr(span_off))), &h);
    return static_cast<size_t>((uint64_t{h.pages} - 1) * kPageSize);
}

void Heap::free_large(uint64_t span_off) {
    uint64_t usable = large_usable(span_off);
    if (pages_.flags_at(span_off) & kSpanTransient) transient_large_.fetch_sub(1, std::memory_order_relaxed);
    map_set(span_off + kPageSize, 1, 0);
    live_large_.fetch_sub(1, std::memory_order_relaxed);
    large_bytes_.fetch_sub(usable, std::memory_order_relaxed);
    large_span_bytes_.fetch_sub(usable + kPageSize, std::memory_order_relaxed);
    // Freed data carries the key as a freed slot does: a record left in it
    // no longer checks, so a repair after a power cut never takes what it
    // reads there for a catalog record of the moment.
    mark_freed(region_.ptr(span_off + kPageSize), freed_key_);
    pages_.free(span_off);
}

bool Heap::resize_large(uint64_t span_off, size_t size) {
    uint64_t data_pages = pages_for(size);
    if (data_pages >= (uint64_t{1} << 32) - 1) return false;
    uint64_t old = large_usable(span_off);
    bool zeroed_tail = false;
    if (data_pages * kPageSize <= old && data_pages * kPageSize + old / 8 >= old) {
        // Already big enough and not much too big: nothing to move.
        static_cast<LargeHeader *>(region_.ptr(span_off))->requested = size;
        return true;
    }
    // Growth takes 1/8 more than asked when it can, as vectors do, so a
    // block grown step by step is resized a logarithmic number of times.
    const uint64_t old_pages = old / kPageSize;
    const uint64_t roomy = std::max(data_pages, old_pages + old_pages / 8);
    // Crash order: the recorded size must fit the span as a kill may leave
    // it, so it is lowered before the header shrinks (a shrink cannot fail)
    // and raised only after the header grew.
    auto *lh = static_cast<LargeHeader *>(region_.ptr(span_off));
    const bool shrink = data_pages * kPageSize <= old;
    if (shrink) lh->requested = size;
    if (shrink || roomy == data_pages || pages_.resize(span_off, roomy + 1, &zeroed_tail) != FMRT_OK) {
        if (pages_.resize(span_off, data_pages + 1, &zeroed_tail) != FMRT_OK) return false;
    } else {
        data_pages = roomy;
    }
    lh->requested = size;
    uint64_t now = data_pages * kPageSize;
    large_bytes_.fetch_add(now - old, std::memory_order_relaxed);  // modular: also right when shrinking
    large_span_bytes_.fetch_add(now - old, std::memory_order_relaxed);
    return true;
}

int Heap::classify_other(const void *p, uint64_t off, uintptr_t e, uint64_t *span_off, bool *transient) const {
    if (!region_.in_reservation(p) || e == 0) return kNotOurs;
    const uint64_t s = e & ~uintptr_t{1};
    if (off != s + kPageSize) return kNotOurs;
    *span_off = s;
    if (transient != nullptr) {
        SpanHeader h;
        decode_span(s, load_word(static_cast<uint64_t *>(region_.ptr(s))), &h);
        *transient = (h.flags & kSpanTransient) != 0;
    }
    return kLargeClass;
}

void Heap::set_transient(const void *p, int cls, uint64_t span_off, bool transient) {
    if (cls == kLargeClass) {
        uint8_t f = pages_.flags_at(span_off);
        uint8_t nf = transient ? (f | kSpanTransient) : (f & ~kSpanTransient);
        if (nf == f) return;
        pages_.set_flags(span_off, nf);
        if (transient) transient_large_.fetch_add(1, std::memory_order_relaxed);
        else transient_large_.fetch_sub(1, std::memory_order_relaxed);
        return;
    }
    ClassState &cs = classes_[cls];
    std::lock_guard<SpinLock> lock(cs.mu);
    const uint64_t off = region_.offset(p);
    Run *r = reinterpret_cast<Run *>(map_[off >> kPageShift]);
    const uint64_t idx = ((off - r->data_off) * r->div_magic) >> 40;
    uint64_t *tw = r->hdr->transient_word(idx >> 6);
    const uint64_t bit = uint64_t{1} << (idx & 63);
    const uint64_t t = load_word(tw);
    if (((t & bit) != 0) == transient) return;
    store_word(tw, transient ? (t | bit) : (t & ~bit));
    if (transient) {
        transient_small_.fetch_add(1, std::memory_order_relaxed);
        r->transient.fetch_add(1, std::memory_order_relaxed);
    } else {
        transient_small_.fetch_sub(1, std::memory_order_relaxed);
        r->transient.fetch_sub(1, std::memory_order_relaxed);
    }
}

uint64_t Heap::reclaim_transients() {
    uint64_t reclaimed = 0;
    for (uint64_t off : transient_spans_) {
        if (pages_.flags_at(off) & kSpanTransient) {
            free_large(off);
            ++reclaimed;
        }
    }
    transient_spans_.clear();
    for (Run *r : transient_runs_) {
        ClassState &cs = classes_[r->cls];
        std::lock_guard<SpinLock> lock(cs.mu);
        const uint32_t words = (r->slots + 63) / 64;
        const bool was_full = r->used == r->slots;
        for (uint32_t w = 0; w < words; ++w) {
            uint64_t *aw = r->hdr->alloc_word(w), *tw = r->hdr->transient_word(w);
            const uint64_t t = load_word(tw);
            if (t == 0) continue;
            const uint64_t a = load_word(aw);
            const uint32_t n = static_cast<uint32_t>(__builtin_popcountll(t & a));
            for (uint64_t m = t & a; m != 0; m &= m - 1) {
                const uint64_t slot = uint64_t{w} * 64 + static_cast<uint64_t>(__builtin_ctzll(m));
                mark_freed(region_.ptr(r->data_off + slot * r->slot_size), freed_key_);
            }
            // Allocated bit first: a crash in between leaves a transient bit
            // on a free slot, which the next load ignores.
            store_word(aw, a & ~t);
            store_word(tw, 0);
            r->transient.fetch_sub(n, std::memory_order_relaxed);
            r->used -= n;
            cs.used -= n;
            transient_small_.fetch_sub(n, std::memory_order_relaxed);
            reclaimed += n;
            if (w < r->scan) r->scan = w;
        }
        if (was_full && r->used < r->slots) list_push(cs, r);
        if (r->used == 0) cs.empty_runs++;
    }
    transient_runs_.clear();
    return reclaimed;
}

void Heap::for_each_allocation(const std::function<void(uint64_t, uint64_t, bool)> &fn) {
    for (uint32_t cls = 0; cls < kNumClasses; ++cls) classes_[cls].mu.lock();
    std::vector<Run *> runs;
    {
        std::lock_guard<std::mutex> lock(runs_mu_);
        runs = all_runs_;
    }
    for (Run *r : runs) {
        if (!r->active) continue;
        const uint32_t words = (r->slots + 63) / 64;
        for (uint32_t w = 0; w < words; ++w) {
            uint64_t a = load_word(r->hdr->alloc_word(w)), t = load_word(r->hdr->transient_word(w));
            while (a != 0) {
                uint32_t b = static_cast<uint32_t>(__builtin_ctzll(a));
                a &= a - 1;
                uint64_t slot = uint64_t{w} * 64 + b;
                fn(r->data_off + slot * r->slot_size, r->slot_size, (t >> b) & 1);
            }
        }
    }
    for (uint32_t cls = kNumClasses; cls-- > 0;) classes_[cls].mu.unlock();
    pages_.for_each_large([&](uint64_t off, uint32_t pages, uint8_t flags) {
        fn(off + kPageSize, (uint64_t{pages} - 1) * kPageSize, (flags & kSpanTransient) != 0);
    });
}

void Heap::with_all_locks(const std::function<void(uint64_t, uint64_t)> &fn) {
    for (uint32_t cls = 0; cls < kNumClasses; ++cls) classes_[cls].mu.lock();
    {
        std::lock_guard<std::mutex> lock(pages_.mutex());
        uint64_t used = 0;
        for (uint32_t cls = 0; cls < kNumClasses; ++cls) used += classes_[cls].used;
        fn(pages_.free_bytes_locked(), used);
    }
    for (uint32_t cls = kNumClasses; cls-- > 0;) classes_[cls].mu.unlock();
}

HeapCounts Heap::counts(const std::function<void()> &with_locks_held) {
    HeapCounts c;
    for (uint32_t cls = 0; cls < kNumClasses; ++cls) classes_[cls].mu.lock();
    if (with_locks_held) with_locks_held();
    for (uint32_t cls = 0; cls < kNumClasses; ++cls) {
        ClassState &cs = classes_[cls];
        const RunLayout &l = run_layout(cls);
        c.live_small += cs.used;
        c.small_bytes += cs.used * l.slot_size;
        c.small_free_bytes += (cs.runs * l.slots - cs.used) * l.slot_size;
        c.run_bytes += cs.runs * l.pages * kPageSize;
    }
    for (uint32_t cls = kNumClasses; cls-- > 0;) classes_[cls].mu.unlock();
    c.live_large = live_large_.load();
    c.large_bytes = large_bytes_.load();
    c.large_span_bytes = large_span_bytes_.load();
    c.free_span_bytes = pages_.free_bytes();
    c.largest_free = pages_.largest_free();
    return c;
}

}  // namespace fmrt
