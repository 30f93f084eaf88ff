// Statistics: fmrt_runtime_stats gives exact counts where they can be exact
// (live allocations, usable bytes in use, mapped bytes = file size) and
// consistent bounds elsewhere, for persistent, read-only and scratch
// runtimes.
#include "test_util.h"

using namespace fmrt_test;

namespace {

class Stats : public ::testing::Test {
protected:
    void SetUp() override {
        fmrt_options o = make_options(0, GiB);
        ASSERT_FMRT_OK(fmrt_runtime_open(&rt_, heap().c_str(), &o));
    }
    void TearDown() override {
        if (rt_ != nullptr) {
            EXPECT_FMRT_OK(fmrt_runtime_close(rt_));
        }
    }
    std::string heap() const { return dir_.file("heap"); }

    // Bounds that hold for every snapshot.
    void expect_consistent(const fmrt_stats &s) {
        EXPECT_EQ(s.version, unsigned(FMRT_STATS_VERSION));
        EXPECT_GE(s.reserved_bytes, s.mapped_bytes);
        EXPECT_LE(s.largest_free_block, s.free_bytes);
        EXPECT_LE(s.in_use_bytes + s.free_bytes + s.overhead_bytes, s.mapped_bytes)
            << "in use " << s.in_use_bytes << " + free " << s.free_bytes << " + overhead " << s.overhead_bytes;
    }

    TempDir dir_;
    fmrt_runtime *rt_ = nullptr;
};

TEST_F(Stats, FreshHeapIsEmptyAndItsMappedBytesAreTheFileSize) {
    fmrt_stats s = stats_of(rt_);
    expect_consistent(s);
    EXPECT_EQ(s.live_allocations, 0u);
    EXPECT_EQ(s.in_use_bytes, 0u);
    EXPECT_EQ(s.mapped_bytes, MiB);
    EXPECT_EQ(s.mapped_bytes, file_size_on_disk(heap()));
    EXPECT_EQ(s.reserved_bytes, GiB);
    EXPECT_GT(s.free_bytes, MiB / 2) << "most of a fresh 1 MiB heap is free";
    EXPECT_GT(s.largest_free_block, MiB / 2);
    EXPECT_EQ(s.persistent, 1);
    EXPECT_EQ(s.readonly, 0);
}

TEST_F(Stats, CountsAndUsableBytesAreExactThroughMallocAndFree) {
    Rng rng(1);
    std::vector<void *> ps;
    uint64_t requested = 0, usable = 0;
    for (int i = 0; i < 1000; ++i) {
        size_t size = rng.chance(0.95) ? rng.between(1, 1000) : rng.between(1001, 400 * KiB);
        void *p = fmrt_malloc(rt_, size);
        ASSERT_NE(p, nullptr);
        ps.push_back(p);
        requested += size;
        usable += fmrt_usable_size(rt_, p);
    }
    fmrt_stats s = stats_of(rt_);
    expect_consistent(s);
    EXPECT_EQ(s.live_allocations, 1000u);
    EXPECT_GE(s.in_use_bytes, requested);
    EXPECT_EQ(s.in_use_bytes, usable);
    EXPECT_EQ(s.mapped_bytes, file_size_on_disk(heap()));

    // Free half: counts drop by exactly what was freed.
    for (size_t i = 0; i < ps.size(); i += 2) {
        usable -= fmrt_usable_size(rt_, ps[i]);
        ASSERT_EQ(fmrt_free(rt_, ps[i]), 0);
    }
    s = stats_of(rt_);
    expect_consistent(s);
    EXPECT_EQ(s.live_allocations, 500u);
    EXPECT_EQ(s.in_use_bytes, usable);

    // The counts are stored: the same after reopen.
    ASSERT_FMRT_OK(fmrt_runtime_close(rt_));
    fmrt_options o = make_options(0, 0, 0);
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt_, heap().c_str(), &o));
    fmrt_stats r = stats_of(rt_);
    expect_consistent(r);
    EXPECT_EQ(r.live_allocations, 500u);
    EXPECT_EQ(r.in_use_bytes, usable);
    EXPECT_EQ(r.mapped_bytes, s.mapped_bytes);
    EXPECT_EQ(r.reserved_bytes, GiB);
}

TEST_F(Stats, CallocReallocAndAlignedAllocAreCounted) {
    void *a = fmrt_calloc(rt_, 10, 10);
    void *b = fmrt_aligned_alloc(rt_, 4096, 100);
    void *c = fmrt_realloc(rt_, nullptr, 50);
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(stats_of(rt_).live_allocations, 3u);
    c = fmrt_realloc(rt_, c, 100000);
    ASSERT_NE(c, nullptr);
    fmrt_stats s = stats_of(rt_);
    EXPECT_EQ(s.live_allocations, 3u) << "realloc does not change the count";
    EXPECT_EQ(s.in_use_bytes,
              fmrt_usable_size(rt_, a) + fmrt_usable_size(rt_, b) + fmrt_usable_size(rt_, c));
    EXPECT_EQ(fmrt_realloc(rt_, c, 0), nullptr);
    EXPECT_EQ(stats_of(rt_).live_allocations, 2u);
    EXPECT_EQ(fmrt_free(rt_, a), 0);
    EXPECT_EQ(fmrt_free(rt_, b), 0);
    s = stats_of(rt_);
    EXPECT_EQ(s.live_allocations, 0u);
    EXPECT_EQ(s.in_use_bytes, 0u);
}

TEST_F(Stats, GrowthShowsInMappedBytesAndTheFileSize) {
    uint64_t before = stats_of(rt_).mapped_bytes;
    void *p = fmrt_malloc(rt_, 10 * MiB);
    ASSERT_NE(p, nullptr);
    fmrt_stats s = stats_of(rt_);
    expect_consistent(s);
    EXPECT_GT(s.mapped_bytes, before);
    EXPECT_GE(s.mapped_bytes, 10 * MiB + 8192);
    EXPECT_EQ(s.mapped_bytes, file_size_on_disk(heap()));
    EXPECT_GE(s.in_use_bytes, 10 * MiB);
    EXPECT_EQ(fmrt_free(rt_, p), 0);
    s = stats_of(rt_);
    EXPECT_GE(s.largest_free_block, 10 * MiB) << "the freed 10 MiB block is free again";
    EXPECT_GE(s.free_bytes, 10 * MiB);
}

TEST_F(Stats, ReadOnlyAndScratchRuntimesSayWhatTheyAre) {
    ASSERT_FMRT_OK(fmrt_runtime_close(rt_));
    rt_ = nullptr;
    fmrt_options ro = readonly_options();
    fmrt_runtime *r = nullptr;
    ASSERT_FMRT_OK(fmrt_runtime_open(&r, heap().c_str(), &ro));
    fmrt_stats s = stats_of(r);
    EXPECT_EQ(s.readonly, 1);
    EXPECT_EQ(s.persistent, 1);
    EXPECT_EQ(s.mapped_bytes, file_size_on_disk(heap()));
    ASSERT_FMRT_OK(fmrt_runtime_close(r));

    fmrt_options sc = make_options(2 * MiB, kTestMaxSize, FMRT_OPEN_CREATE, FMRT_MODE_SCRATCH);
    ASSERT_FMRT_OK(fmrt_runtime_open(&r, dir_.path().c_str(), &sc));
    s = stats_of(r);
    expect_consistent(s);
    EXPECT_EQ(s.readonly, 0);
    EXPECT_EQ(s.persistent, 0);
    EXPECT_EQ(s.mapped_bytes, 2 * MiB);
    EXPECT_EQ(s.live_allocations, 0u);
    ASSERT_FMRT_OK(fmrt_runtime_close(r));
}

TEST_F(Stats, UnknownVersionOrNullIsEINVAL) {
    fmrt_stats s = FMRT_STATS_INIT;
    s.version = FMRT_STATS_VERSION + 1;
    EXPECT_STATUS(fmrt_runtime_stats(&s, rt_), FMRT_EINVAL);
    s.version = 0;
    EXPECT_STATUS(fmrt_runtime_stats(&s, rt_), FMRT_EINVAL);
    EXPECT_STATUS(fmrt_runtime_stats(nullptr, rt_), FMRT_EINVAL);
    fmrt_stats good = FMRT_STATS_INIT;
    EXPECT_STATUS(fmrt_runtime_stats(&good, nullptr), FMRT_EINVAL);
}

}  // namespace
