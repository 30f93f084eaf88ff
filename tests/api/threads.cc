// Threads: four threads on one runtime allocate, reallocate and free at once
// (every block carries a pattern its owner checks), and hand blocks to each
// other so that blocks are freed by a thread other than the one that
// allocated them.  Afterwards the stats count exactly what remains, and
// the space freed across threads is reused.
#include "test_util.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

using namespace fmrt_test;

namespace {

constexpr int kThreads = 4;

struct Held {
    void *p;
    size_t size;
    uint64_t seed;
};

// Blocks in transit from one thread to another.
class Mailbox {
public:
    void put(const Held &h) {
        std::lock_guard<std::mutex> g(mu_);
        q_.push_back(h);
    }
    bool take(Held *out) {
        std::lock_guard<std::mutex> g(mu_);
        if (q_.empty()) return false;
        *out = q_.front();
        q_.pop_front();
        return true;
    }
    size_t size() {
        std::lock_guard<std::mutex> g(mu_);
        return q_.size();
    }
    std::deque<Held> drain() {
        std::lock_guard<std::mutex> g(mu_);
        return std::move(q_);
    }

private:
    std::mutex mu_;
    std::deque<Held> q_;
};

class Threads : public ::testing::Test {
protected:
    void SetUp() override {
        fmrt_options o = make_options();
        ASSERT_FMRT_OK(fmrt_runtime_open(&rt_, dir_.file("heap").c_str(), &o));
    }
    void TearDown() override {
        if (rt_ != nullptr) {
            EXPECT_FMRT_OK(fmrt_runtime_close(rt_));
        }
    }

    // One worker: `ops` random operations on its own blocks; with
    // `mailbox`, also sends blocks to other threads and frees theirs.
    // Returns the blocks it still holds.  Failures go to error_.
    std::vector<Held> work(int id, int ops, Mailbox *mailbox) {
        Rng rng(1000 + id);
        std::vector<Held> mine;
        auto fail = [&](const std::string &what) {
            std::lock_guard<std::mutex> g(error_mu_);
            if (error_.empty()) error_ = "thread " + std::to_string(id) + ": " + what;
        };
        for (int op = 0; op < ops && !failed(); ++op) {
            uint64_t r = rng.below(100);
            if (r < 40 || mine.empty()) {
                size_t size = rng.chance(0.97) ? rng.between(1, 512) : rng.between(513, 100 * KiB);
                uint64_t seed = rng.next();
                void *p = r % 5 == 0 ? fmrt_calloc(rt_, 1, size) : fmrt_malloc(rt_, size);
                if (p == nullptr) return fail(std::string("malloc: ") + fmrt_error_message()), mine;
                if (r % 5 == 0 && !IsZero(p, size)) return fail("calloc not zeroed"), mine;
                fill_pattern(p, size, seed);
                mine.push_back({p, size, seed});
            } else if (r < 60) {
                size_t i = rng.below(mine.size());
                Held &h = mine[i];
                if (!pattern_error(h.p, h.size, h.seed).empty()) return fail("block damaged before realloc"), mine;
                size_t size = rng.chance(0.5) ? h.size / 2 + 1 : h.size * 2 + 1;
                void *q = fmrt_realloc(rt_, h.p, size);
                if (q == nullptr) return fail(std::string("realloc: ") + fmrt_error_message()), mine;
                std::string e = pattern_error(q, std::min(size, h.size), h.seed);
                if (!e.empty()) return fail("realloc lost bytes: " + e), mine;
                fill_pattern(q, size, h.seed);
                h = {q, size, h.seed};
            } else if (r < 80 || mailbox == nullptr) {
                size_t i = rng.below(mine.size());
                Held h = mine[i];
                mine[i] = mine.back();
                mine.pop_back();
                std::string e = pattern_error(h.p, h.size, h.seed);
                if (!e.empty()) return fail("block damaged before free: " + e), mine;
                if (fmrt_free(rt_, h.p) != 0) return fail(std::string("free: ") + fmrt_error_message()), mine;
            } else if (r < 90) {  // send one of mine
                size_t i = rng.below(mine.size());
                mailbox->put(mine[i]);
                mine[i] = mine.back();
                mine.pop_back();
                sent_.fetch_add(1);
            } else {  // free one sent by someone (maybe another thread)
                Held h;
                if (!mailbox->take(&h)) continue;
                std::string e = pattern_error(h.p, h.size, h.seed);
                if (!e.empty()) return fail("received block damaged: " + e), mine;
                if (fmrt_free(rt_, h.p) != 0) return fail(std::string("cross-thread free: ") + fmrt_error_message()), mine;
                received_.fetch_add(1);
            }
        }
        return mine;
    }

    bool failed() {
        std::lock_guard<std::mutex> g(error_mu_);
        return !error_.empty();
    }

    // Runs kThreads workers; returns every block still held (theirs plus the
    // mailbox's).
    std::vector<Held> run_workers(int ops, bool with_mailbox) {
        Mailbox mailbox;
        std::vector<std::vector<Held>> left(kThreads);
        std::vector<std::thread> ts;
        for (int t = 0; t < kThreads; ++t)
            ts.emplace_back([&, t] { left[t] = work(t, ops, with_mailbox ? &mailbox : nullptr); });
        for (auto &t : ts) t.join();
        std::vector<Held> all;
        for (auto &v : left) all.insert(all.end(), v.begin(), v.end());
        for (const Held &h : mailbox.drain()) all.push_back(h);
        return all;
    }

    TempDir dir_;
    fmrt_runtime *rt_ = nullptr;
    std::mutex error_mu_;
    std::string error_;
    std::atomic<uint64_t> sent_{0}, received_{0};
};

TEST_F(Threads, FourThreadsAllocateReallocateAndFreeConcurrently) {
    std::vector<Held> left = run_workers(50000, false);
    ASSERT_EQ(error_, "");
    fmrt_stats s = stats_of(rt_);
    EXPECT_EQ(s.live_allocations, left.size());
    uint64_t usable = 0;
    for (const Held &h : left) {
        ASSERT_TRUE(HasPattern(h.p, h.size, h.seed));
        usable += fmrt_usable_size(rt_, h.p);
    }
    EXPECT_EQ(s.in_use_bytes, usable);
    for (const Held &h : left) ASSERT_EQ(fmrt_free(rt_, h.p), 0);
    EXPECT_EQ(stats_of(rt_).live_allocations, 0u);
}

TEST_F(Threads, BlocksFreedByAnotherThreadAreCountedAndSurviveReopen) {
    std::vector<Held> left = run_workers(50000, true);
    ASSERT_EQ(error_, "");
    EXPECT_GT(sent_.load(), 1000u);
    EXPECT_GT(received_.load(), 1000u);
    EXPECT_EQ(stats_of(rt_).live_allocations, left.size());
    // After close and reopen (thread caches flushed), the same blocks.
    std::vector<uint64_t> offs;
    for (const Held &h : left) offs.push_back(fmrt_ptr_to_offset(rt_, h.p));
    ASSERT_FMRT_OK(fmrt_runtime_close(rt_));
    rt_ = nullptr;
    fmrt_options o = make_options(0, 0, 0);
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt_, dir_.file("heap").c_str(), &o));
    EXPECT_EQ(stats_of(rt_).live_allocations, left.size());
    for (size_t i = 0; i < left.size(); ++i) {
        void *p = fmrt_offset_to_ptr(rt_, offs[i]);
        ASSERT_TRUE(HasPattern(p, left[i].size, left[i].seed));
        ASSERT_EQ(fmrt_free(rt_, p), 0);
    }
    EXPECT_EQ(stats_of(rt_).live_allocations, 0u);
}

TEST_F(Threads, SpaceFreedAcrossThreadsIsReused) {
    // Two pairs of threads: one allocates, the other frees everything it
    // gets.  At most kInFlight blocks wait in each mailbox, so the live set
    // stays small while many times more bytes are allocated over the rounds.
    constexpr size_t kInFlight = 1000, kPerRound = 20000, kMaxSize = 2048;
    uint64_t allocated_bytes = 0;
    auto round = [&] {
        Mailbox box[2];
        std::atomic<int> producers_done{0};
        std::atomic<uint64_t> freed{0}, bytes{0};
        std::vector<std::thread> ts;
        for (int pair = 0; pair < 2; ++pair) {
            ts.emplace_back([&, pair] {
                Rng rng(pair);
                for (size_t i = 0; i < kPerRound; ++i) {
                    while (box[pair].size() >= kInFlight) std::this_thread::yield();
                    size_t size = rng.between(16, kMaxSize);
                    void *p = fmrt_malloc(rt_, size);
                    if (p == nullptr) break;
                    std::memset(p, pair + 1, size);
                    bytes.fetch_add(size);
                    box[pair].put({p, size, 0});
                }
                producers_done.fetch_add(1);
            });
            ts.emplace_back([&, pair] {
                Held h;
                for (;;) {
                    if (box[pair].take(&h)) {
                        if (fmrt_free(rt_, h.p) == 0) freed.fetch_add(1);
                    } else if (producers_done.load() == 2) {
                        if (!box[pair].take(&h)) break;
                        if (fmrt_free(rt_, h.p) == 0) freed.fetch_add(1);
                    } else {
                        std::this_thread::yield();
                    }
                }
            });
        }
        for (auto &t : ts) t.join();
        allocated_bytes += bytes.load();
        return freed.load();
    };
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(round(), 2 * kPerRound) << "round " << i;
        EXPECT_EQ(stats_of(rt_).live_allocations, 0u) << "round " << i;
    }
    uint64_t mapped = stats_of(rt_).mapped_bytes;
    std::printf("%" PRIu64 " bytes allocated, file %" PRIu64 " bytes\n", allocated_bytes, mapped);
    // Live at once: at most 2 * kInFlight blocks (plus one per producer).
    EXPECT_LE(mapped, 8 * (2 * (kInFlight + 1) * kMaxSize) + 4 * MiB)
        << "blocks freed by other threads were not reused";
    EXPECT_GT(allocated_bytes, 5 * mapped);
}

TEST_F(Threads, StatsTakenDuringConcurrentWorkAreConsistentSnapshots) {
    // Three threads churn (at most 300 blocks each, so never more than 900
    // live); a fourth takes snapshots, each of which must be possible.
    std::atomic<bool> stop{false};
    std::vector<std::thread> ts;
    for (int t = 0; t < 3; ++t) {
        ts.emplace_back([&, t] {
            Rng rng(t);
            std::vector<void *> mine;
            while (!stop.load()) {
                if (mine.size() < 300 && (mine.empty() || rng.chance(0.5))) {
                    void *p = fmrt_malloc(rt_, rng.between(1, rng.chance(0.99) ? 1000 : 200000));
                    if (p != nullptr) mine.push_back(p);
                } else {
                    size_t i = rng.below(mine.size());
                    fmrt_free(rt_, mine[i]);
                    mine[i] = mine.back();
                    mine.pop_back();
                }
            }
            for (void *p : mine) fmrt_free(rt_, p);
        });
    }
    uint64_t bad = 0, snapshots = 0;
    std::string first_bad;
    auto start = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(700)) {
        fmrt_stats s = FMRT_STATS_INIT;
        if (fmrt_runtime_stats(&s, rt_) != FMRT_OK) {
            ++bad;
            continue;
        }
        ++snapshots;
        std::string why;
        if (s.live_allocations > 900) why = "live_allocations " + std::to_string(s.live_allocations);
        else if (s.in_use_bytes > s.mapped_bytes) why = "in_use_bytes above mapped_bytes";
        else if (s.free_bytes > s.mapped_bytes) why = "free_bytes above mapped_bytes";
        else if (s.largest_free_block > s.free_bytes) why = "largest_free_block above free_bytes";
        else if (s.reserved_bytes < s.mapped_bytes) why = "reserved_bytes below mapped_bytes";
        if (!why.empty()) {
            if (first_bad.empty()) first_bad = why;
            ++bad;
        }
    }
    stop.store(true);
    for (auto &t : ts) t.join();
    EXPECT_GT(snapshots, 100u);
    EXPECT_EQ(bad, 0u) << "of " << snapshots << " snapshots; first: " << first_bad;
    EXPECT_EQ(stats_of(rt_).live_allocations, 0u);
    EXPECT_EQ(stats_of(rt_).in_use_bytes, 0u);
}

TEST_F(Threads, ThreadThatOutlivesItsRuntimeExitsCleanly) {
    std::mutex mu;
    std::condition_variable cv;
    int stage = 0;
    void *p = nullptr;
    std::thread t([&] {
        p = fmrt_malloc(rt_, 100);  // gives this thread a cache for the runtime
        if (p != nullptr) fill_pattern(p, 100, 1);
        for (int i = 0; i < 100; ++i) fmrt_free(rt_, fmrt_malloc(rt_, 32));
        std::unique_lock<std::mutex> lk(mu);
        stage = 1;
        cv.notify_all();
        cv.wait(lk, [&] { return stage == 2; });
    });  // exits after the runtime closed: its cache must not touch it
    {
        std::unique_lock<std::mutex> lk(mu);
        cv.wait(lk, [&] { return stage == 1; });
    }
    ASSERT_NE(p, nullptr);
    uint64_t off = fmrt_ptr_to_offset(rt_, p);
    ASSERT_FMRT_OK(fmrt_runtime_close(rt_));
    rt_ = nullptr;
    {
        std::lock_guard<std::mutex> lk(mu);
        stage = 2;
        cv.notify_all();
    }
    t.join();
    fmrt_options o = make_options(0, 0, 0);
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt_, dir_.file("heap").c_str(), &o));
    EXPECT_EQ(stats_of(rt_).live_allocations, 1u);
    EXPECT_TRUE(HasPattern(fmrt_offset_to_ptr(rt_, off), 100, 1));
}

TEST_F(Threads, ThreadsRacingToOpenOneFileGetOneWriterAndEBUSYForTheRest) {
    ASSERT_FMRT_OK(fmrt_runtime_close(rt_));
    rt_ = nullptr;
    constexpr int kRacers = 8;
    for (int round = 0; round < 30; ++round) {
        std::atomic<int> waiting{kRacers}, ok{0}, busy{0}, other{0};
        std::vector<fmrt_runtime *> got(kRacers, nullptr);
        std::vector<std::thread> ts;
        for (int i = 0; i < kRacers; ++i) {
            ts.emplace_back([&, i] {
                waiting.fetch_sub(1);
                while (waiting.load() > 0) std::this_thread::yield();
                fmrt_options o = make_options(0, 0, 0);
                int rc = fmrt_runtime_open(&got[i], dir_.file("heap").c_str(), &o);
                (rc == FMRT_OK ? ok : rc == FMRT_EBUSY ? busy : other).fetch_add(1);
            });
        }
        for (auto &t : ts) t.join();
        EXPECT_EQ(ok.load(), 1) << "round " << round;
        EXPECT_EQ(busy.load(), kRacers - 1) << "round " << round;
        EXPECT_EQ(other.load(), 0) << "round " << round;
        for (fmrt_runtime *r : got) {
            if (r != nullptr) {
                EXPECT_FMRT_OK(fmrt_runtime_close(r));
            }
        }
    }
}

TEST_F(Threads, EachThreadOpensUsesAndClosesItsOwnRuntime) {
    std::atomic<int> failures{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t) {
        ts.emplace_back([&, t] {
            for (int round = 0; round < 10; ++round) {
                fmrt_runtime *rt = nullptr;
                fmrt_options o = make_options(0, GiB);
                std::string path = dir_.file("own" + std::to_string(t));
                if (fmrt_runtime_open(&rt, path.c_str(), &o) != FMRT_OK) {
                    failures.fetch_add(1);
                    return;
                }
                for (int i = 0; i < 500; ++i) {
                    void *p = fmrt_malloc(rt, 16 + i);
                    if (p == nullptr || fmrt_ptr_to_offset(rt, p) == 0) failures.fetch_add(1);
                    if (p != nullptr && i % 2 == 0) fmrt_free(rt, p);
                }
                fmrt_stats s = FMRT_STATS_INIT;
                if (fmrt_runtime_stats(&s, rt) != FMRT_OK || s.live_allocations != 250u * (round + 1))
                    failures.fetch_add(1);
                if (fmrt_runtime_close(rt) != FMRT_OK) failures.fetch_add(1);
            }
        });
    }
    for (auto &t : ts) t.join();
    EXPECT_EQ(failures.load(), 0);
}

}  // namespace
