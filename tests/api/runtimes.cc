// Many runtimes in one process: 64 heaps open at once with interleaved
// allocations, each verified after closing and reopening all of them; and
// runtimes share nothing (a pointer of one is foreign to every other).
#include "test_util.h"

#include <array>

using namespace fmrt_test;

namespace {

struct Alloc {
    size_t rt;      // index of the runtime
    uint64_t off;   // offset in that runtime's file
    size_t size;
    uint64_t seed;
    bool live;
};

TEST(Runtimes, SixtyFourOpenAtOnceKeepTheirAllocationsApartAcrossReopen) {
    constexpr size_t kRuntimes = 64;
    TempDir dir;
    std::array<fmrt_runtime *, kRuntimes> rts{};
    // A modest reservation each, so 64 of them stay cheap everywhere.
    fmrt_options o = make_options(0, 256 * MiB);
    auto path = [&](size_t i) { return dir.file("heap" + std::to_string(i)); };
    for (size_t i = 0; i < kRuntimes; ++i)
        ASSERT_FMRT_OK(fmrt_runtime_open(&rts[i], path(i).c_str(), &o)) << "runtime " << i;

    Rng rng(64);
    std::vector<Alloc> allocs;
    std::array<uint64_t, kRuntimes> live{};
    for (int k = 0; k < 8000; ++k) {
        size_t r = rng.below(kRuntimes);
        if (rng.chance(0.15) && !allocs.empty()) {  // free a random earlier block of any runtime
            Alloc &a = allocs[rng.below(allocs.size())];
            if (a.live) {
                void *p = fmrt_offset_to_ptr(rts[a.rt], a.off);
                ASSERT_TRUE(HasPattern(p, a.size, a.seed));
                ASSERT_EQ(fmrt_free(rts[a.rt], p), 0);
                a.live = false;
                live[a.rt]--;
            }
            continue;
        }
        size_t size = rng.chance(0.97) ? rng.between(1, 2000) : rng.between(2001, 150 * KiB);
        void *p = fmrt_malloc(rts[r], size);
        ASSERT_NE(p, nullptr) << "runtime " << r << ": " << fmrt_error_message();
        uint64_t seed = rng.next();
        fill_pattern(p, size, seed);
        allocs.push_back({r, fmrt_ptr_to_offset(rts[r], p), size, seed, true});
        live[r]++;
    }
    auto verify = [&](const char *when) {
        for (const Alloc &a : allocs) {
            if (!a.live) continue;
            void *p = fmrt_offset_to_ptr(rts[a.rt], a.off);
            ASSERT_GE(fmrt_usable_size(rts[a.rt], p), a.size) << when;
            ASSERT_TRUE(HasPattern(p, a.size, a.seed)) << when << ": runtime " << a.rt << " offset " << a.off;
        }
        for (size_t i = 0; i < kRuntimes; ++i) {
            fmrt_stats s = stats_of(rts[i]);
            ASSERT_EQ(s.live_allocations, live[i]) << when << ": runtime " << i;
            ASSERT_EQ(s.mapped_bytes, file_size_on_disk(path(i))) << when << ": runtime " << i;
        }
    };
    ASSERT_NO_FATAL_FAILURE(verify("while open"));
    for (size_t i = 0; i < kRuntimes; ++i) ASSERT_FMRT_OK(fmrt_runtime_close(rts[i])) << "runtime " << i;
    rts.fill(nullptr);
    fmrt_options reopen = make_options(0, 0, 0);
    for (size_t i = kRuntimes; i-- > 0;)  // another order, so addresses differ
        ASSERT_FMRT_OK(fmrt_runtime_open(&rts[i], path(i).c_str(), &reopen)) << "runtime " << i;
    ASSERT_NO_FATAL_FAILURE(verify("after reopen"));
    for (size_t i = 0; i < kRuntimes; ++i) {
        EXPECT_EQ(stats_of(rts[i]).reserved_bytes, 256 * MiB) << "max_size stored in the file";
        ASSERT_FMRT_OK(fmrt_runtime_close(rts[i]));
    }
}

// Blocks cached for a closed runtime must never come back from a later one
// (same file or not, possibly at the same handle address).
TEST(Runtimes, ReopeningNeverServesBlocksOfAClosedRuntime) {
    TempDir dir;
    Rng rng(9);
    for (int round = 0; round < 20; ++round) {
        std::string path = dir.file(round % 3 == 0 ? "other" : "heap");
        fmrt_runtime *rt = nullptr;
        fmrt_options o = make_options();
        ASSERT_FMRT_OK(fmrt_runtime_open(&rt, path.c_str(), &o));
        uint64_t live_before = stats_of(rt).live_allocations;
        std::vector<std::pair<void *, size_t>> mine;
        for (int i = 0; i < 300; ++i) {
            size_t size = rng.between(1, 4000);
            void *p = fmrt_malloc(rt, size);
            ASSERT_NE(p, nullptr) << "round " << round;
            ASSERT_NE(fmrt_ptr_to_offset(rt, p), 0u) << "round " << round << ": a block outside this runtime's file";
            ASSERT_GE(fmrt_usable_size(rt, p), size) << "round " << round;
            fill_pattern(p, size, round * 1000 + i);
            mine.push_back({p, size});
        }
        for (size_t i = 0; i < mine.size(); ++i)
            ASSERT_TRUE(HasPattern(mine[i].first, mine[i].second, round * 1000 + i)) << "round " << round;
        // Free most (they stay cached in this thread), keep a few.
        for (size_t i = 10; i < mine.size(); ++i) ASSERT_EQ(fmrt_free(rt, mine[i].first), 0);
        EXPECT_EQ(stats_of(rt).live_allocations, live_before + 10) << "round " << round;
        ASSERT_FMRT_OK(fmrt_runtime_close(rt));
    }
}

class TwoRuntimes : public ::testing::Test {
protected:
    void SetUp() override {
        fmrt_options o = make_options();
        ASSERT_FMRT_OK(fmrt_runtime_open(&a_, dir_.file("a").c_str(), &o));
        ASSERT_FMRT_OK(fmrt_runtime_open(&b_, dir_.file("b").c_str(), &o));
    }
    void TearDown() override {
        if (a_ != nullptr) {
            EXPECT_FMRT_OK(fmrt_runtime_close(a_));
        }
        if (b_ != nullptr) {
            EXPECT_FMRT_OK(fmrt_runtime_close(b_));
        }
    }
    TempDir dir_;
    fmrt_runtime *a_ = nullptr;
    fmrt_runtime *b_ = nullptr;
};

TEST_F(TwoRuntimes, FreeingAPointerThroughTheOtherRuntimeIsEINVALAndChangesNothing) {
    for (size_t size : {size_t(48), size_t(5000), size_t(2 * MiB)}) {
        void *pa = fmrt_malloc(a_, size);
        void *pb = fmrt_malloc(b_, size);
        ASSERT_NE(pa, nullptr);
        ASSERT_NE(pb, nullptr);
        fill_pattern(pa, size, 1);
        fill_pattern(pb, size, 2);
        fmrt_stats sa = stats_of(a_), sb = stats_of(b_);
        EXPECT_EQ(fmrt_free(b_, pa), FMRT_EINVAL) << "size " << size;
        EXPECT_EQ(fmrt_free(a_, pb), FMRT_EINVAL) << "size " << size;
        EXPECT_EQ(fmrt_usable_size(b_, pa), 0u);
        EXPECT_EQ(fmrt_usable_size(a_, pb), 0u);
        EXPECT_EQ(fmrt_realloc(b_, pa, size * 2), nullptr);
        EXPECT_LAST_STATUS(FMRT_EINVAL);
        EXPECT_EQ(stats_of(a_).live_allocations, sa.live_allocations);
        EXPECT_EQ(stats_of(b_).live_allocations, sb.live_allocations);
        EXPECT_TRUE(HasPattern(pa, size, 1));
        EXPECT_TRUE(HasPattern(pb, size, 2));
        EXPECT_EQ(fmrt_free(a_, pa), 0);
        EXPECT_EQ(fmrt_free(b_, pb), 0);
    }
}

TEST_F(TwoRuntimes, SameSequenceGivesSeparateMemory) {
    std::vector<void *> pa, pb;
    for (int i = 0; i < 200; ++i) {
        size_t size = 16 + (i % 50) * 8;
        pa.push_back(fmrt_malloc(a_, size));
        pb.push_back(fmrt_malloc(b_, size));
        ASSERT_NE(pa.back(), nullptr);
        ASSERT_NE(pb.back(), nullptr);
        ASSERT_NE(pa.back(), pb.back());
        fill_pattern(pa.back(), size, i);
        fill_pattern(pb.back(), size, 1000 + i);
    }
    for (int i = 0; i < 200; ++i) {
        size_t size = 16 + (i % 50) * 8;
        EXPECT_TRUE(HasPattern(pa[i], size, i));
        EXPECT_TRUE(HasPattern(pb[i], size, 1000 + i));
    }
    EXPECT_EQ(stats_of(a_).live_allocations, 200u);
    EXPECT_EQ(stats_of(b_).live_allocations, 200u);
}

TEST_F(TwoRuntimes, ClosingOneLeavesTheOtherWorking) {
    void *pb = fmrt_malloc(b_, 1000);
    ASSERT_NE(pb, nullptr);
    fill_pattern(pb, 1000, 8);
    ASSERT_FMRT_OK(fmrt_runtime_close(a_));
    a_ = nullptr;
    EXPECT_TRUE(HasPattern(pb, 1000, 8));
    void *q = fmrt_malloc(b_, 100 * KiB);
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(fmrt_free(b_, q), 0);
    EXPECT_EQ(fmrt_free(b_, pb), 0);
    EXPECT_EQ(stats_of(b_).live_allocations, 0u);
}

}  // namespace
