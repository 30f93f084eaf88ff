// The fields of fmrt_stats that belong to the catalog work: catalog and
// transient counts, clean close, the file's identity and creation time,
// and the size-class histogram.
#include "catalog_util.h"

namespace fmrt_catalog_test {
namespace {

class CatalogStats : public HeapTest {};
class CatalogStatsAcrossProcesses : public HeapTest {};

TEST_F(CatalogStats, CatalogEntriesCountsNamedEntries) {
    EXPECT_EQ(stats().catalog_entries, 0u);
    for (int i = 0; i < 25; ++i) ASSERT_FMRT_OK(put("e" + std::to_string(i), nullptr, 0));
    EXPECT_EQ(stats().catalog_entries, 25u);
    ASSERT_FMRT_OK(fmrt_catalog_remove(rt_, "e0", 0));
    ASSERT_FMRT_OK(fmrt_catalog_rename(rt_, "e1", "e2", FMRT_PUT_REPLACE));
    EXPECT_EQ(stats().catalog_entries, 23u);
    reopen();
    EXPECT_EQ(stats().catalog_entries, 23u);
}

TEST_F(CatalogStats, TransientAllocationsCountsLiveTransients) {
    EXPECT_EQ(stats().transient_allocations, 0u);
    void *a = fmrt_alloc(rt_, 10, 0, FMRT_ALLOC_TRANSIENT);
    void *b = fmrt_alloc(rt_, 100 * KiB, 0, FMRT_ALLOC_TRANSIENT);
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    ASSERT_NE(fmrt_malloc(rt_, 10), nullptr);
    EXPECT_EQ(stats().transient_allocations, 2u);
    ASSERT_FMRT_OK(put("a", a, 10));
    EXPECT_EQ(stats().transient_allocations, 1u) << "naming made it durable";
    EXPECT_EQ(stats().reclaimed_at_open, 0u);
}

TEST_F(CatalogStats, CleanLastCloseIsOneAfterACleanClose) {
    reopen();
    EXPECT_EQ(stats().clean_last_close, 1);
    ASSERT_FMRT_OK(put("x", nullptr, 0));
    reopen();
    EXPECT_EQ(stats().clean_last_close, 1);
    close_heap();
    open_readonly();
    EXPECT_EQ(stats().clean_last_close, 1);
}

TEST_F(CatalogStatsAcrossProcesses, CleanLastCloseIsZeroAfterAChildWasKilledWithTheFileOpen) {
    close_heap();
    ChildStatus st = run_in_child([&] {
        fmrt_runtime *rt = nullptr;
        fmrt_options o = make_options();
        if (fmrt_runtime_open(&rt, path_.c_str(), &o) != FMRT_OK) return child_fail(1, "open");
        if (fmrt_catalog_put(rt, "child", nullptr, 0, 0, nullptr, 0, 0) != FMRT_OK) return child_fail(2, "put");
        kill(getpid(), SIGKILL);
        return 3;
    });
    ASSERT_FALSE(st.exited) << st;
    open_rw();
    EXPECT_EQ(stats().clean_last_close, 0);
    EXPECT_TRUE(has("child"));
    // This open's clean close makes the next one clean again.
    reopen();
    EXPECT_EQ(stats().clean_last_close, 1);
}

TEST_F(CatalogStats, FormatMajorIsTheFormatVersion) {
    fmrt_stats s = stats();
    EXPECT_EQ(s.format_major, static_cast<uint32_t>(FMRT_FORMAT_VERSION));
    reopen();
    EXPECT_EQ(stats().format_major, static_cast<uint32_t>(FMRT_FORMAT_VERSION));
    EXPECT_EQ(stats().format_minor, s.format_minor);
}

TEST_F(CatalogStats, UuidIsNonZeroStableAcrossReopenAndDiffersBetweenFiles) {
    fmrt_stats s = stats();
    const uint8_t zero[16] = {0};
    EXPECT_NE(std::memcmp(s.uuid, zero, 16), 0) << "uuid is all zero";
    reopen();
    fmrt_stats s2 = stats();
    EXPECT_EQ(std::memcmp(s.uuid, s2.uuid, 16), 0) << "uuid changed on reopen";
    close_heap();
    open_readonly();
    EXPECT_EQ(std::memcmp(s.uuid, stats().uuid, 16), 0) << "uuid read-only";

    fmrt_runtime *other = nullptr;
    fmrt_options o = make_options();
    ASSERT_FMRT_OK(fmrt_runtime_open(&other, dir_.file("other.fmrt").c_str(), &o));
    fmrt_stats so = stats_of(other);
    EXPECT_NE(std::memcmp(s.uuid, so.uuid, 16), 0) << "two files share a uuid";
    EXPECT_FMRT_OK(fmrt_runtime_close(other));
}

TEST_F(CatalogStats, CreatedTimeIsPlausibleAndStable) {
    close_heap();
    const std::string fresh = dir_.file("fresh.fmrt");
    const uint64_t before = now_unix_ns();
    fmrt_options o = make_options();
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt_, fresh.c_str(), &o));
    const uint64_t after = now_unix_ns();
    const uint64_t created = stats().created_unix_ns;
    EXPECT_GE(created + 1000000000ull, before);
    EXPECT_LE(created, after + 1000000000ull);
    usleep(2000);
    close_heap();
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt_, fresh.c_str(), &o));
    EXPECT_EQ(stats().created_unix_ns, created) << "creation time changed on reopen";
}

// The histogram row of a small allocation of `size` bytes: the first row
// whose slot size holds it.
int row_for(const fmrt_stats &s, size_t size) {
    for (uint32_t i = 0; i + 1 < s.class_count; ++i)
        if (s.class_size[i] >= size) return static_cast<int>(i);
    return -1;
}

TEST_F(CatalogStats, ClassHistogramHasIncreasingSizesAndALargeRow) {
    fmrt_stats s = stats();
    ASSERT_GE(s.class_count, 2u);
    ASSERT_LE(s.class_count, static_cast<uint32_t>(FMRT_STATS_CLASSES));
    for (uint32_t i = 1; i + 1 < s.class_count; ++i)
        EXPECT_GT(s.class_size[i], s.class_size[i - 1]) << "row " << i;
    EXPECT_GT(s.class_size[0], 0u);
    EXPECT_EQ(s.class_size[s.class_count - 1], 0u) << "the last row is for large allocations";
    for (uint32_t i = 0; i < s.class_count; ++i) {
        EXPECT_EQ(s.class_live[i], 0u) << "fresh heap, row " << i;
        EXPECT_EQ(s.class_bytes[i], 0u);
    }
    for (uint32_t i = s.class_count; i < FMRT_STATS_CLASSES; ++i) {
        EXPECT_EQ(s.class_size[i], 0u) << "unused row " << i;
        EXPECT_EQ(s.class_live[i], 0u) << "unused row " << i;
    }
}

TEST_F(CatalogStats, ClassHistogramCountsEachAllocationInItsRow) {
    const fmrt_stats s0 = stats();
    const int r100 = row_for(s0, 100);
    const int r16 = row_for(s0, 16);
    ASSERT_GE(r100, 0);
    ASSERT_GE(r16, 0);
    for (int i = 0; i < 7; ++i) ASSERT_NE(fmrt_malloc(rt_, 100), nullptr);
    for (int i = 0; i < 3; ++i) ASSERT_NE(fmrt_malloc(rt_, 16), nullptr);
    void *l1 = fmrt_malloc(rt_, 1 * MiB);
    void *l2 = fmrt_alloc(rt_, 300 * KiB, 0, FMRT_ALLOC_TRANSIENT);
    ASSERT_NE(l1, nullptr);
    ASSERT_NE(l2, nullptr);
    const fmrt_stats s = stats();
    const uint32_t large = s.class_count - 1;
    EXPECT_EQ(s.class_live[r100] - s0.class_live[r100], r100 == r16 ? 10u : 7u);
    EXPECT_EQ(s.class_live[r16] - s0.class_live[r16], r100 == r16 ? 10u : 3u);
    EXPECT_EQ(s.class_live[large], 2u) << "the last row counts large allocations";
    EXPECT_EQ(s.class_bytes[large], fmrt_usable_size(rt_, l1) + fmrt_usable_size(rt_, l2));
    EXPECT_EQ(s.class_bytes[r100], s.class_live[r100] * s.class_size[r100]);
}

TEST_F(CatalogStats, ClassHistogramSumsToTheTotals) {
    Rng rng(test_seed(5));
    std::vector<void *> ps;
    for (int i = 0; i < 3000; ++i) {
        size_t size = rng.chance(0.02) ? rng.between(65 * KiB, 2 * MiB) : rng.between(0, 64 * KiB);
        void *p = fmrt_alloc(rt_, size, 0, rng.chance(0.3) ? FMRT_ALLOC_TRANSIENT : 0);
        ASSERT_NE(p, nullptr);
        ps.push_back(p);
    }
    for (size_t i = 0; i < ps.size(); i += 3) ASSERT_FMRT_OK(fmrt_free(rt_, ps[i]));
    for (int i = 0; i < 50; ++i) ASSERT_FMRT_OK(put("n" + std::to_string(i), ps[1 + 3 * i], 0));
    for (int pass = 0; pass < 2; ++pass) {
        fmrt_stats s = stats();
        uint64_t live = 0, bytes = 0;
        for (uint32_t i = 0; i < s.class_count; ++i) {
            live += s.class_live[i];
            bytes += s.class_bytes[i];
        }
        EXPECT_EQ(live, s.live_allocations) << "pass " << pass;
        EXPECT_EQ(bytes, s.in_use_bytes) << "pass " << pass;
        EXPECT_GE(s.fragmentation, 0.0);
        EXPECT_LE(s.fragmentation, 1.0);
        reopen();  // transients reclaimed; the sums still hold
    }
}

TEST_F(CatalogStats, FragmentationStaysBetweenZeroAndOne) {
    EXPECT_GE(stats().fragmentation, 0.0);
    EXPECT_LE(stats().fragmentation, 1.0);
    // Holes between live large allocations.
    std::vector<void *> ps;
    for (int i = 0; i < 40; ++i) {
        ps.push_back(fmrt_malloc(rt_, 256 * KiB));
        ASSERT_NE(ps.back(), nullptr);
    }
    for (size_t i = 0; i < ps.size(); i += 2) ASSERT_FMRT_OK(fmrt_free(rt_, ps[i]));
    fmrt_stats s = stats();
    EXPECT_GT(s.fragmentation, 0.0) << "free space in many pieces";
    EXPECT_LE(s.fragmentation, 1.0);
    EXPECT_LE(s.largest_free_block, s.free_bytes);
}

TEST_F(CatalogStats, UnknownStatsVersionFailsWithEinval) {
    for (unsigned v : {0u, FMRT_STATS_VERSION + 1u}) {
        fmrt_stats s = FMRT_STATS_INIT;
        s.version = v;
        EXPECT_STATUS(fmrt_runtime_stats(&s, rt_), FMRT_EINVAL) << "version " << v;
    }
}

}  // namespace
}  // namespace fmrt_catalog_test
