// Per-thread caches of free small slots, one per (thread, heap) pair, so that
// the common malloc and free touch no lock and no shared line: a pop or push
// on a stack of slot offsets.  The stacks live in the file, in a span of
// kind kCache (format.h), so that after a crash the next open gives back the
// slots the caches held instead of leaking them.  Caches refill from and
// spill to the heap's central lists in batches.
//
// Lifetime: a cache is referenced by its heap and by its thread, both under
// one global lock; whichever of thread exit and runtime close comes first
// flushes it back into the heap, the last reference deletes it.  Heaps are
// told apart by a never-reused id, so a thread's remembered cache can never
// be mistaken for one of a later heap at the same address.
#ifndef FMRT_TCACHE_H
#define FMRT_TCACHE_H

#include <atomic>
#include <cstdint>
#include <functional>

#include "format.h"
#include "heap.h"

namespace fmrt {


class ThreadCache {
public:
    // Takes a cache block from the heap; valid() is false when there was no
    // room (the thread then works uncached).
    explicit ThreadCache(Heap *heap, uint8_t *base);
    bool valid() const { return block_off_ != 0; }

    void *alloc(uint32_t cls) {
        Bin &b = bins_[cls];
        uint32_t n = b.n;
        if (__builtin_expect(n != 0, 1)) {
            --n;
            void *p = base_ + b.stack[n];
            b.n = n;
            __atomic_store_n(b.count, n, __ATOMIC_RELEASE);
            mark_handed_out(p);
            return p;
        }
        return refill(cls);
    }

    void free(uint32_t cls, void *p) {
        Bin &b = bins_[cls];
        uint32_t n = b.n;
        if (__builtin_expect(n >= b.cap, 0)) n = spill(cls, b.cap / 2);
        // The key, the entry, then the count: a kill before the count only
        // leaks p, and every slot the count covers carries the key (the
        // next open frees only listed slots that do).
        mark_freed(p, key_);
        b.stack[n] = static_cast<uint64_t>(static_cast<uint8_t *>(p) - base_);
        b.n = n + 1;
        __atomic_store_n(b.count, n + 1, __ATOMIC_RELEASE);
    }

    // Returns every cached slot to the heap and gives the block back.
    void flush();
    // Slots and bytes held (exact while the heap's class locks are held and
    // the owning thread is not inside malloc or free).
    void cached(uint64_t *slots, uint64_t *bytes, uint64_t *by_class = nullptr) const;

    Heap *const heap;
    const uint64_t heap_id;
    std::atomic<bool> attached{true};
    int refs = 2;  // the heap's and the thread's; under the global cache lock

private:
    struct Bin {
        uint64_t *stack = nullptr;  // in the file
        uint32_t *count = nullptr;  // in the file
        uint32_t n = 0;             // the owner's copy of *count (no load through the pointer)
        uint32_t cap = 0;
    };
    void *refill(uint32_t cls);
    // Gives n slots back to the heap; returns the new count.
    uint32_t spill(uint32_t cls, uint32_t n);

    uint8_t *const base_;
    const uint64_t key_;
    uint64_t block_off_ = 0;
    Bin bins_[kNumClasses];
};

// The calling thread's cache for `heap`, created on first use; nullptr while
// the thread is exiting (callers then go to the heap directly).
ThreadCache *thread_cache_slow(Heap &heap);

// Plain C TLS (__thread): constant-initialised PODs need none of C++
// thread_local's wrapper calls, and the fast path is one %fs-relative load.
extern __thread uint64_t t_cache_heap_id __attribute__((tls_model("initial-exec")));
extern __thread ThreadCache *t_cache __attribute__((tls_model("initial-exec")));

inline ThreadCache *thread_cache(Heap &heap) {
    if (__builtin_expect(t_cache_heap_id == heap.id(), 1)) return t_cache;
    return thread_cache_slow(heap);
}

// Flushes and detaches every cache of `heap` (final close of its runtime).
void detach_thread_caches(Heap &heap);
// Slots and bytes held in all caches of `heap`.
void thread_cached_totals(Heap &heap, uint64_t *slots, uint64_t *bytes, uint64_t *by_class = nullptr);
// Runs `fn` with the global cache lock held (caches cannot come or go).
void with_cache_lock(const std::function<void()> &fn);

}  // namespace fmrt

#endif  // FMRT_TCACHE_H
