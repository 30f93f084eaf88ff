// Offsets: fmrt_ptr_to_offset and fmrt_offset_to_ptr translate between
// addresses in this process and offsets in the file.  Offset 0 is NULL;
// anything outside the mapped file is 0 / NULL; offsets survive a reopen
// (which may map the file elsewhere) and growth.
#include "test_util.h"

#include <vector>

using namespace fmrt_test;

namespace {

class Offsets : public ::testing::Test {
protected:
    void open(uint64_t initial_size = 0, unsigned flags = FMRT_OPEN_CREATE) {
        fmrt_options o = make_options(initial_size, kTestMaxSize, flags);
        ASSERT_FMRT_OK(fmrt_runtime_open(&rt_, dir_.file("heap").c_str(), &o));
    }
    void close() {
        ASSERT_FMRT_OK(fmrt_runtime_close(rt_));
        rt_ = nullptr;
    }
    void TearDown() override {
        if (rt_ != nullptr) {
            EXPECT_FMRT_OK(fmrt_runtime_close(rt_));
        }
    }
    // The address of file offset 0, derived from an allocation.
    const char *base_of(const void *p) {
        return static_cast<const char *>(p) - fmrt_ptr_to_offset(rt_, p);
    }

    TempDir dir_;
    fmrt_runtime *rt_ = nullptr;
};

TEST_F(Offsets, EveryAllocationRoundTripsThroughItsOffset) {
    ASSERT_NO_FATAL_FAILURE(open());
    Rng rng(42);
    const char *base = nullptr;
    for (int i = 0; i < 600; ++i) {
        size_t size = rng.chance(0.95) ? rng.between(0, 2000) : rng.between(2001, 3 * MiB);
        char *p = static_cast<char *>(fmrt_malloc(rt_, size));
        ASSERT_NE(p, nullptr);
        uint64_t off = fmrt_ptr_to_offset(rt_, p);
        ASSERT_NE(off, 0u);
        EXPECT_LT(off, stats_of(rt_).mapped_bytes);
        EXPECT_GE(off, 8192u) << "an allocation inside the two superblock pages";
        EXPECT_EQ(fmrt_offset_to_ptr(rt_, off), p);
        // One mapping: every pointer is base + offset, and base is page aligned.
        if (base == nullptr) base = base_of(p);
        EXPECT_EQ(base_of(p), base);
        EXPECT_TRUE(IsAligned(base, 4096));
        EXPECT_EQ(off % 16, 0u);
        // Interior bytes translate too: offsets name bytes of the file.
        if (size > 1) {
            EXPECT_EQ(fmrt_ptr_to_offset(rt_, p + size - 1), off + size - 1);
            EXPECT_EQ(fmrt_offset_to_ptr(rt_, off + size - 1), p + size - 1);
        }
    }
}

TEST_F(Offsets, NullAndZeroTranslateToEachOther) {
    ASSERT_NO_FATAL_FAILURE(open());
    EXPECT_EQ(fmrt_ptr_to_offset(rt_, nullptr), 0u);
    EXPECT_EQ(fmrt_offset_to_ptr(rt_, 0), nullptr);
}

TEST_F(Offsets, PointersOutsideTheMappedFileTranslateToZero) {
    ASSERT_NO_FATAL_FAILURE(open());
    void *p = fmrt_malloc(rt_, 64);
    ASSERT_NE(p, nullptr);
    const char *base = base_of(p);
    uint64_t mapped = stats_of(rt_).mapped_bytes;
    ASSERT_EQ(mapped, file_size_on_disk(dir_.file("heap")));

    int on_stack = 0;
    static int in_data = 0;
    void *libc = std::malloc(64);
    EXPECT_EQ(fmrt_ptr_to_offset(rt_, &on_stack), 0u);
    EXPECT_EQ(fmrt_ptr_to_offset(rt_, &in_data), 0u);
    EXPECT_EQ(fmrt_ptr_to_offset(rt_, libc), 0u);
    std::free(libc);
    EXPECT_EQ(fmrt_ptr_to_offset(rt_, base - 1), 0u);
    EXPECT_EQ(fmrt_ptr_to_offset(rt_, base + mapped), 0u) << "one past the end of the file";
    EXPECT_EQ(fmrt_ptr_to_offset(rt_, base + mapped + 4096), 0u) << "reserved for growth, not mapped file";
    // The first and last bytes of the file are inside.
    EXPECT_EQ(fmrt_ptr_to_offset(rt_, base + 1), 1u);
    EXPECT_EQ(fmrt_ptr_to_offset(rt_, base + mapped - 1), mapped - 1);

    EXPECT_EQ(fmrt_offset_to_ptr(rt_, 1), base + 1);
    EXPECT_EQ(fmrt_offset_to_ptr(rt_, mapped - 1), base + mapped - 1);
    EXPECT_EQ(fmrt_offset_to_ptr(rt_, mapped), nullptr);
    EXPECT_EQ(fmrt_offset_to_ptr(rt_, mapped + 1), nullptr);
    EXPECT_EQ(fmrt_offset_to_ptr(rt_, UINT64_MAX), nullptr);
    EXPECT_EQ(fmrt_offset_to_ptr(rt_, uint64_t(1) << 63), nullptr);
    EXPECT_EQ(fmrt_free(rt_, p), 0);
}

TEST_F(Offsets, OffsetsFindTheSameBytesAfterReopen) {
    ASSERT_NO_FATAL_FAILURE(open());
    struct Saved {
        uint64_t off;
        size_t size;
    };
    std::vector<Saved> saved;
    Rng rng(3);
    for (int i = 0; i < 300; ++i) {
        size_t size = rng.chance(0.9) ? rng.between(1, 1000) : rng.between(1001, 500000);
        void *p = fmrt_malloc(rt_, size);
        ASSERT_NE(p, nullptr);
        fill_pattern(p, size, i);
        saved.push_back({fmrt_ptr_to_offset(rt_, p), size});
    }
    ASSERT_NO_FATAL_FAILURE(close());
    for (int pass = 0; pass < 2; ++pass) {  // read-write, then read-only
        ASSERT_NO_FATAL_FAILURE(open(0, pass == 0 ? FMRT_OPEN_CREATE : FMRT_OPEN_READONLY));
        for (size_t i = 0; i < saved.size(); ++i) {
            void *p = fmrt_offset_to_ptr(rt_, saved[i].off);
            ASSERT_NE(p, nullptr) << "offset " << saved[i].off;
            EXPECT_EQ(fmrt_ptr_to_offset(rt_, p), saved[i].off);
            EXPECT_GE(fmrt_usable_size(rt_, p), saved[i].size);
            ASSERT_TRUE(HasPattern(p, saved[i].size, i)) << "allocation " << i << " pass " << pass;
        }
        ASSERT_NO_FATAL_FAILURE(close());
    }
}

TEST_F(Offsets, OffsetsBeyondTheInitialSizeBecomeValidWhenTheFileGrows) {
    ASSERT_NO_FATAL_FAILURE(open(MiB));
    ASSERT_EQ(stats_of(rt_).mapped_bytes, MiB);
    EXPECT_EQ(fmrt_offset_to_ptr(rt_, 4 * MiB), nullptr);
    void *small = fmrt_malloc(rt_, 16);
    ASSERT_NE(small, nullptr);
    const char *base = base_of(small);
    void *big = fmrt_malloc(rt_, 8 * MiB);
    ASSERT_NE(big, nullptr);
    uint64_t mapped = stats_of(rt_).mapped_bytes;
    ASSERT_GT(mapped, 8 * MiB);
    EXPECT_EQ(fmrt_offset_to_ptr(rt_, 4 * MiB), base + 4 * MiB);
    EXPECT_EQ(fmrt_offset_to_ptr(rt_, mapped - 1), base + mapped - 1);
    EXPECT_EQ(fmrt_offset_to_ptr(rt_, mapped), nullptr);
    EXPECT_EQ(base_of(big), base) << "growth moved the mapping";
}

TEST_F(Offsets, AnotherRuntimesPointersAreOutsideThisOne) {
    ASSERT_NO_FATAL_FAILURE(open());
    fmrt_runtime *other = nullptr;
    fmrt_options o = make_options();
    ASSERT_FMRT_OK(fmrt_runtime_open(&other, dir_.file("other").c_str(), &o));
    void *mine = fmrt_malloc(rt_, 100);
    void *theirs = fmrt_malloc(other, 100);
    ASSERT_NE(mine, nullptr);
    ASSERT_NE(theirs, nullptr);
    EXPECT_EQ(fmrt_ptr_to_offset(rt_, theirs), 0u);
    EXPECT_EQ(fmrt_ptr_to_offset(other, mine), 0u);
    uint64_t off = fmrt_ptr_to_offset(other, theirs);
    ASSERT_NE(off, 0u);
    EXPECT_NE(fmrt_offset_to_ptr(rt_, off), theirs) << "an offset names a byte of its own runtime's file";
    EXPECT_FMRT_OK(fmrt_runtime_close(other));
}

}  // namespace
