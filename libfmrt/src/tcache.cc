// Thread caches (tcache.h).
#include "tcache.h"

#include <algorithm>
#include <mutex>
#include <vector>


namespace fmrt {


__thread uint64_t t_cache_heap_id __attribute__((tls_model("initial-exec"))) = 0;
__thread ThreadCache *t_cache __attribute__((tls_model("initial-exec"))) = nullptr;

namespace {

// Guards attach/detach of caches and their reference counts.  Never taken
// on the allocation paths, only when a thread first meets a heap, at thread
// exit, at runtime close and for statistics.
std::mutex g_cache_mu;

__thread bool t_exiting __attribute__((tls_model("initial-exec"))) = false;

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

// Slots a bin may hold: about 64 KiB of objects, between 2 and kMaxTake slots.
uint32_t bin_capacity(uint32_t cls) {
    uint32_t n = static_cast<uint32_t>((64 * 1024) / run_layout(cls).slot_size);
    return std::clamp<uint32_t>(n, 2, kMaxTake);
}

}  // namespace

ThreadCache::ThreadCache(Heap *h, uint8_t *base) : heap(h), heap_id(h->id()), base_(base), key_(h->freed_key()) {
    uint64_t stack_off = sizeof(CacheBlock);
    uint64_t caps[kNumClasses], offs[kNumClasses];
    for (uint32_t c = 0; c < kNumClasses; ++c) {
        caps[c] = bin_capacity(c);
        offs[c] = stack_off;
        stack_off += caps[c] * 8;
    }
    const uint64_t pages = (stack_off + kPageSize - 1) / kPageSize;
    block_off_ = heap->alloc_cache_block(pages, [&](uint8_t *block) {
        auto *cb = reinterpret_cast<CacheBlock *>(block);
        cb->magic = kCacheMagic;
        cb->nbins = kNumClasses;
        cb->reserved0 = 0;
        cb->reserved1 = 0;
        for (uint32_t c = 0; c < kNumClasses; ++c) {
            cb->bins[c].count = 0;
            cb->bins[c].cap = static_cast<uint32_t>(caps[c]);
            cb->bins[c].stack_off = offs[c];
        }
    });
    if (block_off_ == 0) return;
    auto *cb = reinterpret_cast<CacheBlock *>(base_ + block_off_);
    for (uint32_t c = 0; c < kNumClasses; ++c) {
        bins_[c].count = &cb->bins[c].count;
        bins_[c].stack = reinterpret_cast<uint64_t *>(base_ + block_off_ + offs[c]);
        bins_[c].cap = static_cast<uint32_t>(caps[c]);
    }
}

void *ThreadCache::refill(uint32_t cls) {
    Bin &b = bins_[cls];
    const uint32_t got = heap->take_slots(cls, std::max<uint32_t>(1, b.cap / 2), b.stack, b.count);
    b.n = __atomic_load_n(b.count, __ATOMIC_RELAXED);
    if (got == 0) return nullptr;
    return alloc(cls);
}

uint32_t ThreadCache::spill(uint32_t cls, uint32_t n) {
    Bin &b = bins_[cls];
    heap->return_slots(cls, b.stack + (b.n - n), n, b.count);
    b.n = __atomic_load_n(b.count, __ATOMIC_RELAXED);
    return b.n;
}

void ThreadCache::flush() {
    if (block_off_ == 0) return;
    for (uint32_t c = 0; c < kNumClasses; ++c) {
        Bin &b = bins_[c];
        const uint32_t n = __atomic_load_n(b.count, __ATOMIC_RELAXED);
        if (n != 0) heap->return_slots(c, b.stack, n, b.count);
        b.n = __atomic_load_n(b.count, __ATOMIC_RELAXED);
    }
    heap->free_cache_block(block_off_);
    block_off_ = 0;
}

void ThreadCache::cached(uint64_t *slots, uint64_t *bytes, uint64_t *by_class) const {
    if (block_off_ == 0) return;
    for (uint32_t c = 0; c < kNumClasses; ++c) {
        uint64_t n = __atomic_load_n(bins_[c].count, __ATOMIC_RELAXED);
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
    auto *c = new ThreadCache(&heap, static_cast<uint8_t *>(heap.region().ptr(0)));
    if (!c->valid()) {  // no room for a cache block: work uncached for now
        delete c;
        return nullptr;
    }
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
