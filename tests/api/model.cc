// Differential tests: random malloc/calloc/realloc/free/aligned_alloc and
// close+reopen, checked against a model (offset -> size, seed; bytes derived
// from the seed) after every step, and churn workloads that must reuse freed
// space instead of growing the file.
//
// The seed is printed; FMRT_TEST_SEED repeats a run, FMRT_TEST_OPS changes
// its length (the 'slow' suite runs it 20 times longer).
#include "test_util.h"

#include <map>
#include <unordered_map>

using namespace fmrt_test;

namespace {

struct Entry {
    size_t size;    // bytes asked for (all carry the pattern)
    size_t usable;  // fmrt_usable_size at allocation
    uint64_t seed;  // pattern seed
};

class ModelRun {
public:
    ModelRun(const std::string &path, uint64_t seed) : path_(path), rng_(seed) {}

    ~ModelRun() {
        if (rt_ != nullptr) fmrt_runtime_close(rt_);
    }

    void open() {
        fmrt_options o = make_options();
        ASSERT_FMRT_OK(fmrt_runtime_open(&rt_, path_.c_str(), &o));
    }

    void reopen() {
        ASSERT_FMRT_OK(fmrt_runtime_close(rt_));
        rt_ = nullptr;
        ASSERT_NO_FATAL_FAILURE(open());
        ++reopens_;
        ASSERT_NO_FATAL_FAILURE(verify_all());
    }

    // Every live block: still live, big enough, bytes intact; the counts in
    // the stats match the model exactly.
    void verify_all() {
        uint64_t usable_sum = 0;
        for (const auto &[off, e] : live_) {
            const void *p = fmrt_offset_to_ptr(rt_, off);
            ASSERT_NE(p, nullptr) << "offset " << off << " outside the file";
            size_t usable = fmrt_usable_size(rt_, p);
            ASSERT_GE(usable, e.size) << "offset " << off << " lost (usable " << usable << ")";
            ASSERT_EQ(usable, e.usable) << "offset " << off << ": usable size changed";
            ASSERT_TRUE(HasPattern(p, e.size, e.seed)) << "offset " << off << " size " << e.size;
            usable_sum += usable;
        }
        fmrt_stats s = stats_of(rt_);
        ASSERT_EQ(s.live_allocations, live_.size());
        ASSERT_EQ(s.in_use_bytes, usable_sum);
        ASSERT_EQ(s.mapped_bytes, file_size_on_disk(path_));
        ASSERT_GE(s.reserved_bytes, s.mapped_bytes);
        ASSERT_LE(s.largest_free_block, s.free_bytes);
    }

    void run(uint64_t ops) {
        ASSERT_NO_FATAL_FAILURE(open());
        uint64_t next_reopen = rng_.between(5000, 10000);
        for (op_ = 0; op_ < ops; ++op_) {
            if (op_ == next_reopen) {
                ASSERT_NO_FATAL_FAILURE(reopen());
                next_reopen += rng_.between(5000, 10000);
                continue;
            }
            // Keep the live set around 2000 blocks: free more when above.
            double free_p = live_.size() > 2500 ? 0.55 : (live_.size() < 1500 ? 0.15 : 0.30);
            double r = static_cast<double>(rng_.below(1000000)) / 1e6;
            if (live_.empty() || r >= free_p) {
                r = static_cast<double>(rng_.below(1000000)) / 1e6;
                if (r < 0.50) {
                    ASSERT_NO_FATAL_FAILURE(do_malloc());
                }
                else if (r < 0.65) ASSERT_NO_FATAL_FAILURE(do_calloc());
                else if (r < 0.93) ASSERT_NO_FATAL_FAILURE(live_.empty() ? do_malloc() : do_realloc());
                else ASSERT_NO_FATAL_FAILURE(do_aligned());
            } else {
                ASSERT_NO_FATAL_FAILURE(do_free());
            }
        }
        ASSERT_NO_FATAL_FAILURE(verify_all());
        ASSERT_NO_FATAL_FAILURE(reopen());
        // Free everything: the heap must end empty.
        while (!live_.empty()) ASSERT_NO_FATAL_FAILURE(do_free());
        fmrt_stats s = stats_of(rt_);
        EXPECT_EQ(s.live_allocations, 0u);
        EXPECT_EQ(s.in_use_bytes, 0u);
        ASSERT_FMRT_OK(fmrt_runtime_close(rt_));
        rt_ = nullptr;
    }

    uint64_t reopens() const { return reopens_; }
    // realloc(p, 0) calls whose status was not FMRT_OK afterwards.
    uint64_t stale_status_after_realloc0() const { return stale_status_after_realloc0_; }
    uint64_t max_live() const { return max_live_; }
    uint64_t bytes_written() const { return bytes_written_; }

private:
    size_t random_size() {
        uint64_t r = rng_.below(1000);
        if (r < 20) return rng_.between(0, 15);
        if (r < 940) return rng_.between(16, 512);
        if (r < 997) return rng_.between(513, 200 * KiB);
        return rng_.between(200 * KiB, 4 * MiB);
    }

    // Adds a new block to the model after checking it against every
    // neighbour: no overlap of [off, off + usable) ranges.
    void insert(void *p, size_t size, uint64_t seed) {
        uint64_t off = fmrt_ptr_to_offset(rt_, p);
        ASSERT_NE(off, 0u) << "op " << op_ << ": pointer outside the file";
        size_t usable = fmrt_usable_size(rt_, p);
        ASSERT_GE(usable, size) << "op " << op_;
        uint64_t end = off + std::max<size_t>(usable, 1);
        auto next = live_.lower_bound(off);
        if (next != live_.end()) {
            ASSERT_LE(end, next->first) << "op " << op_ << ": block at " << off << " (usable " << usable
                                        << ") overlaps live block at " << next->first;
        }
        if (next != live_.begin()) {
            auto prev = std::prev(next);
            ASSERT_LE(prev->first + std::max<size_t>(prev->second.usable, 1), off)
                << "op " << op_ << ": live block at " << prev->first << " (usable " << prev->second.usable
                << ") overlaps new block at " << off;
        }
        live_[off] = {size, usable, seed};
        bytes_written_ += size;
        max_live_ = std::max<uint64_t>(max_live_, live_.size());
    }

    std::map<uint64_t, Entry>::iterator pick() {
        // A random live block: the first at or after a random offset.
        uint64_t lo = live_.begin()->first, hi = live_.rbegin()->first;
        auto it = live_.lower_bound(lo + rng_.below(hi - lo + 1));
        return it == live_.end() ? live_.begin() : it;
    }

    void do_malloc() {
        size_t size = random_size();
        void *p = fmrt_malloc(rt_, size);
        ASSERT_NE(p, nullptr) << "op " << op_ << ": malloc(" << size << "): " << fmrt_error_message();
        ASSERT_TRUE(IsAligned(p, size > 64 * KiB ? 4096 : (size >= 64 && size % 64 == 0 ? 64 : 16)))
            << "op " << op_ << " size " << size;
        uint64_t seed = rng_.next();
        fill_pattern(p, size, seed);
        ASSERT_NO_FATAL_FAILURE(insert(p, size, seed));
    }

    void do_calloc() {
        size_t size = random_size();
        size_t n = 1, each = size;
        if (size % 8 == 0 && size > 0) {
            n = 8;
            each = size / 8;
        }
        void *p = fmrt_calloc(rt_, n, each);
        ASSERT_NE(p, nullptr) << "op " << op_ << ": calloc(" << n << ", " << each << "): " << fmrt_error_message();
        ASSERT_TRUE(IsZero(p, size)) << "op " << op_ << ": calloc(" << n << ", " << each << ")";
        uint64_t seed = rng_.next();
        fill_pattern(p, size, seed);
        ASSERT_NO_FATAL_FAILURE(insert(p, size, seed));
    }

    void do_realloc() {
        auto it = pick();
        uint64_t off = it->first;
        Entry e = it->second;
        void *p = fmrt_offset_to_ptr(rt_, off);
        if (rng_.chance(0.01)) {  // realloc to 0 frees
            ASSERT_TRUE(HasPattern(p, e.size, e.seed)) << "op " << op_;
            ASSERT_EQ(fmrt_realloc(rt_, p, 0), nullptr) << "op " << op_;
            // Checked at the end, so a stale status does not hide the rest.
            if (fmrt_last_status() != FMRT_OK) ++stale_status_after_realloc0_;
            live_.erase(it);
            return;
        }
        size_t size = rng_.chance(0.5) ? random_size() : e.size + rng_.between(0, e.size / 2 + 64);
        if (rng_.chance(0.2)) size = e.size > 1 ? rng_.between(1, e.size) : 1;  // shrink
        if (size == 0) size = 1;  // realloc to 0 frees: that case is above
        void *q = fmrt_realloc(rt_, p, size);
        ASSERT_NE(q, nullptr) << "op " << op_ << ": realloc(" << e.size << " -> " << size
                              << "): " << fmrt_error_message();
        ASSERT_TRUE(HasPattern(q, std::min(e.size, size), e.seed))
            << "op " << op_ << ": realloc " << e.size << " -> " << size << (q == p ? " in place" : " moved");
        live_.erase(it);
        fill_pattern(q, size, e.seed);  // prefix-stable: only the tail changes
        ASSERT_NO_FATAL_FAILURE(insert(q, size, e.seed));
    }

    void do_aligned() {
        size_t alignment = size_t(1) << (rng_.chance(0.98) ? rng_.between(0, 16) : rng_.between(17, 21));
        size_t size = random_size();
        void *p = fmrt_aligned_alloc(rt_, alignment, size);
        ASSERT_NE(p, nullptr) << "op " << op_ << ": aligned_alloc(" << alignment << ", " << size
                              << "): " << fmrt_error_message();
        ASSERT_TRUE(IsAligned(p, alignment)) << "op " << op_;
        uint64_t seed = rng_.next();
        fill_pattern(p, size, seed);
        ASSERT_NO_FATAL_FAILURE(insert(p, size, seed));
    }

    void do_free() {
        auto it = pick();
        void *p = fmrt_offset_to_ptr(rt_, it->first);
        ASSERT_TRUE(HasPattern(p, it->second.size, it->second.seed))
            << "op " << op_ << ": block at " << it->first << " size " << it->second.size;
        ASSERT_EQ(fmrt_free(rt_, p), 0) << "op " << op_ << ": " << fmrt_error_message();
        live_.erase(it);
    }

    std::string path_;
    Rng rng_;
    fmrt_runtime *rt_ = nullptr;
    std::map<uint64_t, Entry> live_;
    uint64_t op_ = 0;
    uint64_t reopens_ = 0;
    uint64_t max_live_ = 0;
    uint64_t stale_status_after_realloc0_ = 0;
    uint64_t bytes_written_ = 0;
};

uint64_t ops_from_env(uint64_t fallback) {
    const char *env = std::getenv("FMRT_TEST_OPS");
    return env != nullptr && *env != '\0' ? std::strtoull(env, nullptr, 10) : fallback;
}

TEST(Model, RandomOperationsMatchTheModelAcrossReopens) {
    uint64_t seed = test_seed(0x5EED0001);
    uint64_t ops = ops_from_env(100000);
    std::printf("seed %" PRIu64 " (set FMRT_TEST_SEED to repeat), %" PRIu64 " operations\n", seed, ops);
    RecordProperty("seed", std::to_string(seed));
    SCOPED_TRACE("seed " + std::to_string(seed));
    TempDir dir;
    ModelRun run(dir.file("heap"), seed);
    ASSERT_NO_FATAL_FAILURE(run.run(ops));
    std::printf("%" PRIu64 " reopens, at most %" PRIu64 " live blocks, %" PRIu64 " bytes written\n", run.reopens(),
                run.max_live(), run.bytes_written());
    EXPECT_EQ(run.stale_status_after_realloc0(), 0u) << "realloc(p, 0) must leave the status FMRT_OK";
    EXPECT_GE(run.reopens(), ops / 10000);
    EXPECT_GE(run.max_live(), 1000u);
}

// A bounded live set churned for a long time: the file must stop growing.
TEST(Model, SteadyChurnOfABoundedLiveSetReusesFreedSpace) {
    uint64_t seed = test_seed(0x5EED0002);
    std::printf("seed %" PRIu64 "\n", seed);
    SCOPED_TRACE("seed " + std::to_string(seed));
    Rng rng(seed);
    TempDir dir;
    fmrt_runtime *rt = nullptr;
    fmrt_options o = make_options();
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt, dir.file("heap").c_str(), &o));

    constexpr size_t kSlots = 512;
    std::vector<void *> slot(kSlots, nullptr);
    std::vector<size_t> slot_size(kSlots, 0);
    uint64_t live_bytes = 0, peak_live = 0, churned = 0, mapped_after_warmup = 0;
    const uint64_t kOps = 200000, kWarmup = 20000;
    for (uint64_t op = 0; op < kOps; ++op) {
        size_t i = rng.below(kSlots);
        if (slot[i] != nullptr) {
            ASSERT_EQ(static_cast<unsigned char *>(slot[i])[0], static_cast<unsigned char>(i));
            ASSERT_EQ(fmrt_free(rt, slot[i]), 0);
            live_bytes -= slot_size[i];
        }
        size_t size = rng.chance(0.95) ? rng.between(16, 4096) : rng.between(4097, 128 * KiB);
        slot[i] = fmrt_malloc(rt, size);
        ASSERT_NE(slot[i], nullptr) << fmrt_error_message();
        static_cast<unsigned char *>(slot[i])[0] = static_cast<unsigned char>(i);
        static_cast<unsigned char *>(slot[i])[size - 1] = 0xEE;
        slot_size[i] = size;
        live_bytes += size;
        churned += size;
        peak_live = std::max(peak_live, live_bytes);
        if (op == kWarmup) mapped_after_warmup = stats_of(rt).mapped_bytes;
    }
    fmrt_stats s = stats_of(rt);
    std::printf("peak live %" PRIu64 " B, churned %" PRIu64 " B, mapped %" PRIu64 " B after warm-up, %" PRIu64
                " B at the end\n",
                peak_live, churned, mapped_after_warmup, s.mapped_bytes);
    EXPECT_EQ(s.live_allocations, kSlots);
    EXPECT_GT(churned, 20 * s.mapped_bytes) << "the workload is too small to show reuse";
    EXPECT_LE(s.mapped_bytes, 4 * peak_live + 8 * MiB);
    EXPECT_LE(s.mapped_bytes, mapped_after_warmup + mapped_after_warmup / 2 + 4 * MiB)
        << "the file kept growing after the warm-up";
    for (void *p : slot) ASSERT_EQ(fmrt_free(rt, p), 0);
    EXPECT_EQ(stats_of(rt).live_allocations, 0u);
    ASSERT_FMRT_OK(fmrt_runtime_close(rt));
}

TEST(Model, LargeBlockChurnReusesFreedSpace) {
    Rng rng(test_seed(0x5EED0003));
    TempDir dir;
    fmrt_runtime *rt = nullptr;
    fmrt_options o = make_options();
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt, dir.file("heap").c_str(), &o));
    void *held[4] = {};
    uint64_t churned = 0;
    for (int op = 0; op < 2000; ++op) {
        int i = static_cast<int>(rng.below(4));
        if (held[i] != nullptr) {
            ASSERT_EQ(fmrt_free(rt, held[i]), 0);
        }
        size_t size = rng.between(65 * KiB, 8 * MiB);
        held[i] = fmrt_malloc(rt, size);
        ASSERT_NE(held[i], nullptr) << fmrt_error_message();
        static_cast<char *>(held[i])[0] = 1;
        static_cast<char *>(held[i])[size - 1] = 2;
        churned += size;
    }
    fmrt_stats s = stats_of(rt);
    // At most 4 * 8 MiB live at once; allow for fragmentation.
    EXPECT_LE(s.mapped_bytes, 80 * MiB) << "churned " << churned << " bytes";
    for (void *p : held) ASSERT_EQ(fmrt_free(rt, p), 0);
    ASSERT_FMRT_OK(fmrt_runtime_close(rt));
}

}  // namespace
