// Misuse of the catalog API: NULL arguments, unknown flags and versions,
// closed handles, and writes asked of a read-only runtime.
#include "catalog_util.h"

namespace fmrt_catalog_test {
namespace {

class CatalogMisuse : public HeapTest {};

TEST_F(CatalogMisuse, NullArgumentsFailWithEinval) {
    void *p = alloc_pattern(16, 1);
    ASSERT_FMRT_OK(put("a", p, 16, 1, "m"));
    fmrt_entry e = FMRT_ENTRY_INIT;
    uint64_t n = 0;

    EXPECT_STATUS(fmrt_catalog_put(nullptr, "b", nullptr, 0, 0, nullptr, 0, 0), FMRT_EINVAL);
    EXPECT_STATUS(fmrt_catalog_put(rt_, nullptr, p, 16, 0, nullptr, 0, 0), FMRT_EINVAL);
    EXPECT_STATUS(fmrt_catalog_put(rt_, "b", p, 16, 0, nullptr, 5, 0), FMRT_EINVAL) << "meta NULL with a length";
    EXPECT_STATUS(fmrt_catalog_put(rt_, "a", p, 16, 0, nullptr, 5, FMRT_PUT_REPLACE), FMRT_EINVAL)
        << "meta NULL with a length, replacing";

    EXPECT_STATUS(fmrt_catalog_get(nullptr, rt_, "a"), FMRT_EINVAL);
    EXPECT_STATUS(fmrt_catalog_get(&e, nullptr, "a"), FMRT_EINVAL);
    EXPECT_STATUS(fmrt_catalog_get(&e, rt_, nullptr), FMRT_EINVAL);

    EXPECT_STATUS(fmrt_catalog_remove(nullptr, "a", 0), FMRT_EINVAL);
    EXPECT_STATUS(fmrt_catalog_remove(rt_, nullptr, 0), FMRT_EINVAL);

    EXPECT_STATUS(fmrt_catalog_rename(nullptr, "a", "b", 0), FMRT_EINVAL);
    EXPECT_STATUS(fmrt_catalog_rename(rt_, nullptr, "b", 0), FMRT_EINVAL);
    EXPECT_STATUS(fmrt_catalog_rename(rt_, "a", nullptr, 0), FMRT_EINVAL);

    EXPECT_STATUS(fmrt_catalog_next(nullptr, rt_, nullptr), FMRT_EINVAL);
    EXPECT_STATUS(fmrt_catalog_next(&e, nullptr, nullptr), FMRT_EINVAL);

    EXPECT_STATUS(fmrt_catalog_count(nullptr, rt_), FMRT_EINVAL);
    EXPECT_STATUS(fmrt_catalog_count(&n, nullptr), FMRT_EINVAL);

    // Nothing changed.
    EXPECT_EQ(count_of(rt_), 1u);
    ASSERT_FMRT_OK(get("a", &e));
    EXPECT_EQ(e.ptr, p);
    EXPECT_EQ(meta_of(e), "m");
    EXPECT_FALSE(has("b"));
}

TEST_F(CatalogMisuse, UnknownEntryVersionFailsWithEinval) {
    ASSERT_FMRT_OK(put("a", nullptr, 0));
    for (unsigned v : {0u, FMRT_ENTRY_VERSION + 1u, 0xFFFFFFFFu}) {
        fmrt_entry e = FMRT_ENTRY_INIT;
        e.version = v;
        EXPECT_STATUS(fmrt_catalog_get(&e, rt_, "a"), FMRT_EINVAL) << "version " << v;
        e.version = v;
        EXPECT_STATUS(fmrt_catalog_next(&e, rt_, nullptr), FMRT_EINVAL) << "version " << v;
    }
}

TEST_F(CatalogMisuse, UnknownFlagsFailWithEinvalAndChangeNothing) {
    void *p = alloc_pattern(16, 1);
    void *q = alloc_pattern(16, 2);
    ASSERT_FMRT_OK(put("a", p, 16, 1));
    for (unsigned bad : {0x4u, 0x8u, 0x100u, 0x80000000u}) {
        SCOPED_TRACE(bad);
        EXPECT_STATUS(put("new", q, 16, 0, "", bad), FMRT_EINVAL);
        EXPECT_STATUS(put("a", q, 16, 0, "", FMRT_PUT_REPLACE | bad), FMRT_EINVAL);
        EXPECT_STATUS(fmrt_catalog_remove(rt_, "a", bad), FMRT_EINVAL);
        EXPECT_STATUS(fmrt_catalog_rename(rt_, "a", "b", bad), FMRT_EINVAL);
    }
    EXPECT_STATUS(fmrt_catalog_remove(rt_, "a", 0x2u), FMRT_EINVAL) << "0x2 is not a remove flag";
    EXPECT_FALSE(has("new"));
    EXPECT_FALSE(has("b"));
    fmrt_entry e;
    ASSERT_FMRT_OK(get("a", &e));
    EXPECT_EQ(e.ptr, p);
    EXPECT_TRUE(live(p));
    EXPECT_TRUE(live(q));
}

TEST_F(CatalogMisuse, ClosedHandleIsRejectedByEveryCatalogFunction) {
    ASSERT_FMRT_OK(put("a", nullptr, 0));
    fmrt_runtime *closed = rt_;
    close_heap();
    fmrt_entry e = FMRT_ENTRY_INIT;
    uint64_t n = 0;
    EXPECT_STATUS(fmrt_catalog_put(closed, "b", nullptr, 0, 0, nullptr, 0, 0), FMRT_EINVAL);
    EXPECT_STATUS(fmrt_catalog_get(&e, closed, "a"), FMRT_EINVAL);
    EXPECT_STATUS(fmrt_catalog_remove(closed, "a", 0), FMRT_EINVAL);
    EXPECT_STATUS(fmrt_catalog_rename(closed, "a", "b", 0), FMRT_EINVAL);
    EXPECT_STATUS(fmrt_catalog_next(&e, closed, nullptr), FMRT_EINVAL);
    EXPECT_STATUS(fmrt_catalog_count(&n, closed), FMRT_EINVAL);
    fmrt_report r = FMRT_REPORT_INIT;
    EXPECT_STATUS(fmrt_runtime_verify(&r, closed), FMRT_EINVAL);
    EXPECT_STATUS(fmrt_set_transient(closed, nullptr, 0), FMRT_EINVAL);
    EXPECT_STATUS(fmrt_is_transient(closed, nullptr), FMRT_EINVAL);
    open_rw();
    EXPECT_TRUE(has("a"));
    EXPECT_FALSE(has("b"));
}

TEST_F(CatalogMisuse, ReadOnlyRuntimeReadsTheCatalogAndRefusesWrites) {
    void *p = alloc_pattern(64, 3);
    ASSERT_FMRT_OK(put("a", p, 64, 1, "ma"));
    ASSERT_FMRT_OK(put("b", nullptr, 0, 2, "mb"));
    const uint64_t off = offset(p);
    close_heap();
    open_readonly();

    fmrt_entry e;
    ASSERT_FMRT_OK(get("a", &e));
    EXPECT_EQ(e.offset, off);
    EXPECT_EQ(e.ptr, at(off));
    EXPECT_EQ(meta_of(e), "ma");
    EXPECT_TRUE(HasPattern(e.ptr, 64, 3));
    EXPECT_EQ(count_of(rt_), 2u);
    EXPECT_EQ(names_in_order(rt_), (std::vector<std::string>{"a", "b"}));
    EXPECT_STATUS(get("c", &e), FMRT_ENOTFOUND);

    EXPECT_STATUS(put("c", nullptr, 0), FMRT_EREADONLY);
    EXPECT_STATUS(put("a", nullptr, 0, 0, "", FMRT_PUT_REPLACE), FMRT_EREADONLY);
    EXPECT_STATUS(fmrt_catalog_remove(rt_, "a", 0), FMRT_EREADONLY);
    EXPECT_STATUS(fmrt_catalog_remove(rt_, "a", FMRT_REMOVE_FREE), FMRT_EREADONLY);
    EXPECT_STATUS(fmrt_catalog_rename(rt_, "a", "z", 0), FMRT_EREADONLY);
    EXPECT_STATUS(fmrt_catalog_rename(rt_, "a", "b", FMRT_PUT_REPLACE), FMRT_EREADONLY);

    EXPECT_EQ(count_of(rt_), 2u);
    ASSERT_FMRT_OK(get("a", &e));
    EXPECT_EQ(e.offset, off);
    fmrt_report r = verify_of(rt_);
    EXPECT_EQ(r.problems, 0u) << describe(r);
    EXPECT_EQ(r.catalog_entries, 2u);

    close_heap();
    open_rw();
    EXPECT_EQ(names_in_order(rt_), (std::vector<std::string>{"a", "b"}));
}

TEST_F(CatalogMisuse, TwoRuntimesHaveSeparateCatalogs) {
    TempDir other_dir;
    fmrt_runtime *other = nullptr;
    fmrt_options o = make_options();
    ASSERT_FMRT_OK(fmrt_runtime_open(&other, other_dir.file("other.fmrt").c_str(), &o));
    ASSERT_FMRT_OK(put("mine", nullptr, 0));
    ASSERT_FMRT_OK(fmrt_catalog_put(other, "theirs", nullptr, 0, 0, nullptr, 0, 0));
    EXPECT_FALSE(has("theirs"));
    fmrt_entry e = FMRT_ENTRY_INIT;
    EXPECT_STATUS(fmrt_catalog_get(&e, other, "mine"), FMRT_ENOTFOUND);
    uint64_t n = 0;
    ASSERT_FMRT_OK(fmrt_catalog_count(&n, other));
    EXPECT_EQ(n, 1u);
    EXPECT_FMRT_OK(fmrt_runtime_close(other));
}

TEST_F(CatalogMisuse, ScratchRuntimeHasAWorkingCatalog) {
    fmrt_runtime *scratch = nullptr;
    fmrt_options o = make_options(0, kTestMaxSize, FMRT_OPEN_CREATE, FMRT_MODE_SCRATCH);
    ASSERT_FMRT_OK(fmrt_runtime_open(&scratch, dir_.path().c_str(), &o));
    void *p = fmrt_malloc(scratch, 32);
    ASSERT_NE(p, nullptr);
    ASSERT_FMRT_OK(fmrt_catalog_put(scratch, "s", p, 32, 1, "x", 1, 0));
    fmrt_entry e = FMRT_ENTRY_INIT;
    ASSERT_FMRT_OK(fmrt_catalog_get(&e, scratch, "s"));
    EXPECT_EQ(e.ptr, p);
    ASSERT_FMRT_OK(fmrt_catalog_rename(scratch, "s", "t", 0));
    ASSERT_FMRT_OK(fmrt_catalog_remove(scratch, "t", FMRT_REMOVE_FREE));
    EXPECT_FMRT_OK(fmrt_runtime_close(scratch));
}

}  // namespace
}  // namespace fmrt_catalog_test
