// Growth of the heap file: from a small initial size to hundreds of MiB
// without moving earlier blocks; the max_size limit (FMRT_ENOMEM, and the
// heap keeps working); and one 4 GiB allocation on a sparse file.
#include "test_util.h"

#include <sys/resource.h>

using namespace fmrt_test;

namespace {

struct Chunk {
    char *p;
    uint64_t off;
    size_t size;
    uint64_t seed;
};

class Growth : public ::testing::Test {
protected:
    std::string heap() const { return dir_.file("heap"); }
    TempDir dir_;
};

TEST_F(Growth, NewFileHasTheInitialSize) {
    for (uint64_t initial : {uint64_t(0), 2 * MiB, 3 * MiB}) {
        std::string path = dir_.file("heap" + std::to_string(initial));
        fmrt_runtime *rt = nullptr;
        fmrt_options o = make_options(initial);
        ASSERT_FMRT_OK(fmrt_runtime_open(&rt, path.c_str(), &o));
        uint64_t expected = initial == 0 ? MiB : initial;
        EXPECT_EQ(file_size_on_disk(path), expected);
        EXPECT_EQ(stats_of(rt).mapped_bytes, expected);
        EXPECT_EQ(stats_of(rt).reserved_bytes, kTestMaxSize);
        ASSERT_FMRT_OK(fmrt_runtime_close(rt));
        EXPECT_EQ(file_size_on_disk(path), expected) << "closing an untouched heap changed its size";
    }
}

TEST_F(Growth, MaxSizeZeroMeans256GiBForANewFileAndTheStoredValueLater) {
    if (on_valgrind()) GTEST_SKIP() << "valgrind cannot reserve 256 GiB of address space";
    fmrt_runtime *rt = nullptr;
    fmrt_options o = make_options(0, 0);
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt, heap().c_str(), &o));
    EXPECT_EQ(stats_of(rt).reserved_bytes, 256 * GiB);
    ASSERT_FMRT_OK(fmrt_runtime_close(rt));
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt, heap().c_str(), &o));
    EXPECT_EQ(stats_of(rt).reserved_bytes, 256 * GiB);
    ASSERT_FMRT_OK(fmrt_runtime_close(rt));
    // A file created with another max_size keeps it.
    std::string other = dir_.file("other");
    fmrt_options small = make_options(0, 2 * GiB);
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt, other.c_str(), &small));
    ASSERT_FMRT_OK(fmrt_runtime_close(rt));
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt, other.c_str(), &o));
    EXPECT_EQ(stats_of(rt).reserved_bytes, 2 * GiB);
    ASSERT_FMRT_OK(fmrt_runtime_close(rt));
}

// A process limited to 16 GiB of address space (ulimit -v) cannot reserve
// the default 256 GiB: the open reserves a power-of-two fraction instead,
// the heap works within it, and an unlimited process later gets the whole
// default back.  An explicit max_size the limit cannot hold is refused.
TEST_F(Growth, AnAddressSpaceLimitShrinksTheDefaultReservationButNotAnExplicitOne) {
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "AddressSanitizer needs more address space than the limit leaves";
#endif
    if (on_valgrind()) GTEST_SKIP() << "valgrind has its own address-space limits";
    const std::string path = heap(), other = dir_.file("explicit"), stored = dir_.file("stored");
    {
        fmrt_runtime *rt = nullptr;
        fmrt_options o = make_options(0, 24 * GiB);
        ASSERT_FMRT_OK(fmrt_runtime_open(&rt, stored.c_str(), &o));
        ASSERT_FMRT_OK(fmrt_runtime_close(rt));
    }
    ChildStatus st = run_in_child([&] {
        struct rlimit lim = {16 * GiB, 16 * GiB};
        if (setrlimit(RLIMIT_AS, &lim) != 0) return child_fail(20, "setrlimit");
        fmrt_runtime *rt = nullptr;
        fmrt_options o = make_options(0, 0);
        if (fmrt_runtime_open(&rt, path.c_str(), &o) != FMRT_OK) return child_fail(21, fmrt_error_message());
        const uint64_t reserved = stats_of(rt).reserved_bytes;
        if (reserved > 16 * GiB || reserved < GiB) return child_fail(22, "reserved " + std::to_string(reserved));
        // Growth up to the reduced reservation works...
        void *p = fmrt_malloc(rt, 64 * MiB);
        if (p == nullptr) return child_fail(23, fmrt_error_message());
        fill_pattern(p, 64 * MiB, 7);
        // ...and past it is FMRT_ENOMEM, not a crash.
        if (fmrt_malloc(rt, reserved) != nullptr || fmrt_last_status() != FMRT_ENOMEM) {
            return child_fail(24, "allocation past the reservation");
        }
        if (fmrt_catalog_put(rt, "block", p, 64 * MiB, 1, nullptr, 0, 0) != FMRT_OK) {
            return child_fail(25, fmrt_error_message());
        }
        if (fmrt_runtime_close(rt) != FMRT_OK) return child_fail(26, fmrt_error_message());
        // An explicit max_size is reserved as asked or refused.
        fmrt_options big = make_options(0, 64 * GiB);
        if (fmrt_runtime_open(&rt, other.c_str(), &big) != FMRT_ENOMEM) return child_fail(27, "explicit 64 GiB opened");
        // A file that stores 24 GiB: the open tries that, then half of it.
        if (fmrt_runtime_open(&rt, stored.c_str(), &o) != FMRT_OK) return child_fail(28, fmrt_error_message());
        if (stats_of(rt).reserved_bytes != 12 * GiB) {
            return child_fail(29, "reserved " + std::to_string(stats_of(rt).reserved_bytes) + " of a 24 GiB file");
        }
        if (fmrt_runtime_close(rt) != FMRT_OK) return child_fail(30, fmrt_error_message());
        return 0;
    });
    ASSERT_TRUE(ExitedWith(st, 0));
    EXPECT_FALSE(std::filesystem::exists(other)) << "the refused create left a file";

    // Unlimited: the stored default, and the block.
    fmrt_runtime *rt = nullptr;
    fmrt_options o = make_options(0, 0);
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt, path.c_str(), &o));
    EXPECT_EQ(stats_of(rt).reserved_bytes, 256 * GiB);
    fmrt_entry e = FMRT_ENTRY_INIT;
    ASSERT_FMRT_OK(fmrt_catalog_get(&e, rt, "block"));
    EXPECT_TRUE(HasPattern(fmrt_offset_to_ptr(rt, e.offset), 64 * MiB, 7));
    ASSERT_FMRT_OK(fmrt_runtime_close(rt));
}

TEST_F(Growth, SmallHeapGrowsToHundredsOfMiBWithoutMovingEarlierBlocks) {
    fmrt_runtime *rt = nullptr;
    fmrt_options o = make_options(MiB, GiB);
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt, heap().c_str(), &o));
    ASSERT_EQ(stats_of(rt).mapped_bytes, MiB);

    std::vector<Chunk> chunks;
    uint64_t total = 0, mapped = MiB;
    int growths = 0;
    Rng rng(256);
    while (total < 256 * MiB) {
        // Mostly 1 MiB chunks, with small and medium blocks between them.
        size_t size = rng.chance(0.5) ? MiB : (rng.chance(0.7) ? rng.between(1, 500) : rng.between(501, 60 * KiB));
        char *p = static_cast<char *>(fmrt_malloc(rt, size));
        ASSERT_NE(p, nullptr) << "after " << total << " bytes: " << fmrt_error_message();
        uint64_t seed = chunks.size() + 1;
        fill_pattern(p, size, seed);
        chunks.push_back({p, fmrt_ptr_to_offset(rt, p), size, seed});
        total += size;
        uint64_t now = stats_of(rt).mapped_bytes;
        if (now != mapped) {
            // The file grew: every earlier block is where it was.
            ++growths;
            mapped = now;
            for (const Chunk &c : chunks) {
                ASSERT_EQ(fmrt_offset_to_ptr(rt, c.off), c.p) << "a block moved when the file grew";
                ASSERT_TRUE(HasPattern(c.p, std::min<size_t>(c.size, 64), c.seed));
            }
        }
    }
    fmrt_stats s = stats_of(rt);
    EXPECT_GE(growths, 1);
    EXPECT_GE(s.mapped_bytes, 256 * MiB);
    EXPECT_LE(s.mapped_bytes, s.reserved_bytes);
    EXPECT_EQ(s.reserved_bytes, GiB);
    EXPECT_EQ(s.mapped_bytes, file_size_on_disk(heap()));
    EXPECT_EQ(s.live_allocations, chunks.size());
    for (const Chunk &c : chunks) ASSERT_TRUE(HasPattern(c.p, c.size, c.seed)) << "offset " << c.off;
    ASSERT_FMRT_OK(fmrt_runtime_close(rt));

    fmrt_options again = make_options(0, 0, 0);  // max_size from the file
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt, heap().c_str(), &again));
    EXPECT_EQ(stats_of(rt).reserved_bytes, GiB);
    EXPECT_EQ(stats_of(rt).live_allocations, chunks.size());
    for (const Chunk &c : chunks) {
        const void *p = fmrt_offset_to_ptr(rt, c.off);
        ASSERT_GE(fmrt_usable_size(rt, p), c.size);
        ASSERT_TRUE(HasPattern(p, c.size, c.seed)) << "offset " << c.off;
    }
    ASSERT_FMRT_OK(fmrt_runtime_close(rt));
}

TEST_F(Growth, ReachingMaxSizeFailsWithENOMEMAndTheHeapStillWorks) {
    constexpr uint64_t kMax = 16 * MiB;
    fmrt_runtime *rt = nullptr;
    fmrt_options o = make_options(MiB, kMax);
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt, heap().c_str(), &o));
    EXPECT_EQ(stats_of(rt).reserved_bytes, kMax);

    // Beyond max_size at once.
    EXPECT_EQ(fmrt_malloc(rt, kMax + 1), nullptr);
    EXPECT_LAST_STATUS(FMRT_ENOMEM);

    std::vector<Chunk> chunks;
    void *p = nullptr;
    for (int i = 0; i < 64; ++i) {
        p = fmrt_malloc(rt, MiB);
        if (p == nullptr) break;
        fill_pattern(p, MiB, i + 1);
        chunks.push_back({static_cast<char *>(p), fmrt_ptr_to_offset(rt, p), MiB, uint64_t(i + 1)});
    }
    ASSERT_EQ(p, nullptr) << "64 MiB allocated in a heap of at most 16 MiB";
    EXPECT_LAST_STATUS(FMRT_ENOMEM);
    EXPECT_STRNE(fmrt_error_message(), "");
    EXPECT_GE(chunks.size(), 8u) << "less than half of max_size was usable";
    EXPECT_LE(chunks.size(), 15u);
    fmrt_stats s = stats_of(rt);
    EXPECT_LE(s.mapped_bytes, kMax);
    EXPECT_LE(file_size_on_disk(heap()), kMax);
    EXPECT_EQ(s.live_allocations, chunks.size());
    for (const Chunk &c : chunks) ASSERT_TRUE(HasPattern(c.p, c.size, c.seed));

    // Freed space is usable again, by the same size and by small blocks.
    ASSERT_EQ(fmrt_free(rt, chunks.back().p), 0);
    chunks.pop_back();
    void *again = fmrt_malloc(rt, MiB);
    ASSERT_NE(again, nullptr) << "freed space not reusable after ENOMEM: " << fmrt_error_message();
    ASSERT_EQ(fmrt_free(rt, again), 0);
    std::vector<void *> small;
    for (int i = 0; i < 100; ++i) {
        small.push_back(fmrt_malloc(rt, 64));
        ASSERT_NE(small.back(), nullptr) << fmrt_error_message();
    }
    for (void *q : small) ASSERT_EQ(fmrt_free(rt, q), 0);
    ASSERT_FMRT_OK(fmrt_runtime_close(rt));

    // Reopen: the limit is the one stored in the file; data intact.
    fmrt_options reopen = make_options(0, 0, 0);
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt, heap().c_str(), &reopen));
    EXPECT_EQ(stats_of(rt).reserved_bytes, kMax);
    for (const Chunk &c : chunks) {
        const void *q = fmrt_offset_to_ptr(rt, c.off);
        ASSERT_TRUE(HasPattern(q, c.size, c.seed)) << "offset " << c.off;
    }
    EXPECT_EQ(fmrt_malloc(rt, 6 * MiB), nullptr) << "the stored max_size no longer applies";
    EXPECT_LAST_STATUS(FMRT_ENOMEM);
    void *q = fmrt_malloc(rt, 100);
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(fmrt_free(rt, q), 0);
    ASSERT_FMRT_OK(fmrt_runtime_close(rt));
}

TEST_F(Growth, LargerMaxSizeOnReopenAllowsFurtherGrowth) {
    fmrt_runtime *rt = nullptr;
    fmrt_options small = make_options(MiB, 8 * MiB);
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt, heap().c_str(), &small));
    std::vector<uint64_t> offs;
    while (void *p = fmrt_malloc(rt, MiB)) {
        fill_pattern(p, MiB, offs.size());
        offs.push_back(fmrt_ptr_to_offset(rt, p));
        ASSERT_LT(offs.size(), 9u);
    }
    ASSERT_FMRT_OK(fmrt_runtime_close(rt));

    fmrt_options large = make_options(0, 64 * MiB, 0);
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt, heap().c_str(), &large));
    EXPECT_EQ(stats_of(rt).reserved_bytes, 64 * MiB);
    for (int i = 0; i < 16; ++i) {
        void *p = fmrt_malloc(rt, MiB);
        ASSERT_NE(p, nullptr) << "chunk " << i << ": " << fmrt_error_message();
    }
    for (size_t i = 0; i < offs.size(); ++i) ASSERT_TRUE(HasPattern(fmrt_offset_to_ptr(rt, offs[i]), MiB, i));
    EXPECT_GT(file_size_on_disk(heap()), 16 * MiB);
    ASSERT_FMRT_OK(fmrt_runtime_close(rt));
}

TEST_F(Growth, MaxSizeBelowTheFileSizeStillOpensTheFile) {
    fmrt_runtime *rt = nullptr;
    fmrt_options o = make_options(MiB, 64 * MiB);
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt, heap().c_str(), &o));
    void *p = fmrt_malloc(rt, 20 * MiB);
    ASSERT_NE(p, nullptr);
    fill_pattern(p, 20 * MiB, 20);
    uint64_t off = fmrt_ptr_to_offset(rt, p);
    ASSERT_FMRT_OK(fmrt_runtime_close(rt));
    uint64_t size = file_size_on_disk(heap());
    ASSERT_GT(size, 20 * MiB);

    // max_size is "never less than the file's current size".
    fmrt_options smaller = make_options(0, 8 * MiB, 0);
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt, heap().c_str(), &smaller));
    fmrt_stats s = stats_of(rt);
    EXPECT_GE(s.reserved_bytes, size);
    EXPECT_EQ(s.mapped_bytes, size);
    EXPECT_TRUE(HasPattern(fmrt_offset_to_ptr(rt, off), 20 * MiB, 20));
    ASSERT_FMRT_OK(fmrt_runtime_close(rt));
    EXPECT_EQ(file_size_on_disk(heap()), size);
}

TEST_F(Growth, InitialSizeAboveMaxSizeIsRefusedWithENOMEMAndCreatesNothing) {
    fmrt_runtime *rt = reinterpret_cast<fmrt_runtime *>(&rt);  // must be reset to NULL
    fmrt_options o = make_options(8 * MiB, 4 * MiB);
    EXPECT_STATUS(fmrt_runtime_open(&rt, heap().c_str(), &o), FMRT_ENOMEM);
    EXPECT_EQ(rt, nullptr);
    EXPECT_FALSE(path_exists(heap()));
    EXPECT_TRUE(dir_.entries().empty()) << "a temporary file was left behind";
}

TEST_F(Growth, FourGiBAllocationOnASparseFileSurvivesReopen) {
    uint64_t avail = free_disk_bytes(dir_.path());
    if (avail < 6 * GiB)
        GTEST_SKIP() << "needs 6 GiB free in " << dir_.path() << ", have " << avail / MiB << " MiB";
    const size_t size = 4 * GiB + 1;
    fmrt_runtime *rt = nullptr;
    fmrt_options o = make_options(0, 8 * GiB);
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt, heap().c_str(), &o));
    unsigned char *p = static_cast<unsigned char *>(fmrt_malloc(rt, size));
    ASSERT_NE(p, nullptr) << fmrt_error_message();
    EXPECT_TRUE(IsAligned(p, 4096));
    EXPECT_GE(fmrt_usable_size(rt, p), size);
    const size_t probes[] = {0, 1, 4095, 4096, GiB - 1, GiB, 2 * GiB + 12345, 3 * GiB, 4 * GiB - 1, 4 * GiB};
    for (size_t i : probes) p[i] = static_cast<unsigned char>(0x40 + (i % 191));
    uint64_t off = fmrt_ptr_to_offset(rt, p);
    ASSERT_NE(off, 0u);
    EXPECT_EQ(fmrt_ptr_to_offset(rt, p + size - 1), off + size - 1);
    fmrt_stats s = stats_of(rt);
    EXPECT_GE(s.mapped_bytes, off + size);
    EXPECT_EQ(s.live_allocations, 1u);
    ASSERT_FMRT_OK(fmrt_runtime_close(rt));

    struct stat st;
    ASSERT_EQ(stat(heap().c_str(), &st), 0);
    EXPECT_GE(static_cast<uint64_t>(st.st_size), off + size);
    RecordProperty("disk_bytes", std::to_string(uint64_t(st.st_blocks) * 512));

    fmrt_options reopen = make_options(0, 0, 0);
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt, heap().c_str(), &reopen));
    p = static_cast<unsigned char *>(fmrt_offset_to_ptr(rt, off));
    ASSERT_NE(p, nullptr);
    EXPECT_GE(fmrt_usable_size(rt, p), size);
    for (size_t i : probes) EXPECT_EQ(p[i], static_cast<unsigned char>(0x40 + (i % 191))) << "byte " << i;
    EXPECT_EQ(fmrt_free(rt, p), 0);
    EXPECT_EQ(stats_of(rt).live_allocations, 0u);
    ASSERT_FMRT_OK(fmrt_runtime_close(rt));
}

}  // namespace
