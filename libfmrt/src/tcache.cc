// Thread caches (tcache.h).
#include "tcache.h"

#include <algorithm>
#include <mutex>
#include <vector>


namespace fmrt {


thread_local uint64_t t_cache_heap_id __attribute__((tls_model("initial-exec"))) = 0;
thread_local ThreadCache *t_cache __attribute__((tls_model("initial-exec"))) = nullptr;

namespace {

// Guards attach/detach of caches and their reference counts.  Never taken
// on the allocation paths, only when a thread first meets a heap, at thread
// exit, at runtime close and for statistics.
std::mutex g_cache_mu;

thread_local bool t_exiting __attribute__((tls_model("initial-exec"))) = false;

void drop_ref(ThreadCache *c) {
    if (--c->refs == 0) delete c;
}

// Detaches `c` from its heap after flushing it (caller holds g_cache_mu).
void detach_locked(ThreadCache *c) {
    if (!c->attached.load()) return;
    c->flush();
    auto &v = c->heap->caches;
    v.erase(std::remove(v.begin(), v.end(), c), v.end());
    c->attached.store(false);
    drop_ref(c);
}

// The caches of one thread; flushed back into their heaps at thread exit.
struct ThreadCaches {
    std::vector<ThreadCache *> list;
    ~ThreadCaches() {
        t_exiting = true;
        t_cache_heap_id = 0;
        t_cache = nullptr;
        std::lock_guard<std::mutex> lock(g_cache_mu);
        for (ThreadCache *c : list) {
            detach_locked(c);
            drop_ref(c);
        }
        list.clear();
    }
};

thread_local ThreadCaches t_caches;

// Slots a bin may hold: about 64 KiB of objects, between 2 and 128 slots.
uint32_t bin_capacity(uint32_t cls) {
    uint32_t n = static_cast<uint32_t>((64 * 1024) / run_layout(cls).slot_size);
    return std::clamp<uint32_t>(n, 2, 128);
}

}  // namespace

ThreadCache::ThreadCache(Heap *h) : heap(h), heap_id(h->id()) {
    for (uint32_t c = 0; c < kNumClasses; ++c) bins_[c].cap = bin_capacity(c);
}

void *ThreadCache::refill(uint32_t cls) {
    Bin &b = bins_[cls];
    void *head = nullptr;
    uint32_t n = heap->take_slots(cls, std::max<uint32_t>(1, b.cap / 2), &head, &b.count);
    if (n == 0) return nullptr;
    b.head = *static_cast<void **>(head);
    b.count.store(b.count.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
    mark_handed_out(head);
    return head;
}

void ThreadCache::spill(uint32_t cls, uint32_t n) {
    Bin &b = bins_[cls];
    b.head = heap->return_slots(cls, b.head, n, &b.count);
}

void ThreadCache::flush() {
    for (uint32_t c = 0; c < kNumClasses; ++c) {
        Bin &b = bins_[c];
        uint32_t n = b.count.load(std::memory_order_relaxed);
        if (n != 0) heap->return_slots(c, b.head, n, &b.count);
        b.head = nullptr;
    }
}

void ThreadCache::cached(uint64_t *slots, uint64_t *bytes, uint64_t *by_class) const {
    for (uint32_t c = 0; c < kNumClasses; ++c) {
        uint64_t n = bins_[c].count.load(std::memory_order_relaxed);
        if (by_class != nullptr) by_class[c] += n;
        *slots += n;
        *bytes += n * run_layout(c).slot_size;
    }
}

ThreadCache *thread_cache_slow(Heap &heap) {
    if (t_exiting) return nullptr;
    ThreadCaches &mine = t_caches;
    for (ThreadCache *c : mine.list) {
        if (c->heap_id == heap.id() && c->attached.load()) {
            t_cache_heap_id = heap.id();
            t_cache = c;
            return c;
        }
    }
    std::lock_guard<std::mutex> lock(g_cache_mu);
    // Forget caches whose heaps were closed.
    auto dead = std::remove_if(mine.list.begin(), mine.list.end(), [](ThreadCache *c) {
        if (c->attached.load()) return false;
        drop_ref(c);
        return true;
    });
    mine.list.erase(dead, mine.list.end());
    auto *c = new ThreadCache(&heap);
    heap.caches.push_back(c);
    mine.list.push_back(c);
    t_cache_heap_id = heap.id();
    t_cache = c;
    return c;
}

void detach_thread_caches(Heap &heap) {
    std::lock_guard<std::mutex> lock(g_cache_mu);
    std::vector<ThreadCache *> v = heap.caches;
    for (ThreadCache *c : v) detach_locked(c);
    if (t_cache_heap_id == heap.id()) {
        t_cache_heap_id = 0;
        t_cache = nullptr;
    }
}

void thread_cached_totals(Heap &heap, uint64_t *slots, uint64_t *bytes, uint64_t *by_class) {
    for (const ThreadCache *c : heap.caches) c->cached(slots, bytes, by_class);
}

void with_cache_lock(const std::function<void()> &fn) {
    std::lock_guard<std::mutex> lock(g_cache_mu);
    fn();
}

}  // namespace fmrt
