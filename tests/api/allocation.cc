// The allocation functions: fmrt_malloc, fmrt_calloc, fmrt_realloc,
// fmrt_aligned_alloc, fmrt_free and fmrt_usable_size, on sizes from 0 bytes
// to tens of MiB, checked for alignment, usable size, independence of blocks
// (no overlap, no lost bytes) and the documented failure codes.
#include "test_util.h"

#include <algorithm>
#include <map>

using namespace fmrt_test;

namespace {

// Sizes around every interesting boundary: tiny, size-class edges, the 64
// KiB small/large limit, pages, MiB and tens of MiB.
const std::vector<size_t> kSizes = {
    0,      1,      2,      3,          7,           8,          15,       16,      17,     24,
    31,     32,     33,     48,         63,          64,         65,       96,      127,    128,
    129,    192,    255,    256,        257,         384,        500,      511,     512,    513,
    1000,   1024,   1025,   2047,       2048,        3000,       4095,     4096,    4097,   8191,
    8192,   10000,  16384,  32768,      40000,       65535,      65536,    65537,   100000, 131072,
    262144, 500000, MiB,    MiB + 1,    3 * MiB + 5, 16 * MiB,   40 * MiB,
};

// The alignment the header promises for a plain allocation of `size`.
size_t promised_alignment(size_t size) {
    if (size > 64 * KiB) return 4096;
    if (size >= 64 && size % 64 == 0) return 64;
    return 16;
}

class Allocation : public ::testing::Test {
protected:
    void SetUp() override {
        fmrt_options o = make_options();
        ASSERT_FMRT_OK(fmrt_runtime_open(&rt_, dir_.file("heap").c_str(), &o));
        ASSERT_NE(rt_, nullptr);
    }
    void TearDown() override {
        if (rt_ != nullptr) {
            EXPECT_FMRT_OK(fmrt_runtime_close(rt_));
        }
    }

    // Makes the thread's last status something other than what the next
    // check expects, so a stale status cannot pass it.
    void prime_status_einval() { EXPECT_EQ(fmrt_malloc(nullptr, 1), nullptr); }
    void prime_status_enomem() { EXPECT_EQ(fmrt_calloc(rt_, SIZE_MAX, 2), nullptr); }

    TempDir dir_;
    fmrt_runtime *rt_ = nullptr;
};

struct Block {
    void *p;
    size_t size;
    size_t usable;
    uint64_t seed;
};

// Fails when any two blocks' [p, p + usable) ranges intersect.
::testing::AssertionResult Disjoint(std::vector<Block> blocks) {
    std::sort(blocks.begin(), blocks.end(), [](const Block &a, const Block &b) { return a.p < b.p; });
    for (size_t i = 1; i < blocks.size(); ++i) {
        const auto *prev_end = static_cast<const char *>(blocks[i - 1].p) + std::max<size_t>(blocks[i - 1].usable, 1);
        if (prev_end > static_cast<const char *>(blocks[i].p))
            return ::testing::AssertionFailure()
                   << "block " << blocks[i - 1].p << " (usable " << blocks[i - 1].usable << ") overlaps block "
                   << blocks[i].p;
    }
    return ::testing::AssertionSuccess();
}

TEST_F(Allocation, MallocOfEverySizeReturnsAlignedDisjointMemoryThatKeepsItsBytes) {
    std::vector<Block> blocks;
    for (size_t i = 0; i < kSizes.size(); ++i) {
        size_t size = kSizes[i];
        void *p = fmrt_malloc(rt_, size);
        ASSERT_NE(p, nullptr) << "malloc(" << size << "): " << fmrt_error_message();
        EXPECT_TRUE(IsAligned(p, promised_alignment(size))) << "size " << size;
        size_t usable = fmrt_usable_size(rt_, p);
        EXPECT_GE(usable, size) << "size " << size;
        EXPECT_LE(usable, 2 * std::max<size_t>(size, 16) + 4096) << "size " << size;
        fill_pattern(p, size, 1000 + i);
        blocks.push_back({p, size, usable, 1000 + i});
    }
    // Checked only after every block exists: a block that overlaps a later
    // one has lost its bytes by now.
    EXPECT_TRUE(Disjoint(blocks));
    for (const Block &b : blocks) EXPECT_TRUE(HasPattern(b.p, b.size, b.seed)) << "size " << b.size;
    for (const Block &b : blocks) EXPECT_EQ(fmrt_free(rt_, b.p), 0) << "size " << b.size;
}

TEST_F(Allocation, WholeUsableSizeIsWritableWithoutTouchingNeighbours) {
    std::vector<Block> blocks;
    Rng rng(7);
    for (int i = 0; i < 3000; ++i) {
        size_t size = rng.chance(0.9) ? rng.between(1, 600) : rng.between(601, 70000);
        void *p = fmrt_malloc(rt_, size);
        ASSERT_NE(p, nullptr) << fmrt_error_message();
        size_t usable = fmrt_usable_size(rt_, p);
        ASSERT_GE(usable, size);
        fill_pattern(p, usable, 50000 + i);
        blocks.push_back({p, size, usable, 50000u + i});
    }
    EXPECT_TRUE(Disjoint(blocks));
    for (const Block &b : blocks) ASSERT_TRUE(HasPattern(b.p, b.usable, b.seed));
    for (const Block &b : blocks) ASSERT_EQ(fmrt_free(rt_, b.p), 0);
}

TEST_F(Allocation, MallocOfZeroBytesReturnsUniqueFreeablePointers) {
    fmrt_stats before = stats_of(rt_);
    std::vector<void *> ps;
    for (int i = 0; i < 200; ++i) {
        void *p = fmrt_malloc(rt_, 0);
        ASSERT_NE(p, nullptr) << fmrt_error_message();
        EXPECT_TRUE(IsAligned(p, 16));
        ps.push_back(p);
    }
    std::vector<void *> sorted = ps;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end()) << "malloc(0) returned a pointer twice";
    EXPECT_EQ(stats_of(rt_).live_allocations, before.live_allocations + 200);
    for (void *p : ps) EXPECT_EQ(fmrt_free(rt_, p), 0);
    EXPECT_EQ(stats_of(rt_).live_allocations, before.live_allocations);
}

TEST_F(Allocation, MallocOfAnImpossibleSizeFailsWithENOMEMAndTheHeapStillWorks) {
    for (size_t size : {SIZE_MAX, SIZE_MAX / 2, size_t(1) << 62, size_t(512) * GiB}) {
        prime_status_einval();
        EXPECT_EQ(fmrt_malloc(rt_, size), nullptr) << "malloc(" << size << ")";
        EXPECT_LAST_STATUS(FMRT_ENOMEM);
        EXPECT_STRNE(fmrt_error_message(), "");
    }
    // Sizes whose rounding up to pages or classes would overflow.
    for (size_t size : {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 4095, SIZE_MAX - 4096}) {
        prime_status_einval();
        EXPECT_EQ(fmrt_calloc(rt_, 1, size), nullptr) << "calloc(1, " << size << ")";
        EXPECT_LAST_STATUS(FMRT_ENOMEM);
        prime_status_einval();
        EXPECT_EQ(fmrt_aligned_alloc(rt_, 4096, size), nullptr) << "aligned_alloc(4096, " << size << ")";
        EXPECT_LAST_STATUS(FMRT_ENOMEM);
        prime_status_einval();
        EXPECT_EQ(fmrt_malloc(rt_, size), nullptr) << "malloc(" << size << ")";
        EXPECT_LAST_STATUS(FMRT_ENOMEM);
    }
    void *p = fmrt_malloc(rt_, 1000);
    ASSERT_NE(p, nullptr);
    fill_pattern(p, 1000, 3);
    for (size_t size : {SIZE_MAX, SIZE_MAX - 4095, SIZE_MAX / 2}) {
        prime_status_einval();
        EXPECT_EQ(fmrt_realloc(rt_, p, size), nullptr) << "realloc(p, " << size << ")";
        EXPECT_LAST_STATUS(FMRT_ENOMEM);
    }
    EXPECT_TRUE(HasPattern(p, 1000, 3));
    EXPECT_EQ(fmrt_free(rt_, p), 0);
    EXPECT_EQ(stats_of(rt_).live_allocations, 0u) << "a failed allocation left a live block";
}

TEST_F(Allocation, CallocReturnsZeroedMemoryEvenWhereDirtyBlocksWereFreed) {
    const size_t sizes[] = {1, 16, 100, 1000, 4096, 65536, 100000, MiB, 5 * MiB};
    for (size_t size : sizes) {
        // Dirty blocks of this size, freed, so calloc is likely to reuse them.
        std::vector<void *> dirty;
        for (int i = 0; i < 8; ++i) {
            void *p = fmrt_malloc(rt_, size);
            ASSERT_NE(p, nullptr);
            std::memset(p, 0xA5, fmrt_usable_size(rt_, p));
            dirty.push_back(p);
        }
        for (void *p : dirty) ASSERT_EQ(fmrt_free(rt_, p), 0);
        for (int i = 0; i < 8; ++i) {
            // n * size in several shapes.
            size_t n = (i % 3 == 0) ? 1 : (i % 3 == 1 ? size : (size % 4 == 0 ? 4 : 1));
            size_t each = size / n;
            void *p = fmrt_calloc(rt_, n, each);
            ASSERT_NE(p, nullptr) << "calloc(" << n << ", " << each << "): " << fmrt_error_message();
            EXPECT_GE(fmrt_usable_size(rt_, p), n * each);
            EXPECT_TRUE(IsZero(p, n * each)) << "calloc(" << n << ", " << each << ")";
            EXPECT_TRUE(IsAligned(p, 16));
            dirty[i] = p;
        }
        for (void *p : dirty) ASSERT_EQ(fmrt_free(rt_, p), 0);
    }
}

TEST_F(Allocation, CallocWhoseProductOverflowsFailsWithENOMEM) {
    const std::pair<size_t, size_t> cases[] = {
        {SIZE_MAX, 2},
        {2, SIZE_MAX},
        {SIZE_MAX / 2 + 1, 2},
        {size_t(1) << 32, size_t(1) << 32},
        {SIZE_MAX, SIZE_MAX},
        {3, SIZE_MAX / 3 + 1},
        {(size_t(1) << 33) + 1, (size_t(1) << 31)},
    };
    fmrt_stats before = stats_of(rt_);
    for (const auto &c : cases) {
        prime_status_einval();
        EXPECT_EQ(fmrt_calloc(rt_, c.first, c.second), nullptr) << "calloc(" << c.first << ", " << c.second << ")";
        EXPECT_LAST_STATUS(FMRT_ENOMEM);
    }
    EXPECT_EQ(stats_of(rt_).live_allocations, before.live_allocations);
}

TEST_F(Allocation, ReallocOfNullAllocatesLikeMalloc) {
    fmrt_stats before = stats_of(rt_);
    void *p = fmrt_realloc(rt_, nullptr, 300);
    ASSERT_NE(p, nullptr) << fmrt_error_message();
    EXPECT_GE(fmrt_usable_size(rt_, p), 300u);
    fill_pattern(p, 300, 9);
    EXPECT_EQ(stats_of(rt_).live_allocations, before.live_allocations + 1);
    void *q = fmrt_realloc(rt_, nullptr, 200 * KiB);
    ASSERT_NE(q, nullptr);
    EXPECT_TRUE(IsAligned(q, 4096));
    EXPECT_TRUE(HasPattern(p, 300, 9));
    EXPECT_EQ(fmrt_free(rt_, p), 0);
    EXPECT_EQ(fmrt_free(rt_, q), 0);
}

TEST_F(Allocation, ReallocToZeroFreesTheBlockAndReturnsNullWithStatusOk) {
    fmrt_stats before = stats_of(rt_);
    for (size_t size : {size_t(100), size_t(5000), size_t(MiB)}) {
        void *p = fmrt_malloc(rt_, size);
        ASSERT_NE(p, nullptr);
        EXPECT_EQ(stats_of(rt_).live_allocations, before.live_allocations + 1);
        prime_status_einval();
        EXPECT_EQ(fmrt_realloc(rt_, p, 0), nullptr);
        EXPECT_LAST_STATUS(FMRT_OK);
        EXPECT_EQ(stats_of(rt_).live_allocations, before.live_allocations) << "size " << size;
        // p is no longer a live allocation.
        EXPECT_EQ(fmrt_free(rt_, p), FMRT_EINVAL) << "size " << size;
    }
}

TEST_F(Allocation, ReallocPreservesContentsWhenShrinkingAndGrowing) {
    const size_t sizes[] = {1, 15, 16, 17, 64, 100, 1000, 4096, 65536, 65537, 300000, 2 * MiB, 9 * MiB};
    uint64_t seed = 1;
    for (size_t from : sizes) {
        for (size_t to : sizes) {
            if (from == to) continue;
            ++seed;
            void *p = fmrt_malloc(rt_, from);
            ASSERT_NE(p, nullptr);
            fill_pattern(p, from, seed);
            void *q = fmrt_realloc(rt_, p, to);
            ASSERT_NE(q, nullptr) << "realloc " << from << " -> " << to << ": " << fmrt_error_message();
            EXPECT_GE(fmrt_usable_size(rt_, q), to) << from << " -> " << to;
            EXPECT_TRUE(IsAligned(q, promised_alignment(to))) << from << " -> " << to;
            EXPECT_TRUE(HasPattern(q, std::min(from, to), seed)) << from << " -> " << to;
            fill_pattern(q, to, seed);
            EXPECT_TRUE(HasPattern(q, to, seed));
            ASSERT_EQ(fmrt_free(rt_, q), 0);
        }
    }
    EXPECT_EQ(stats_of(rt_).live_allocations, 0u);
}

TEST_F(Allocation, ReallocGrowingStepByStepKeepsEveryEarlierByte) {
    // Also grows the most recent large block, which a good allocator extends
    // in place; in place is not promised, so only contents are checked, and
    // how often it happened is reported.
    void *keep = fmrt_malloc(rt_, 777);  // a neighbour that must stay intact
    ASSERT_NE(keep, nullptr);
    fill_pattern(keep, 777, 77);
    size_t size = 1;
    void *p = fmrt_malloc(rt_, size);
    ASSERT_NE(p, nullptr);
    fill_pattern(p, size, 5);
    int in_place = 0, steps = 0;
    while (size < 12 * MiB) {
        size_t next = size + size / 2 + 1;
        void *q = fmrt_realloc(rt_, p, next);
        ASSERT_NE(q, nullptr) << size << " -> " << next << ": " << fmrt_error_message();
        ASSERT_TRUE(HasPattern(q, size, 5)) << size << " -> " << next;
        fill_pattern(q, next, 5);
        in_place += (q == p);
        ++steps;
        p = q;
        size = next;
    }
    RecordProperty("in_place_grows", in_place);
    RecordProperty("grows", steps);
    while (size > 1) {  // and back down
        size_t next = size / 3;
        void *q = fmrt_realloc(rt_, p, next);
        ASSERT_NE(q, nullptr) << size << " -> " << next;
        ASSERT_TRUE(HasPattern(q, next, 5)) << size << " -> " << next;
        p = q;
        size = next;
    }
    EXPECT_TRUE(HasPattern(keep, 777, 77));
    EXPECT_EQ(fmrt_free(rt_, p), 0);
    EXPECT_EQ(fmrt_free(rt_, keep), 0);
}

TEST_F(Allocation, FailedReallocLeavesTheBlockUntouchedAndValid) {
    for (size_t size : {size_t(1000), size_t(300 * KiB)}) {
        void *p = fmrt_malloc(rt_, size);
        ASSERT_NE(p, nullptr);
        fill_pattern(p, size, 11);
        size_t usable = fmrt_usable_size(rt_, p);
        prime_status_einval();
        EXPECT_EQ(fmrt_realloc(rt_, p, SIZE_MAX / 2), nullptr);
        EXPECT_LAST_STATUS(FMRT_ENOMEM);
        EXPECT_EQ(fmrt_usable_size(rt_, p), usable);
        EXPECT_TRUE(HasPattern(p, size, 11));
        void *q = fmrt_realloc(rt_, p, size * 2);  // still a live block
        ASSERT_NE(q, nullptr);
        EXPECT_TRUE(HasPattern(q, size, 11));
        EXPECT_EQ(fmrt_free(rt_, q), 0);
    }
}

TEST_F(Allocation, AlignedAllocHonoursEveryPowerOfTwoUpToTwoMiB) {
    std::vector<Block> blocks;
    uint64_t seed = 100;
    for (size_t alignment = 1; alignment <= 2 * MiB; alignment *= 2) {
        for (size_t size : {size_t(1), size_t(100), alignment, alignment + alignment / 2 + 1}) {
            void *p = fmrt_aligned_alloc(rt_, alignment, size);
            ASSERT_NE(p, nullptr) << "aligned_alloc(" << alignment << ", " << size << "): " << fmrt_error_message();
            EXPECT_TRUE(IsAligned(p, alignment)) << "size " << size;
            EXPECT_TRUE(IsAligned(p, 16)) << "every block is 16-byte aligned";
            size_t usable = fmrt_usable_size(rt_, p);
            EXPECT_GE(usable, size) << "aligned_alloc(" << alignment << ", " << size << ")";
            fill_pattern(p, size, ++seed);
            blocks.push_back({p, size, usable, seed});
        }
    }
    EXPECT_TRUE(Disjoint(blocks));
    for (const Block &b : blocks) EXPECT_TRUE(HasPattern(b.p, b.size, b.seed));
    for (const Block &b : blocks) EXPECT_EQ(fmrt_free(rt_, b.p), 0);
    EXPECT_EQ(stats_of(rt_).live_allocations, 0u);
}

TEST_F(Allocation, AlignedAllocRejectsAlignmentsThatAreNotPowersOfTwo) {
    const size_t bad[] = {0,    3,    5,       6,        7,       12,       24,      48,
                          100,  4095, 4097,    3 * MiB,  SIZE_MAX, SIZE_MAX / 2, size_t(2) * GiB, size_t(1) << 40};
    fmrt_stats before = stats_of(rt_);
    for (size_t alignment : bad) {
        prime_status_enomem();
        EXPECT_EQ(fmrt_aligned_alloc(rt_, alignment, 64), nullptr) << "alignment " << alignment;
        EXPECT_LAST_STATUS(FMRT_EINVAL) << " (alignment " << alignment << ")";
    }
    EXPECT_EQ(stats_of(rt_).live_allocations, before.live_allocations);
}

TEST_F(Allocation, AlignedAllocAboveTwoMiBIsAlignedWhenSupported) {
    for (size_t alignment : {4 * MiB, 16 * MiB, 64 * MiB}) {
        void *p = fmrt_aligned_alloc(rt_, alignment, 4096);
        if (p == nullptr) {
            int st = fmrt_last_status();
            EXPECT_TRUE(st == FMRT_EINVAL || st == FMRT_ENOMEM) << status_name(st);
            continue;
        }
        EXPECT_TRUE(IsAligned(p, alignment));
        EXPECT_GE(fmrt_usable_size(rt_, p), 4096u);
        fill_pattern(p, 4096, 1);
        EXPECT_EQ(fmrt_free(rt_, p), 0);
    }
}

TEST_F(Allocation, FreedSmallBlocksAreReusedWithoutGrowingTheFile) {
    std::vector<void *> ps;
    for (int i = 0; i < 2000; ++i) {
        ps.push_back(fmrt_malloc(rt_, 64 + (i % 7) * 16));
        ASSERT_NE(ps.back(), nullptr);
    }
    fmrt_stats full = stats_of(rt_);
    EXPECT_EQ(full.live_allocations, 2000u);
    for (void *p : ps) ASSERT_EQ(fmrt_free(rt_, p), 0);
    EXPECT_EQ(stats_of(rt_).live_allocations, 0u);
    for (int round = 0; round < 5; ++round) {
        for (int i = 0; i < 2000; ++i) {
            ps[i] = fmrt_malloc(rt_, 64 + (i % 7) * 16);
            ASSERT_NE(ps[i], nullptr);
        }
        for (void *p : ps) ASSERT_EQ(fmrt_free(rt_, p), 0);
    }
    EXPECT_EQ(stats_of(rt_).mapped_bytes, full.mapped_bytes) << "the file grew although freed blocks were available";
}

TEST_F(Allocation, FreedLargeBlocksAreReusedWithoutGrowingTheFile) {
    void *p = fmrt_malloc(rt_, 8 * MiB);
    ASSERT_NE(p, nullptr);
    std::memset(p, 1, 8 * MiB);
    ASSERT_EQ(fmrt_free(rt_, p), 0);
    uint64_t mapped = stats_of(rt_).mapped_bytes;
    for (int i = 0; i < 50; ++i) {
        p = fmrt_malloc(rt_, 8 * MiB - (i % 5) * 4096);
        ASSERT_NE(p, nullptr);
        static_cast<char *>(p)[0] = 1;
        ASSERT_EQ(fmrt_free(rt_, p), 0);
    }
    EXPECT_EQ(stats_of(rt_).mapped_bytes, mapped);
}

// "0 when p is ... not an allocation of this runtime": a freed block is not.
TEST_F(Allocation, UsableSizeOfAFreedBlockIsZero) {
    for (size_t size : {size_t(16), size_t(100), size_t(1000), size_t(60000), size_t(300 * KiB)}) {
        void *keep = fmrt_malloc(rt_, size);  // keeps the block's run or page range alive
        void *p = fmrt_malloc(rt_, size);
        ASSERT_NE(p, nullptr);
        ASSERT_EQ(fmrt_free(rt_, p), 0);
        EXPECT_EQ(fmrt_usable_size(rt_, p), 0u) << "after free, size " << size;

        p = fmrt_malloc(rt_, size);
        ASSERT_NE(p, nullptr);
        EXPECT_EQ(fmrt_realloc(rt_, p, 0), nullptr);
        EXPECT_EQ(fmrt_usable_size(rt_, p), 0u) << "after realloc(p, 0), size " << size;

        p = fmrt_malloc(rt_, size);
        ASSERT_NE(p, nullptr);
        void *q = fmrt_realloc(rt_, p, 4 * size + 100 * KiB);  // another class: moves
        ASSERT_NE(q, nullptr);
        if (q != p) {
            EXPECT_EQ(fmrt_usable_size(rt_, p), 0u) << "old block after a moving realloc, size " << size;
        }
        EXPECT_EQ(fmrt_free(rt_, q), 0);
        EXPECT_EQ(fmrt_free(rt_, keep), 0);
    }
}

TEST_F(Allocation, UsableSizeOfNullIsZero) { EXPECT_EQ(fmrt_usable_size(rt_, nullptr), 0u); }

TEST_F(Allocation, FreeOfNullReturnsZero) {
    fmrt_stats before = stats_of(rt_);
    EXPECT_EQ(fmrt_free(rt_, nullptr), 0);
    EXPECT_EQ(stats_of(rt_).live_allocations, before.live_allocations);
}

}  // namespace
