// Per-thread caches of free small slots, one per (thread, heap) pair, so that
// the common malloc and free touch no lock and no shared line: a pop or push
// on a singly linked list threaded through the free slots themselves.
// Caches refill from and spill to the heap's central lists in batches.
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
    explicit ThreadCache(Heap *heap);

    void *alloc(uint32_t cls) {
        Bin &b = bins_[cls];
        void *p = b.head;
        if (__builtin_expect(p != nullptr, 1)) {
            b.head = *static_cast<void **>(p);
            mark_handed_out(p);
            b.count.store(b.count.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
            return p;
        }
        return refill(cls);
    }

    void free(uint32_t cls, void *p) {
        Bin &b = bins_[cls];
        mark_freed(p);
        *static_cast<void **>(p) = b.head;
        b.head = p;
        uint32_t n = b.count.load(std::memory_order_relaxed) + 1;
        b.count.store(n, std::memory_order_relaxed);
        if (__builtin_expect(n > b.cap, 0)) spill(cls, n / 2);
    }

    // Returns every cached slot to the heap.
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
        void *head = nullptr;
        std::atomic<uint32_t> count{0};
        uint32_t cap = 0;
    };
    void *refill(uint32_t cls);
    void spill(uint32_t cls, uint32_t n);

    Bin bins_[kNumClasses];
};

// The calling thread's cache for `heap`, created on first use; nullptr while
// the thread is exiting (callers then go to the heap directly).
ThreadCache *thread_cache_slow(Heap &heap);

extern thread_local uint64_t t_cache_heap_id __attribute__((tls_model("initial-exec")));
extern thread_local ThreadCache *t_cache __attribute__((tls_model("initial-exec")));

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
