// Unit tests of tcache.{h,cc}: per-thread caches of free slots, flushed back
// into their heap at thread exit or at runtime close, whichever comes first;
// heap ids that are never reused, so a thread's remembered cache is never
// mistaken for one of a later heap.  Tested on a Heap directly and through
// runtimes (fmrt.h, which the internal library contains).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "fmrt.h"
#include "heap.h"
#include "region.h"
#include "tcache.h"
#include "unit_util.h"

namespace {

using fmrt::Heap;
using fmrt::kNotOurs;
using fmrt::Region;
using fmrt::ThreadCache;
using fmrt_unit::MiB;
using fmrt_unit::TempDir;

// A reusable barrier for a fixed number of threads.
class Barrier {
public:
    explicit Barrier(int n) : n_(n) {}
    void wait() {
        std::unique_lock<std::mutex> lock(mu_);
        const int gen = gen_;
        if (++count_ == n_) {
            count_ = 0;
            ++gen_;
            cv_.notify_all();
        } else {
            cv_.wait(lock, [&] { return gen_ != gen; });
        }
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    int n_, count_ = 0, gen_ = 0;
};

// ---- On a Heap -------------------------------------------------------------------

class TCache : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_STATUS(fmrt_unit::open_region(&region_, dir_.file("tc.heap"), 1 * MiB, 256 * MiB), FMRT_OK);
        heap_.reset(new Heap(*region_));
        ASSERT_STATUS(heap_->load(), FMRT_OK);
    }
    void TearDown() override {
        // As a runtime's final close does: no cache may outlive its heap.
        if (heap_) fmrt::detach_thread_caches(*heap_);
        heap_.reset();
        region_.reset();
    }
    uint64_t cached_slots() {
        uint64_t slots = 0, bytes = 0;
        fmrt::thread_cached_totals(*heap_, &slots, &bytes);
        return slots;
    }
    int classify(const void *p) {
        uint64_t span;
        return heap_->classify(p, &span);
    }

    TempDir dir_;
    std::unique_ptr<Region> region_;
    std::unique_ptr<Heap> heap_;
};

TEST_F(TCache, ThreadGetsOneCachePerHeapAndKeepsIt) {
    ThreadCache *a = fmrt::thread_cache(*heap_);
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(fmrt::thread_cache(*heap_), a);
    EXPECT_EQ(a->heap, heap_.get());
    EXPECT_EQ(a->heap_id, heap_->id());
    EXPECT_EQ(heap_->caches.size(), 1u);
    ThreadCache *other = nullptr;
    std::thread([&] { other = fmrt::thread_cache(*heap_); }).join();
    EXPECT_NE(other, a);
    EXPECT_EQ(heap_->caches.size(), 1u) << "the other thread's cache went at its exit";
}

TEST_F(TCache, AllocRefillsInBatchesAndFreeKeepsSlotsCached) {
    ThreadCache *tc = fmrt::thread_cache(*heap_);
    void *p = tc->alloc(4);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(classify(p), 4);
    fmrt::HeapCounts c = heap_->counts(nullptr);
    EXPECT_GT(c.live_small, 1u) << "a refill takes a batch";
    EXPECT_EQ(cached_slots(), c.live_small - 1);
    tc->free(4, p);
    EXPECT_EQ(cached_slots(), c.live_small) << "a freed slot stays in the cache";
    EXPECT_EQ(classify(p), 4) << "cached slots stay marked in the bitmap";
    EXPECT_EQ(tc->alloc(4), p) << "LIFO";
}

TEST_F(TCache, FreeingPastTheBinCapacitySpillsHalfToTheHeap) {
    ThreadCache *tc = fmrt::thread_cache(*heap_);
    std::vector<void *> v = fmrt_unit::take_n(*heap_, *region_, 0, 1000);
    ASSERT_EQ(v.size(), 1000u);
    for (void *p : v) tc->free(0, p);
    // Class 0 bins hold kMaxTake slots: every spill halves the bin.
    EXPECT_LE(cached_slots(), fmrt::kMaxTake);
    EXPECT_GE(cached_slots(), fmrt::kMaxTake / 2);
    EXPECT_EQ(heap_->counts(nullptr).live_small, cached_slots());
    tc->flush();
    EXPECT_EQ(cached_slots(), 0u);
    EXPECT_EQ(heap_->counts(nullptr).live_small, 0u);
    for (void *p : v) EXPECT_EQ(classify(p), kNotOurs);
}

TEST_F(TCache, ThreadExitFlushesItsCacheSoOnlyLiveSlotsRemainTaken) {
    constexpr int kThreads = 4, kPerThread = 3000;
    Barrier before_exit(kThreads + 1);
    std::vector<std::vector<std::pair<uint32_t, void *>>> live(kThreads), dead(kThreads);
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t) {
        ts.emplace_back([&, t] {
            std::mt19937 rng(t);
            ThreadCache *tc = fmrt::thread_cache(*heap_);
            std::vector<std::pair<uint32_t, void *>> mine;
            for (int i = 0; i < kPerThread; ++i) {
                uint32_t cls = rng() % 24;
                void *p = tc->alloc(cls);
                if (p == nullptr) std::abort();
                mine.push_back({cls, p});
            }
            std::shuffle(mine.begin(), mine.end(), rng);
            for (int i = 0; i < kPerThread / 2; ++i) {
                tc->free(mine.back().first, mine.back().second);
                dead[t].push_back(mine.back());
                mine.pop_back();
            }
            live[t] = mine;
            before_exit.wait();
            before_exit.wait();
        });
    }
    before_exit.wait();
    // All threads alive and holding caches: the counts include cached slots.
    EXPECT_EQ(heap_->caches.size(), static_cast<size_t>(kThreads));
    fmrt::HeapCounts c = heap_->counts(nullptr);
    EXPECT_EQ(c.live_small - cached_slots(), uint64_t{kThreads} * kPerThread / 2);
    before_exit.wait();
    for (auto &t : ts) t.join();

    EXPECT_TRUE(heap_->caches.empty());
    EXPECT_EQ(cached_slots(), 0u);
    EXPECT_EQ(heap_->counts(nullptr).live_small, uint64_t{kThreads} * kPerThread / 2);
    std::set<void *> live_set;
    for (auto &v : live) {
        for (auto &[cls, p] : v) {
            EXPECT_EQ(classify(p), static_cast<int>(cls));
            live_set.insert(p);
        }
    }
    EXPECT_EQ(live_set.size(), uint64_t{kThreads} * kPerThread / 2) << "no slot handed out twice";
    for (auto &v : dead) {
        for (auto &[cls, p] : v) {
            if (!live_set.count(p)) {
                EXPECT_EQ(classify(p), kNotOurs);
            }
        }
    }
}

TEST_F(TCache, DetachFlushesTheCachesOfLiveThreadsAndTheyMoveOn) {
    Barrier step(2);
    std::atomic<bool> ok_after{false};
    std::unique_ptr<Region> region2;
    std::unique_ptr<Heap> heap2;
    void *kept = nullptr;
    std::thread t([&] {
        ThreadCache *tc = fmrt::thread_cache(*heap_);
        kept = tc->alloc(3);
        void *p = tc->alloc(3);
        tc->free(3, p);
        step.wait();  // main detaches our cache
        step.wait();  // main opened heap2
        ThreadCache *tc2 = fmrt::thread_cache(*heap2);
        void *q = tc2 ? tc2->alloc(3) : nullptr;
        ok_after = tc2 != nullptr && tc2->heap == heap2.get() && tc2->heap_id == heap2->id() && q != nullptr;
        if (q) tc2->free(3, q);
    });
    step.wait();
    EXPECT_GT(cached_slots(), 0u);
    fmrt::detach_thread_caches(*heap_);
    EXPECT_TRUE(heap_->caches.empty());
    EXPECT_EQ(heap_->counts(nullptr).live_small, 1u) << "only the slot the thread kept";
    uint64_t span;
    EXPECT_EQ(heap_->classify(kept, &span), 3);
    // A new heap, likely at the address of a destroyed one: told apart by id.
    ASSERT_STATUS(fmrt_unit::open_region(&region2, dir_.file("tc2.heap")), FMRT_OK);
    heap2.reset(new Heap(*region2));
    ASSERT_STATUS(heap2->load(), FMRT_OK);
    EXPECT_NE(heap2->id(), heap_->id());
    step.wait();
    t.join();
    EXPECT_TRUE(ok_after);
    EXPECT_TRUE(heap2->caches.empty());
    EXPECT_EQ(heap2->counts(nullptr).live_small, 0u);
    fmrt::detach_thread_caches(*heap2);
}

// ---- Through runtimes ----------------------------------------------------------

fmrt_runtime *open_runtime(const std::string &path, uint64_t max_size = 64 * MiB) {
    fmrt_options o = FMRT_OPTIONS_INIT;
    o.max_size = max_size;
    fmrt_runtime *rt = nullptr;
    int rc = fmrt_runtime_open(&rt, path.c_str(), &o);
    EXPECT_STATUS(rc, FMRT_OK) << path;
    return rt;
}

fmrt_stats stats_of(fmrt_runtime *rt) {
    fmrt_stats s = FMRT_STATS_INIT;
    EXPECT_STATUS(fmrt_runtime_stats(&s, rt), FMRT_OK);
    return s;
}

TEST(TCacheRuntime, AfterThreadsExitTheLiveCountIsWhatTheyLeftLive) {
    TempDir dir(fmrt_unit::memory_dir());
    const std::string path = dir.file("rt.heap");
    fmrt_runtime *rt = open_runtime(path, 512 * MiB);
    ASSERT_NE(rt, nullptr);
    constexpr int kThreads = 4, kPer = 2000;
    Barrier mid(kThreads + 1);
    std::vector<std::vector<void *>> live(kThreads);
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t) {
        ts.emplace_back([&, t] {
            std::mt19937 rng(100 + t);
            std::vector<void *> mine;
            for (int i = 0; i < kPer; ++i) {
                size_t size = rng() % 10 == 0 ? 70000 + rng() % 50000 : 1 + rng() % 3000;
                void *p = fmrt_malloc(rt, size);
                if (p == nullptr) std::abort();
                mine.push_back(p);
            }
            std::shuffle(mine.begin(), mine.end(), rng);
            for (int i = 0; i < kPer / 2; ++i) {
                if (fmrt_free(rt, mine.back()) != FMRT_OK) std::abort();
                mine.pop_back();
            }
            live[t] = mine;
            mid.wait();
            mid.wait();
        });
    }
    mid.wait();
    fmrt_stats during = stats_of(rt);
    EXPECT_EQ(during.live_allocations, uint64_t{kThreads} * kPer / 2) << "cached slots are not live";
    mid.wait();
    for (auto &t : ts) t.join();

    fmrt_stats after = stats_of(rt);
    EXPECT_EQ(after.live_allocations, uint64_t{kThreads} * kPer / 2);
    uint64_t usable = 0;
    for (auto &v : live) {
        for (void *p : v) usable += fmrt_usable_size(rt, p);
    }
    EXPECT_EQ(after.in_use_bytes, usable);
    EXPECT_EQ(after.in_use_bytes, during.in_use_bytes);
    EXPECT_STATUS(fmrt_runtime_close(rt), FMRT_OK);

    // Reopened: the bitmaps hold the live slots and nothing the caches had.
    rt = open_runtime(path, 512 * MiB);
    ASSERT_NE(rt, nullptr);
    fmrt_stats again = stats_of(rt);
    EXPECT_EQ(again.live_allocations, after.live_allocations);
    EXPECT_EQ(again.in_use_bytes, after.in_use_bytes);
    EXPECT_STATUS(fmrt_runtime_close(rt), FMRT_OK);
}

TEST(TCacheRuntime, ClosingARuntimeUnderALiveThreadsCacheThenAllocatingFromANewOneWorks) {
    TempDir dir(fmrt_unit::memory_dir());
    fmrt_runtime *rt1 = open_runtime(dir.file("one.heap"));
    ASSERT_NE(rt1, nullptr);
    fmrt_runtime *rt2 = nullptr;
    Barrier step(2);
    std::atomic<int> failures{0};
    std::vector<void *> kept1, kept2;
    std::thread t([&] {
        for (int i = 0; i < 100; ++i) kept1.push_back(fmrt_malloc(rt1, 40));
        for (int i = 0; i < 60; ++i) fmrt_free(rt1, kept1[i]);  // cached now
        kept1.erase(kept1.begin(), kept1.begin() + 60);
        step.wait();  // main closes rt1 and opens rt2
        step.wait();
        for (int i = 0; i < 100; ++i) {
            void *p = fmrt_malloc(rt2, 40);
            if (p == nullptr || fmrt_ptr_to_offset(rt2, p) == 0 || fmrt_usable_size(rt2, p) != 48) ++failures;
            kept2.push_back(p);
        }
        for (int i = 0; i < 30; ++i) {
            if (fmrt_free(rt2, kept2[i]) != FMRT_OK) ++failures;
        }
        kept2.erase(kept2.begin(), kept2.begin() + 30);
    });
    step.wait();
    EXPECT_EQ(stats_of(rt1).live_allocations, 40u);
    EXPECT_STATUS(fmrt_runtime_close(rt1), FMRT_OK);
    rt2 = open_runtime(dir.file("two.heap"));
    ASSERT_NE(rt2, nullptr);
    step.wait();
    t.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(stats_of(rt2).live_allocations, 70u);
    for (void *p : kept2) EXPECT_EQ(fmrt_usable_size(rt2, p), 48u);
    EXPECT_STATUS(fmrt_runtime_close(rt2), FMRT_OK);

    // The close flushed the thread's cache: only its 40 kept slots remain.
    rt1 = open_runtime(dir.file("one.heap"));
    ASSERT_NE(rt1, nullptr);
    EXPECT_EQ(stats_of(rt1).live_allocations, 40u);
    EXPECT_STATUS(fmrt_runtime_close(rt1), FMRT_OK);
}

TEST(TCacheRuntime, MainThreadAllocatesFromANewRuntimeAfterClosingOneItCached) {
    TempDir dir(fmrt_unit::memory_dir());
    for (int round = 0; round < 20; ++round) {
        fmrt_runtime *rt = open_runtime(dir.file("r" + std::to_string(round % 2) + ".heap"));
        ASSERT_NE(rt, nullptr);
        void *p = fmrt_malloc(rt, 24);
        ASSERT_NE(p, nullptr);
        EXPECT_NE(fmrt_ptr_to_offset(rt, p), 0u);
        void *q = fmrt_malloc(rt, 24);
        EXPECT_STATUS(fmrt_free(rt, q), FMRT_OK);
        EXPECT_EQ(stats_of(rt).live_allocations, static_cast<uint64_t>(round / 2 + 1));
        EXPECT_STATUS(fmrt_runtime_close(rt), FMRT_OK);
    }
}

TEST(TCacheRuntime, SixtyFourRuntimesTimesTwoThreads) {
    TempDir dir(fmrt_unit::memory_dir());
    constexpr int kRuntimes = 64, kThreads = 2, kKeep = 30;
    std::vector<fmrt_runtime *> rts(kRuntimes + kRuntimes / 2, nullptr);
    for (int r = 0; r < kRuntimes; ++r) {
        rts[r] = open_runtime(dir.file("rt" + std::to_string(r) + ".heap"));
        ASSERT_NE(rts[r], nullptr);
    }
    Barrier step(kThreads + 1);
    std::atomic<int> failures{0};
    // mine[t][r]: pointers thread t keeps in runtime r.
    std::vector<std::vector<std::vector<void *>>> mine(kThreads, std::vector<std::vector<void *>>(rts.size()));
    auto fill = [&](int t, int r) {
        std::vector<void *> v;
        for (int i = 0; i < kKeep + 20; ++i) {
            void *p = fmrt_malloc(rts[r], static_cast<size_t>((r % 10 + 1) * 24 + t));
            if (p == nullptr) ++failures;
            v.push_back(p);
        }
        for (int i = 0; i < 20; ++i) {
            if (fmrt_free(rts[r], v.back()) != FMRT_OK) ++failures;
            v.pop_back();
        }
        mine[t][r] = v;
    };
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t) {
        ts.emplace_back([&, t] {
            for (int r = 0; r < kRuntimes; ++r) fill(t, r);
            step.wait();  // main checks, closes the first half, opens 32 more
            step.wait();
            for (int r = kRuntimes / 2; r < kRuntimes; ++r) {
                for (void *p : mine[t][r]) {
                    if (fmrt_free(rts[r], p) != FMRT_OK) ++failures;
                }
                mine[t][r].clear();
            }
            for (int r = kRuntimes; r < static_cast<int>(rts.size()); ++r) fill(t, r);
        });
    }
    step.wait();
    for (int r = 0; r < kRuntimes; ++r) {
        EXPECT_EQ(stats_of(rts[r]).live_allocations, uint64_t{kThreads} * kKeep) << "runtime " << r;
    }
    for (int r = 0; r < kRuntimes / 2; ++r) {
        EXPECT_STATUS(fmrt_runtime_close(rts[r]), FMRT_OK);
        rts[r] = nullptr;
    }
    for (int r = kRuntimes; r < static_cast<int>(rts.size()); ++r) {
        rts[r] = open_runtime(dir.file("rt" + std::to_string(r) + ".heap"));
        ASSERT_NE(rts[r], nullptr);
    }
    step.wait();
    for (auto &t : ts) t.join();
    EXPECT_EQ(failures.load(), 0);
    for (int r = kRuntimes / 2; r < kRuntimes; ++r) {
        EXPECT_EQ(stats_of(rts[r]).live_allocations, 0u) << "runtime " << r;
        EXPECT_EQ(stats_of(rts[r]).in_use_bytes, 0u) << "runtime " << r;
    }
    for (int r = kRuntimes; r < static_cast<int>(rts.size()); ++r) {
        EXPECT_EQ(stats_of(rts[r]).live_allocations, uint64_t{kThreads} * kKeep) << "runtime " << r;
    }
    for (fmrt_runtime *rt : rts) {
        if (rt) {
            EXPECT_STATUS(fmrt_runtime_close(rt), FMRT_OK);
        }
    }
    // A runtime closed under both threads' caches kept exactly their slots.
    fmrt_runtime *rt = open_runtime(dir.file("rt0.heap"));
    ASSERT_NE(rt, nullptr);
    EXPECT_EQ(stats_of(rt).live_allocations, uint64_t{kThreads} * kKeep);
    EXPECT_STATUS(fmrt_runtime_close(rt), FMRT_OK);
}

TEST(TCacheRuntime, ShortLivedThreadsChurningOneRuntimeLoseNoSlot) {
    TempDir dir(fmrt_unit::memory_dir());
    fmrt_runtime *rt = open_runtime(dir.file("churn.heap"));
    ASSERT_NE(rt, nullptr);
    std::mutex mu;
    std::vector<void *> shared;  // allocations passed between threads
    std::atomic<int> failures{0};
    auto worker = [&](int seed) {
        std::mt19937 rng(seed);
        for (int i = 0; i < 300; ++i) {
            void *p = fmrt_malloc(rt, 1 + rng() % 2000);
            if (p == nullptr) {
                ++failures;
                continue;
            }
            std::lock_guard<std::mutex> lock(mu);
            shared.push_back(p);
            if (shared.size() > 200) {
                // Free one another thread may have allocated.
                size_t k = rng() % shared.size();
                if (fmrt_free(rt, shared[k]) != FMRT_OK) ++failures;
                shared[k] = shared.back();
                shared.pop_back();
            }
        }
    };
    for (int round = 0; round < 25; ++round) {
        std::vector<std::thread> ts;
        for (int t = 0; t < 4; ++t) ts.emplace_back(worker, round * 4 + t);
        for (auto &t : ts) t.join();
    }
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(stats_of(rt).live_allocations, shared.size());
    for (void *p : shared) EXPECT_STATUS(fmrt_free(rt, p), FMRT_OK);
    EXPECT_EQ(stats_of(rt).live_allocations, 0u);
    EXPECT_STATUS(fmrt_runtime_close(rt), FMRT_OK);
}

}  // namespace
