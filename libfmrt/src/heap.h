// The heap of one runtime: small objects in runs of one size class, large
// ones in their own spans (pages.h), and the page map that takes any address
// back to its run or span.  Thread caches (tcache.h) sit in front of the
// per-class central lists here; this file owns what is shared between
// threads.
//
// Invariants:
//   - a run's allocated bitmap (in the file) has a bit set for every slot
//     that is live or held in some thread cache; cached slots are the only
//     ones that leak if the process dies;
//   - a run's RAM descriptor counts `used` = set bits, under its class lock;
//   - the page map holds a Run* for every page of a run, and (span | 1) for
//     the data page of every large allocation; nothing else is non-zero.
#ifndef FMRT_HEAP_H
#define FMRT_HEAP_H

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "format.h"
#include "pages.h"
#include "region.h"

namespace fmrt {

class ThreadCache;

// The class lock: critical sections are short (bitmap words prefetched
// before it is taken), so waiters spin briefly, then yield, rather than
// sleep in the kernel.
class SpinLock {
public:
    void lock() {
        for (int spins = 0; flag_.exchange(true, std::memory_order_acquire); ++spins) {
            while (flag_.load(std::memory_order_relaxed)) {
                if (spins++ < 256) __builtin_ia32_pause();
                else std::this_thread::yield();
            }
        }
    }
    void unlock() { flag_.store(false, std::memory_order_release); }

private:
    std::atomic<bool> flag_{false};
};

// RAM descriptor of one run.  Descriptors are recycled, never freed while
// the heap lives, so a stale page-map read stays memory-safe.
struct Run {
    uint64_t off = 0;        // span offset in the file
    uint64_t data_off = 0;   // offset of slot 0
    RunHeader *hdr = nullptr;
    uint32_t cls = 0;
    uint32_t slot_size = 0;
    uint32_t slots = 0;
    uint32_t used = 0;       // slots live or cached
    uint32_t scan = 0;       // first bitmap word that may have a clear bit
    uint64_t div_magic = 0;
    Run *prev = nullptr;     // in the class's list of runs with free slots
    Run *next = nullptr;
    bool listed = false;
    bool active = false;     // describes a run now (false: in the spare pool)
    // Transient bits set in this run (under the class lock; read without it
    // by the free path, which checks the bitmap only when this is non-zero).
    std::atomic<uint32_t> transient{0};
    // One past the highest slot ever handed out (raised under the class
    // lock, read without it by the free path).
    std::atomic<uint32_t> high_water{0};
};

// Class state shared by threads; padded so classes do not share lines.
struct alignas(64) ClassState {
    SpinLock mu;
    Run *partial = nullptr;   // runs with at least one free slot
    uint32_t empty_runs = 0;  // listed runs with used == 0
    uint64_t runs = 0;
    uint64_t used = 0;        // sum of run used counts
};

// Every small slot that was handed out once and is not allocated now carries
// the heap's freed key in its second word (every slot is at least 16 bytes):
// written when a cache takes or gets back a slot, cleared on every path that
// hands a slot out (as glibc's tcache does).  Slots never handed out lie at
// or above their run's high-water mark (a run hands out slots in increasing
// order until it first fills).  Together they refuse a double or wild free
// without reading the run's bitmap.  The key derives from the file's UUID,
// so it holds across processes.
inline void mark_freed(void *p, uint64_t key) { static_cast<uint64_t *>(p)[1] = key; }
inline void mark_handed_out(void *p) { static_cast<uint64_t *>(p)[1] = 0; }
inline bool carries_key(const void *p, uint64_t key) { return static_cast<const uint64_t *>(p)[1] == key; }

constexpr uint32_t kMaxTake = 256;  // slots one take_slots call moves at most

constexpr int kNotOurs = -1;
constexpr int kLargeClass = 255;

struct HeapCounts {
    uint64_t live_small = 0, small_bytes = 0, small_free_bytes = 0, run_bytes = 0;
    uint64_t live_large = 0, large_bytes = 0, large_span_bytes = 0;
    uint64_t free_span_bytes = 0, largest_free = 0;
};

class Heap {
public:
    explicit Heap(Region &region);
    ~Heap();
    Heap(const Heap &) = delete;
    Heap &operator=(const Heap &) = delete;

    // Builds the RAM state from the file.  FMRT_EFORMAT on damage.  Writes
    // nothing; apply_load_fixes() writes what a read-write open repairs.
    int load();
    void apply_load_fixes();

    uint64_t id() const { return id_; }
    uint64_t freed_key() const { return freed_key_; }
    Region &region() { return region_; }

    // Takes up to `want` (at most kMaxTake) free slots of class `cls`:
    // appends their offsets to `stack` at index *count, raises *count, then
    // marks them allocated (that order: see take_slots).  Returns how many.
    // Each slot carries the freed key until handed out.  0 on failure, with
    // the error recorded.
    uint32_t take_slots(uint32_t cls, uint32_t want, uint64_t *stack, uint32_t *count);
    // Marks the `n` slots at `offs` free (a slot whose bit is already clear
    // is skipped, so a stray free cannot corrupt the counts), then lowers
    // *count by n (when count is given).
    void return_slots(uint32_t cls, const uint64_t *offs, uint32_t n, uint32_t *count);

    // Spans holding thread caches' stacks (kind kCache); 0 on failure.
    uint64_t alloc_cache_block(uint64_t pages, const std::function<void(uint8_t *)> &init);
    void free_cache_block(uint64_t off);

    void *alloc_large(size_t size, size_t align, bool zero, bool transient = false);
    void free_large(uint64_t span_off);
    // Resizes a large allocation in place; false when it must move.
    bool resize_large(uint64_t span_off, size_t size);
    size_t large_usable(uint64_t span_off) const;

    // What `p` is: a size class for the start of a small slot, kLargeClass
    // for the data start of a large allocation (span in *span_off), kNotOurs
    // otherwise.  `check_live` also requires the slot's allocated bit (a
    // cache miss on the run header, so the free path asks only when the
    // slot carries the freed-slot key).
    // `transient`, when given, receives the slot's or span's transient flag
    // (with check_live false, for a slot: whether its run has any transient
    // slot at all -- the free path then looks closer).
    // Inline (below): the free path's first step.
    int classify(const void *p, uint64_t *span_off, bool check_live = true, bool *transient = nullptr) const;
    // The size class when p is the start of a slot a run has handed out,
    // else -1 (ask classify).  *run_transient: whether the run has any
    // transient slot.  Reads no bitmap and not p itself.
    int small_slot_class(const void *p, bool *run_transient) const {
        const uint64_t off = reinterpret_cast<uintptr_t>(p) - base_addr_;
        if (__builtin_expect(off - kHeapStart >= span_bytes_, 0)) return -1;  // outside the reservation
        const uintptr_t e = __atomic_load_n(&map_[off >> kPageShift], __ATOMIC_ACQUIRE);
        if (__builtin_expect(e == 0 || (e & 1) != 0, 0)) return -1;
        const Run *r = reinterpret_cast<const Run *>(e);
        const uint64_t d = off - r->data_off;  // wraps (and fails below) for off < data_off
        const uint64_t idx = (d * r->div_magic) >> 40;
        if (off < r->data_off || idx * r->slot_size != d) return -1;
        if (idx >= r->high_water.load(std::memory_order_acquire)) return -1;  // never handed out
        *run_transient = r->transient.load(std::memory_order_relaxed) != 0;
        return static_cast<int>(r->cls);
    }

    // Sets or clears the transient flag of a live allocation (class of p as
    // classify() gave it).
    void set_transient(const void *p, int cls, uint64_t span_off, bool transient);
    // Frees every allocation still flagged transient (writable open, after
    // the catalog made what it names durable); returns how many.
    uint64_t reclaim_transients();
    uint64_t transient_count() const {
        return transient_small_.load(std::memory_order_relaxed) + transient_large_.load(std::memory_order_relaxed);
    }
    // Visits every live allocation: offset of its data, usable bytes,
    // transient flag (for verify's reachability count).
    void for_each_allocation(const std::function<void(uint64_t off, uint64_t usable, bool transient)> &fn);
    // Runs fn with every class lock and the page allocator's lock held, so
    // the file's structure cannot change (verify).  fn gets the free span
    // bytes and the sum of run used counts as RAM knows them.
    void with_all_locks(const std::function<void(uint64_t free_span_bytes, uint64_t small_used)> &fn);
    // Per-class live counts for statistics (caller holds every class lock,
    // i.e. runs inside counts()).
    uint64_t class_live_locked(uint32_t cls) const { return classes_[cls].used; }

    // A snapshot taken with every class lock held; `with_locks_held` runs
    // inside it (statistics read the thread caches there).
    HeapCounts counts(const std::function<void()> &with_locks_held = nullptr);

    // Thread caches attached to this heap (guarded by the global cache lock).
    std::vector<ThreadCache *> caches;

private:
    // classify() for what is not a slot of a run: a large allocation or not ours.
    int classify_other(const void *p, uint64_t off, uintptr_t e, uint64_t *span_off, bool *transient) const;
    uint32_t take_slots_locked(uint32_t cls, uint32_t want, uint64_t *stack, uint32_t *count);
    Run *new_run(uint32_t cls);
    // pages_.alloc, but before the file grows, every empty run is given
    // back to the page allocator (release_empty_runs) and the request retried.
    int alloc_pages(uint64_t pages, uint64_t align, uint64_t skew, SpanHeader h, const PageAllocator::InitFn &init,
                    uint64_t *out_off, bool *out_zeroed);
    // Returns how many runs it released.  Takes each class lock in turn.
    uint64_t release_empty_runs();
    // Releasing an empty run: unlist_run under the class lock, then
    // dispose_run (page allocator) without it.
    void unlist_run(ClassState &cs, Run *r);
    void dispose_run(Run *r);
    void list_push(ClassState &cs, Run *r);
    void list_remove(ClassState &cs, Run *r);
    Run *adopt_run(uint64_t off, uint32_t cls);
    void map_set(uint64_t off, uint64_t pages, uintptr_t v);

    Region &region_;
    // Copies of the region's mapping address and reservation (fixed once the
    // region is open), so the free path does not load them through region_.
    const uintptr_t base_addr_;
    const uint64_t span_bytes_;  // reserved bytes past kHeapStart
    PageAllocator pages_;
    uint64_t id_;
    uint64_t freed_key_;
    uintptr_t *map_ = nullptr;  // one entry per page of the reservation
    uint64_t map_bytes_ = 0;
    ClassState classes_[kNumClasses];
    std::mutex runs_mu_;        // guards the descriptor pool
    std::vector<Run *> all_runs_, spare_runs_;
    std::atomic<uint64_t> live_large_{0}, large_bytes_{0}, large_span_bytes_{0};
    std::atomic<uint64_t> transient_small_{0}, transient_large_{0};
    // Found by load() for reclaim_transients().
    std::vector<Run *> transient_runs_;
    std::vector<uint64_t> transient_spans_;
    // Found by load() for apply_load_fixes(): bits of slots the previous
    // process's caches held (allocated word, bit), and the cache blocks.
    std::unordered_map<uint64_t *, uint64_t> pending_clears_;
    std::vector<uint64_t> pending_block_frees_;
};

inline int Heap::classify(const void *p, uint64_t *span_off, bool check_live, bool *transient) const {
    // Outside the reservation the page index is out of range: read the map
    // only for pointers inside it (classify_other re-checks and says no).
    const uint64_t off = reinterpret_cast<uintptr_t>(p) - reinterpret_cast<uintptr_t>(region_.base());
    const uintptr_t e = region_.in_reservation(p) ? __atomic_load_n(&map_[off >> kPageShift], __ATOMIC_ACQUIRE) : 0;
    if (__builtin_expect(e == 0 || (e & 1) != 0, 0)) return classify_other(p, off, e, span_off, transient);
    const Run *r = reinterpret_cast<const Run *>(e);
    if (off < r->data_off) return kNotOurs;
    const uint64_t d = off - r->data_off;
    const uint64_t idx = (d * r->div_magic) >> 40;
    if (idx >= r->slots || idx * r->slot_size != d) return kNotOurs;
    if (idx >= r->high_water.load(std::memory_order_acquire)) return kNotOurs;  // never handed out
    if (check_live && !((__atomic_load_n(r->hdr->alloc_word(idx >> 6), __ATOMIC_RELAXED) >> (idx & 63)) & 1)) {
        return kNotOurs;
    }
    if (transient != nullptr) {
        *transient = check_live ? ((__atomic_load_n(r->hdr->transient_word(idx >> 6), __ATOMIC_RELAXED) >> (idx & 63)) & 1)
                                : r->transient.load(std::memory_order_relaxed) != 0;
    }
    return static_cast<int>(r->cls);
}

}  // namespace fmrt

#endif  // FMRT_HEAP_H
