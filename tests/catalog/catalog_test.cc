// The catalog's operations one at a time: put and get, replacing, removing,
// renaming, counting, entries without an allocation, and which allocations
// an entry may name.
#include "catalog_util.h"

namespace fmrt_catalog_test {
namespace {

class Catalog : public HeapTest {};

// ---- put and get ---------------------------------------------------------------

TEST_F(Catalog, PutThenGetReturnsPointerOffsetSizeTypeAndMeta) {
    void *p = alloc_pattern(100, 1);
    const uint64_t before = now_unix_ns();
    ASSERT_FMRT_OK(put("alpha", p, 100, 7, "hello"));
    const uint64_t after = now_unix_ns();

    fmrt_entry e;
    ASSERT_FMRT_OK(get("alpha", &e));
    EXPECT_EQ(name_of(e), "alpha");
    EXPECT_EQ(e.name_len, 5u);
    EXPECT_EQ(e.name[5], '\0') << "name is NUL-terminated";
    EXPECT_EQ(e.ptr, p);
    EXPECT_EQ(e.offset, offset(p));
    EXPECT_NE(e.offset, 0u);
    EXPECT_EQ(e.size, 100u);
    EXPECT_EQ(e.type, 7u);
    EXPECT_EQ(meta_of(e), "hello");
    // One second of slack either way for clock steps.
    EXPECT_GE(e.created_unix_ns + 1000000000ull, before);
    EXPECT_LE(e.created_unix_ns, after + 1000000000ull);
    EXPECT_TRUE(HasPattern(e.ptr, 100, 1));
}

TEST_F(Catalog, PutKeepsTheFullTypeTag) {
    void *p = alloc_pattern(8, 1);
    ASSERT_FMRT_OK(put("t", p, 8, 0xFFFFFFFFu));
    fmrt_entry e;
    ASSERT_FMRT_OK(get("t", &e));
    EXPECT_EQ(e.type, 0xFFFFFFFFu);
}

TEST_F(Catalog, PutWithoutMetadataGivesNullMeta) {
    void *p = alloc_pattern(32, 2);
    ASSERT_FMRT_OK(fmrt_catalog_put(rt_, "none", p, 32, 1, nullptr, 0, 0));
    const char dummy = 'x';
    ASSERT_FMRT_OK(fmrt_catalog_put(rt_, "empty", p, 32, 1, &dummy, 0, 0)) << "a pointer with length 0";
    for (const char *name : {"none", "empty"}) {
        fmrt_entry e;
        ASSERT_FMRT_OK(get(name, &e));
        EXPECT_EQ(e.meta_len, 0u) << name;
        EXPECT_EQ(e.meta, nullptr) << name << ": meta is NULL when meta_len is 0";
    }
}

TEST_F(Catalog, PutStoresOneByteOfMetadata) {
    ASSERT_FMRT_OK(put("one", nullptr, 0, 0, std::string(1, '\0')));
    fmrt_entry e;
    ASSERT_FMRT_OK(get("one", &e));
    ASSERT_EQ(e.meta_len, 1u);
    ASSERT_NE(e.meta, nullptr);
    EXPECT_EQ(static_cast<const unsigned char *>(e.meta)[0], 0u);
}

TEST_F(Catalog, PutStoresOneMebibyteOfMetadata) {
    std::string meta(MiB, '\0');
    fill_pattern(&meta[0], meta.size(), 77);
    void *p = alloc_pattern(64, 3);
    ASSERT_FMRT_OK(put("big-meta", p, 64, 9, meta));
    fmrt_entry e;
    ASSERT_FMRT_OK(get("big-meta", &e));
    ASSERT_EQ(e.meta_len, MiB);
    EXPECT_TRUE(HasPattern(e.meta, MiB, 77));
    EXPECT_EQ(e.ptr, p);

    reopen();
    ASSERT_FMRT_OK(get("big-meta", &e));
    ASSERT_EQ(e.meta_len, MiB);
    EXPECT_TRUE(HasPattern(e.meta, MiB, 77));
    EXPECT_TRUE(HasPattern(e.ptr, 64, 3));
}

TEST_F(Catalog, GetOfAMissingNameReturnsEnotfound) {
    fmrt_entry e;
    EXPECT_STATUS(get("missing", &e), FMRT_ENOTFOUND);
    ASSERT_FMRT_OK(put("present", nullptr, 0));
    EXPECT_STATUS(get("presen", &e), FMRT_ENOTFOUND) << "a prefix is another name";
    EXPECT_STATUS(get("present!", &e), FMRT_ENOTFOUND);
    EXPECT_STATUS(get("Present", &e), FMRT_ENOTFOUND) << "names are case-sensitive";
}

TEST_F(Catalog, PutOfAnExistingNameFailsWithEexistsAndChangesNothing) {
    void *p1 = alloc_pattern(64, 1);
    void *p2 = alloc_pattern(128, 2);
    ASSERT_FMRT_OK(put("a", p1, 64, 1, "first"));
    fmrt_entry before;
    ASSERT_FMRT_OK(get("a", &before));
    const uint64_t created = before.created_unix_ns;

    EXPECT_STATUS(put("a", p2, 128, 2, "second"), FMRT_EEXISTS);
    EXPECT_STATUS(put("a", nullptr, 0, 2, "second"), FMRT_EEXISTS);
    EXPECT_STATUS(put("a", p2, 128, 2, "second", FMRT_PUT_FREE_REPLACED), FMRT_EEXISTS)
        << "FREE_REPLACED alone does not replace";

    fmrt_entry e;
    ASSERT_FMRT_OK(get("a", &e));
    EXPECT_EQ(e.ptr, p1);
    EXPECT_EQ(e.size, 64u);
    EXPECT_EQ(e.type, 1u);
    EXPECT_EQ(meta_of(e), "first");
    EXPECT_EQ(e.created_unix_ns, created);
    EXPECT_EQ(count_of(rt_), 1u);
    EXPECT_TRUE(live(p1));
    EXPECT_TRUE(live(p2));
    EXPECT_TRUE(HasPattern(p1, 64, 1));
    EXPECT_TRUE(HasPattern(p2, 128, 2));
}

TEST_F(Catalog, PutReplaceReplacesTheEntryAndKeepsTheOldAllocation) {
    void *p1 = alloc_pattern(64, 1);
    void *p2 = alloc_pattern(128, 2);
    ASSERT_FMRT_OK(put("a", p1, 64, 1, "first"));
    ASSERT_FMRT_OK(put("a", p2, 100, 2, "second", FMRT_PUT_REPLACE));
    fmrt_entry e;
    ASSERT_FMRT_OK(get("a", &e));
    EXPECT_EQ(e.ptr, p2);
    EXPECT_EQ(e.size, 100u);
    EXPECT_EQ(e.type, 2u);
    EXPECT_EQ(meta_of(e), "second");
    EXPECT_EQ(count_of(rt_), 1u);
    EXPECT_TRUE(live(p1)) << "the replaced allocation is kept";
    EXPECT_TRUE(HasPattern(p1, 64, 1));
    EXPECT_FMRT_OK(fmrt_free(rt_, p1));
}

TEST_F(Catalog, PutReplaceOfAMissingNameCreatesIt) {
    void *p = alloc_pattern(16, 1);
    ASSERT_FMRT_OK(put("new", p, 16, 0, "", FMRT_PUT_REPLACE | FMRT_PUT_FREE_REPLACED));
    fmrt_entry e;
    ASSERT_FMRT_OK(get("new", &e));
    EXPECT_EQ(e.ptr, p);
    EXPECT_TRUE(live(p));
}

TEST_F(Catalog, PutFreeReplacedFreesTheOldAllocation) {
    // Small and large replaced allocations.
    for (size_t size : {size_t{48}, size_t{300 * KiB}}) {
        SCOPED_TRACE(size);
        void *old = alloc_pattern(size, 1);
        void *fresh = alloc_pattern(size, 2);
        ASSERT_FMRT_OK(put("a", old, size, 0, "", FMRT_PUT_REPLACE));
        ASSERT_FMRT_OK(put("a", fresh, size, 0, "", FMRT_PUT_REPLACE | FMRT_PUT_FREE_REPLACED));
        fmrt_entry e;
        ASSERT_FMRT_OK(get("a", &e));
        EXPECT_EQ(e.ptr, fresh);
        EXPECT_EQ(fmrt_usable_size(rt_, old), 0u) << "the replaced allocation is freed";
        EXPECT_STATUS(fmrt_free(rt_, old), FMRT_EINVAL) << "freeing it again";
        EXPECT_TRUE(live(fresh));
        EXPECT_TRUE(HasPattern(fresh, size, 2));
        ASSERT_FMRT_OK(fmrt_catalog_remove(rt_, "a", FMRT_REMOVE_FREE));
    }
}

TEST_F(Catalog, PutFreeReplacedKeepsTheAllocationWhenItIsTheSame) {
    void *p = alloc_pattern(256, 5);
    ASSERT_FMRT_OK(put("same", p, 256, 1, "v1"));
    ASSERT_FMRT_OK(put("same", p, 200, 2, "v2", FMRT_PUT_REPLACE | FMRT_PUT_FREE_REPLACED));
    fmrt_entry e;
    ASSERT_FMRT_OK(get("same", &e));
    EXPECT_EQ(e.ptr, p);
    EXPECT_EQ(e.size, 200u);
    EXPECT_EQ(meta_of(e), "v2");
    EXPECT_TRUE(live(p)) << "the same allocation is not freed";
    EXPECT_TRUE(HasPattern(p, 256, 5));
    fmrt_report r = verify_of(rt_);
    EXPECT_EQ(r.problems, 0u) << describe(r);
}

TEST_F(Catalog, PutFreeReplacedOfAnEntryWithoutAllocationFreesNothing) {
    void *p = alloc_pattern(32, 1);
    ASSERT_FMRT_OK(put("x", nullptr, 0));
    ASSERT_FMRT_OK(put("x", p, 32, 0, "", FMRT_PUT_REPLACE | FMRT_PUT_FREE_REPLACED));
    ASSERT_FMRT_OK(put("x", nullptr, 0, 0, "", FMRT_PUT_REPLACE));
    EXPECT_TRUE(live(p)) << "plain REPLACE keeps the allocation";
    fmrt_entry e;
    ASSERT_FMRT_OK(get("x", &e));
    EXPECT_EQ(e.ptr, nullptr);
}

// ---- remove ---------------------------------------------------------------------

TEST_F(Catalog, RemoveKeepsTheAllocationLive) {
    void *p = alloc_pattern(512, 4);
    ASSERT_FMRT_OK(put("r", p, 512));
    ASSERT_FMRT_OK(fmrt_catalog_remove(rt_, "r", 0));
    fmrt_entry e;
    EXPECT_STATUS(get("r", &e), FMRT_ENOTFOUND);
    EXPECT_EQ(count_of(rt_), 0u);
    EXPECT_TRUE(live(p));
    EXPECT_TRUE(HasPattern(p, 512, 4));
    EXPECT_FMRT_OK(fmrt_free(rt_, p));
}

TEST_F(Catalog, RemoveWithFreeFreesTheAllocation) {
    for (size_t size : {size_t{24}, size_t{1 * MiB}}) {
        SCOPED_TRACE(size);
        void *p = alloc_pattern(size, 4);
        ASSERT_FMRT_OK(put("r", p, size));
        ASSERT_FMRT_OK(fmrt_catalog_remove(rt_, "r", FMRT_REMOVE_FREE));
        EXPECT_FALSE(has("r"));
        EXPECT_EQ(fmrt_usable_size(rt_, p), 0u);
        EXPECT_STATUS(fmrt_free(rt_, p), FMRT_EINVAL);
    }
}

TEST_F(Catalog, RemoveWithFreeOfAnEntryWithoutAllocationSucceeds) {
    ASSERT_FMRT_OK(put("empty", nullptr, 0, 3, "m"));
    EXPECT_FMRT_OK(fmrt_catalog_remove(rt_, "empty", FMRT_REMOVE_FREE));
    EXPECT_FALSE(has("empty"));
}

TEST_F(Catalog, RemoveOfAMissingNameReturnsEnotfound) {
    EXPECT_STATUS(fmrt_catalog_remove(rt_, "ghost", 0), FMRT_ENOTFOUND);
    ASSERT_FMRT_OK(put("ghost", nullptr, 0));
    ASSERT_FMRT_OK(fmrt_catalog_remove(rt_, "ghost", 0));
    EXPECT_STATUS(fmrt_catalog_remove(rt_, "ghost", 0), FMRT_ENOTFOUND) << "removed twice";
}

TEST_F(Catalog, ARemovedNameCanBePutAgain) {
    void *p1 = alloc_pattern(40, 1);
    void *p2 = alloc_pattern(40, 2);
    ASSERT_FMRT_OK(put("again", p1, 40, 1));
    ASSERT_FMRT_OK(fmrt_catalog_remove(rt_, "again", 0));
    ASSERT_FMRT_OK(put("again", p2, 40, 2));
    fmrt_entry e;
    ASSERT_FMRT_OK(get("again", &e));
    EXPECT_EQ(e.ptr, p2);
    EXPECT_EQ(e.type, 2u);
}

// ---- rename ---------------------------------------------------------------------

TEST_F(Catalog, RenameMovesTheEntryToANewName) {
    void *p = alloc_pattern(100, 6);
    ASSERT_FMRT_OK(put("from", p, 90, 11, "meta-bytes"));
    fmrt_entry before;
    ASSERT_FMRT_OK(get("from", &before));
    const uint64_t put_time = before.created_unix_ns;

    ASSERT_FMRT_OK(fmrt_catalog_rename(rt_, "from", "to", 0));
    fmrt_entry e;
    EXPECT_STATUS(get("from", &e), FMRT_ENOTFOUND);
    ASSERT_FMRT_OK(get("to", &e));
    EXPECT_EQ(name_of(e), "to");
    EXPECT_EQ(e.ptr, p);
    EXPECT_EQ(e.offset, offset(p));
    EXPECT_EQ(e.size, 90u);
    EXPECT_EQ(e.type, 11u);
    EXPECT_EQ(meta_of(e), "meta-bytes");
    EXPECT_GE(e.created_unix_ns, put_time) << "created is the time of the rename";
    EXPECT_EQ(count_of(rt_), 1u);
    EXPECT_TRUE(HasPattern(p, 100, 6));
}

TEST_F(Catalog, RenameOntoAnExistingNameFailsWithEexistsAndChangesNothing) {
    void *pa = alloc_pattern(16, 1);
    void *pb = alloc_pattern(16, 2);
    ASSERT_FMRT_OK(put("a", pa, 16, 1));
    ASSERT_FMRT_OK(put("b", pb, 16, 2));
    EXPECT_STATUS(fmrt_catalog_rename(rt_, "a", "b", 0), FMRT_EEXISTS);
    EXPECT_STATUS(fmrt_catalog_rename(rt_, "a", "b", FMRT_PUT_FREE_REPLACED), FMRT_EEXISTS);
    fmrt_entry e;
    ASSERT_FMRT_OK(get("a", &e));
    EXPECT_EQ(e.ptr, pa);
    ASSERT_FMRT_OK(get("b", &e));
    EXPECT_EQ(e.ptr, pb);
    EXPECT_EQ(count_of(rt_), 2u);
    EXPECT_TRUE(live(pa));
    EXPECT_TRUE(live(pb));
}

TEST_F(Catalog, RenameWithReplaceReplacesTheTargetAndKeepsItsAllocation) {
    void *pa = alloc_pattern(16, 1);
    void *pb = alloc_pattern(16, 2);
    ASSERT_FMRT_OK(put("a", pa, 16, 1, "ma"));
    ASSERT_FMRT_OK(put("b", pb, 16, 2, "mb"));
    ASSERT_FMRT_OK(fmrt_catalog_rename(rt_, "a", "b", FMRT_PUT_REPLACE));
    fmrt_entry e;
    EXPECT_STATUS(get("a", &e), FMRT_ENOTFOUND);
    ASSERT_FMRT_OK(get("b", &e));
    EXPECT_EQ(e.ptr, pa);
    EXPECT_EQ(e.type, 1u);
    EXPECT_EQ(meta_of(e), "ma");
    EXPECT_EQ(count_of(rt_), 1u);
    EXPECT_TRUE(live(pb)) << "the replaced target's allocation is kept";
    EXPECT_TRUE(HasPattern(pb, 16, 2));
}

TEST_F(Catalog, RenameWithFreeReplacedFreesTheTargetsAllocation) {
    void *pa = alloc_pattern(16, 1);
    void *pb = alloc_pattern(2 * MiB, 2);
    ASSERT_FMRT_OK(put("a", pa, 16));
    ASSERT_FMRT_OK(put("b", pb, 2 * MiB));
    ASSERT_FMRT_OK(fmrt_catalog_rename(rt_, "a", "b", FMRT_PUT_REPLACE | FMRT_PUT_FREE_REPLACED));
    fmrt_entry e;
    ASSERT_FMRT_OK(get("b", &e));
    EXPECT_EQ(e.ptr, pa);
    EXPECT_EQ(fmrt_usable_size(rt_, pb), 0u);
    EXPECT_STATUS(fmrt_free(rt_, pb), FMRT_EINVAL);
    EXPECT_TRUE(live(pa));
    fmrt_report r = verify_of(rt_);
    EXPECT_EQ(r.problems, 0u) << describe(r);
}

TEST_F(Catalog, RenameWithFreeReplacedKeepsASharedAllocation) {
    // Two names for one allocation: replacing one by the other frees nothing.
    void *p = alloc_pattern(64, 3);
    ASSERT_FMRT_OK(put("a", p, 64));
    ASSERT_FMRT_OK(put("b", p, 32));
    ASSERT_FMRT_OK(fmrt_catalog_rename(rt_, "a", "b", FMRT_PUT_REPLACE | FMRT_PUT_FREE_REPLACED));
    fmrt_entry e;
    ASSERT_FMRT_OK(get("b", &e));
    EXPECT_EQ(e.ptr, p);
    EXPECT_EQ(e.size, 64u);
    EXPECT_TRUE(live(p));
    EXPECT_TRUE(HasPattern(p, 64, 3));
}

TEST_F(Catalog, RenameToItselfIsANoOp) {
    void *p = alloc_pattern(16, 1);
    ASSERT_FMRT_OK(put("self", p, 16, 4, "m"));
    fmrt_entry before;
    ASSERT_FMRT_OK(get("self", &before));
    const uint64_t created = before.created_unix_ns;
    for (unsigned flags : {0u, FMRT_PUT_REPLACE, FMRT_PUT_REPLACE | FMRT_PUT_FREE_REPLACED}) {
        EXPECT_FMRT_OK(fmrt_catalog_rename(rt_, "self", "self", flags)) << "flags " << flags;
        fmrt_entry e;
        ASSERT_FMRT_OK(get("self", &e));
        EXPECT_EQ(e.ptr, p);
        EXPECT_EQ(e.size, 16u);
        EXPECT_EQ(e.type, 4u);
        EXPECT_EQ(meta_of(e), "m");
        EXPECT_EQ(e.created_unix_ns, created);
        EXPECT_TRUE(live(p)) << "flags " << flags;
    }
    EXPECT_EQ(count_of(rt_), 1u);
}

TEST_F(Catalog, RenameOfAMissingNameReturnsEnotfound) {
    EXPECT_STATUS(fmrt_catalog_rename(rt_, "ghost", "other", 0), FMRT_ENOTFOUND);
    EXPECT_STATUS(fmrt_catalog_rename(rt_, "ghost", "ghost", 0), FMRT_ENOTFOUND);
    EXPECT_FALSE(has("other"));
    EXPECT_EQ(count_of(rt_), 0u);
}

TEST_F(Catalog, RenameBackAndForthKeepsTheEntry) {
    void *p = alloc_pattern(16, 1);
    ASSERT_FMRT_OK(put("x", p, 16, 5, "meta"));
    for (int i = 0; i < 100; ++i) {
        ASSERT_FMRT_OK(fmrt_catalog_rename(rt_, i % 2 ? "y" : "x", i % 2 ? "x" : "y", 0)) << i;
    }
    fmrt_entry e;
    ASSERT_FMRT_OK(get("x", &e));
    EXPECT_EQ(e.ptr, p);
    EXPECT_EQ(meta_of(e), "meta");
    EXPECT_EQ(count_of(rt_), 1u);
    fmrt_report r = verify_of(rt_);
    EXPECT_EQ(r.problems, 0u) << describe(r);
    EXPECT_EQ(r.catalog_entries, 1u);
    EXPECT_EQ(r.unreachable_allocations, 0u) << "old records are not left behind";
}

TEST_F(Catalog, StringsThatPointIntoTheCatalogCanBePassedBack) {
    // An entry's own name and metadata live in its record, which a replace,
    // rename or remove frees: the library must copy them before it does.
    void *p = alloc_pattern(64, 1);
    ASSERT_FMRT_OK(put("first", p, 64, 1, "its metadata"));
    ASSERT_FMRT_OK(put("second", nullptr, 0, 2, "other"));
    fmrt_entry e;
    ASSERT_FMRT_OK(get("first", &e));
    ASSERT_FMRT_OK(fmrt_catalog_put(rt_, e.name, p, 32, 3, e.meta, e.meta_len, FMRT_PUT_REPLACE));
    ASSERT_FMRT_OK(get("first", &e));
    EXPECT_EQ(e.size, 32u);
    EXPECT_EQ(meta_of(e), "its metadata");

    fmrt_entry s;
    ASSERT_FMRT_OK(get("second", &s));
    ASSERT_FMRT_OK(fmrt_catalog_rename(rt_, e.name, s.name, FMRT_PUT_REPLACE));
    EXPECT_FALSE(has("first"));
    ASSERT_FMRT_OK(get("second", &e));
    EXPECT_EQ(e.ptr, p);
    EXPECT_EQ(meta_of(e), "its metadata");

    ASSERT_FMRT_OK(fmrt_catalog_remove(rt_, e.name, 0));
    EXPECT_EQ(count_of(rt_), 0u);
    fmrt_report r = verify_of(rt_);
    EXPECT_EQ(r.problems, 0u) << describe(r);
}

// ---- count ----------------------------------------------------------------------

TEST_F(Catalog, CountFollowsPutsRemovesAndRenames) {
    EXPECT_EQ(count_of(rt_), 0u);
    for (int i = 0; i < 10; ++i) ASSERT_FMRT_OK(put("n" + std::to_string(i), nullptr, 0));
    EXPECT_EQ(count_of(rt_), 10u);
    ASSERT_FMRT_OK(put("n3", nullptr, 0, 1, "", FMRT_PUT_REPLACE));
    EXPECT_EQ(count_of(rt_), 10u) << "replace";
    ASSERT_FMRT_OK(fmrt_catalog_rename(rt_, "n1", "m1", 0));
    EXPECT_EQ(count_of(rt_), 10u) << "rename";
    ASSERT_FMRT_OK(fmrt_catalog_rename(rt_, "n2", "n4", FMRT_PUT_REPLACE));
    EXPECT_EQ(count_of(rt_), 9u) << "rename replacing";
    ASSERT_FMRT_OK(fmrt_catalog_remove(rt_, "n0", 0));
    EXPECT_EQ(count_of(rt_), 8u) << "remove";
    EXPECT_STATUS(put("n5", nullptr, 0), FMRT_EEXISTS);
    EXPECT_EQ(count_of(rt_), 8u) << "refused put";
    EXPECT_EQ(stats().catalog_entries, 8u);
}

// ---- entries without an allocation ----------------------------------------------

TEST_F(Catalog, EntryWithoutAnAllocationHasNullPointerAndSizeZero) {
    ASSERT_FMRT_OK(put("marker", nullptr, 0, 42, "just metadata"));
    fmrt_entry e;
    ASSERT_FMRT_OK(get("marker", &e));
    EXPECT_EQ(e.ptr, nullptr);
    EXPECT_EQ(e.offset, 0u);
    EXPECT_EQ(e.size, 0u);
    EXPECT_EQ(e.type, 42u);
    EXPECT_EQ(meta_of(e), "just metadata");
    reopen();
    ASSERT_FMRT_OK(get("marker", &e));
    EXPECT_EQ(e.ptr, nullptr);
    EXPECT_EQ(e.offset, 0u);
    EXPECT_EQ(meta_of(e), "just metadata");
}

TEST_F(Catalog, EntryWithoutAnAllocationRefusesANonZeroSize) {
    EXPECT_STATUS(put("bad", nullptr, 1), FMRT_EINVAL);
    EXPECT_FALSE(has("bad"));
    ASSERT_FMRT_OK(put("bad", nullptr, 0));
    EXPECT_STATUS(put("bad", nullptr, 8, 0, "", FMRT_PUT_REPLACE), FMRT_EINVAL);
    fmrt_entry e;
    ASSERT_FMRT_OK(get("bad", &e));
    EXPECT_EQ(e.size, 0u);
}

// ---- which allocations may be named ---------------------------------------------

TEST_F(Catalog, SizeUpToTheUsableSizeIsAccepted) {
    void *p = alloc_pattern(100, 1);
    const size_t usable = fmrt_usable_size(rt_, p);
    ASSERT_GE(usable, 100u);
    EXPECT_FMRT_OK(put("exact", p, usable));
    EXPECT_FMRT_OK(put("zero", p, 0));
    fmrt_entry e;
    ASSERT_FMRT_OK(get("exact", &e));
    EXPECT_EQ(e.size, usable);
}

TEST_F(Catalog, SizeLargerThanTheUsableSizeFailsWithEinval) {
    for (size_t size : {size_t{100}, size_t{200 * KiB}}) {
        SCOPED_TRACE(size);
        void *p = alloc_pattern(size, 1);
        const size_t usable = fmrt_usable_size(rt_, p);
        EXPECT_STATUS(put("too-big", p, usable + 1), FMRT_EINVAL);
        EXPECT_STATUS(put("too-big", p, UINT64_MAX), FMRT_EINVAL);
        EXPECT_FALSE(has("too-big"));
        // Nor may a replace grow an entry past it.
        ASSERT_FMRT_OK(put("fits", p, usable));
        EXPECT_STATUS(put("fits", p, usable + 1, 0, "", FMRT_PUT_REPLACE), FMRT_EINVAL);
        fmrt_entry e;
        ASSERT_FMRT_OK(get("fits", &e));
        EXPECT_EQ(e.size, usable);
        ASSERT_FMRT_OK(fmrt_catalog_remove(rt_, "fits", FMRT_REMOVE_FREE));
    }
}

TEST_F(Catalog, PointersThatAreNotLiveAllocationsFailWithEinval) {
    int on_stack = 0;
    std::vector<char> on_libc_heap(64);
    void *freed = fmrt_malloc(rt_, 64);
    ASSERT_NE(freed, nullptr);
    ASSERT_FMRT_OK(fmrt_free(rt_, freed));
    void *freed_large = fmrt_malloc(rt_, 1 * MiB);
    ASSERT_NE(freed_large, nullptr);
    ASSERT_FMRT_OK(fmrt_free(rt_, freed_large));
    char *small = static_cast<char *>(alloc_pattern(256, 1));
    char *large = static_cast<char *>(alloc_pattern(256 * KiB, 2));
    void *superblock = at(16);

    TempDir other_dir;
    fmrt_runtime *other = nullptr;
    fmrt_options o = make_options();
    ASSERT_FMRT_OK(fmrt_runtime_open(&other, other_dir.file("other.fmrt").c_str(), &o));
    void *foreign_heap = fmrt_malloc(other, 64);
    ASSERT_NE(foreign_heap, nullptr);

    const std::vector<std::pair<const char *, void *>> cases = {
        {"stack", &on_stack},
        {"libc heap", on_libc_heap.data()},
        {"freed small", freed},
        {"freed large", freed_large},
        {"interior of small", small + 16},
        {"interior of large", large + 4096},
        {"superblock", superblock},
        {"another runtime's allocation", foreign_heap},
    };
    for (const auto &c : cases) {
        EXPECT_STATUS(put("bad", c.second, 0), FMRT_EINVAL) << c.first;
        EXPECT_STATUS(put("good", small, 0), FMRT_OK);
        EXPECT_STATUS(put("good", c.second, 0, 0, "", FMRT_PUT_REPLACE), FMRT_EINVAL) << c.first << " (replace)";
        fmrt_entry e;
        ASSERT_FMRT_OK(get("good", &e));
        EXPECT_EQ(e.ptr, small) << c.first;
        ASSERT_FMRT_OK(fmrt_catalog_remove(rt_, "good", 0));
    }
    EXPECT_EQ(count_of(rt_), 0u);
    EXPECT_FMRT_OK(fmrt_runtime_close(other));
}

TEST_F(Catalog, OneAllocationMayHaveSeveralNames) {
    void *p = alloc_pattern(64, 1);
    ASSERT_FMRT_OK(put("first", p, 64));
    ASSERT_FMRT_OK(put("second", p, 32, 1));
    fmrt_entry a, b;
    ASSERT_FMRT_OK(get("first", &a));
    ASSERT_FMRT_OK(get("second", &b));
    EXPECT_EQ(a.ptr, p);
    EXPECT_EQ(b.ptr, p);
    ASSERT_FMRT_OK(fmrt_catalog_remove(rt_, "first", 0));
    EXPECT_TRUE(live(p));
    fmrt_report r = verify_of(rt_);
    EXPECT_EQ(r.problems, 0u) << describe(r);
    EXPECT_EQ(r.unreachable_allocations, 0u) << describe(r);
}

TEST_F(Catalog, NamedAlignedAndZeroedAllocationsKeepTheirOffsets) {
    void *aligned = fmrt_aligned_alloc(rt_, 2 * MiB, 100);
    ASSERT_NE(aligned, nullptr);
    void *zeroed = fmrt_calloc(rt_, 10, 10);
    ASSERT_NE(zeroed, nullptr);
    ASSERT_FMRT_OK(put("aligned", aligned, 100));
    ASSERT_FMRT_OK(put("zeroed", zeroed, 100));
    const uint64_t aligned_off = offset(aligned), zeroed_off = offset(zeroed);
    reopen();
    fmrt_entry e;
    ASSERT_FMRT_OK(get("aligned", &e));
    EXPECT_EQ(e.offset, aligned_off);
    ASSERT_FMRT_OK(get("zeroed", &e));
    EXPECT_EQ(e.offset, zeroed_off);
    EXPECT_TRUE(IsZero(e.ptr, 100));
}


// ---- out of space ---------------------------------------------------------------

class CatalogOutOfSpace : public HeapTest {
protected:
    void SetUp() override {
        path_ = dir_.file("small.fmrt");
        fmrt_options o = make_options(1 * MiB, 4 * MiB);
        ASSERT_FMRT_OK(fmrt_runtime_open(&rt_, path_.c_str(), &o));
    }
};

TEST_F(CatalogOutOfSpace, PutsThatDoNotFitFailWithEnomemAndChangeNothing) {
    // Fill the catalog with 4 KiB metadata blobs until a put no longer fits.
    const std::string meta(4 * KiB, 'm');
    int rc = FMRT_OK;
    uint64_t stored = 0;
    for (; stored < 10000; ++stored) {
        rc = put("k" + std::to_string(stored), nullptr, 0, 0, meta);
        if (rc != FMRT_OK) break;
    }
    EXPECT_STATUS(rc, FMRT_ENOMEM) << "after " << stored << " entries";
    ASSERT_GT(stored, 10u);
    EXPECT_FALSE(has("k" + std::to_string(stored)));
    EXPECT_EQ(count_of(rt_), stored);
    // A replace and a rename that need a new record fail the same way and
    // leave both names as they were.
    EXPECT_STATUS(put("k0", nullptr, 0, 1, std::string(1 * MiB, 'M'), FMRT_PUT_REPLACE), FMRT_ENOMEM);
    fmrt_entry e;
    ASSERT_FMRT_OK(get("k0", &e));
    EXPECT_EQ(e.type, 0u);
    EXPECT_EQ(e.meta_len, meta.size());
    const std::string long_name(3000, 'r');
    rc = fmrt_catalog_rename(rt_, "k1", long_name.c_str(), 0);
    if (rc == FMRT_OK) {  // the smaller record fit after all: undo
        ASSERT_FMRT_OK(fmrt_catalog_rename(rt_, long_name.c_str(), "k1", 0));
    } else {
        EXPECT_STATUS(rc, FMRT_ENOMEM);
        EXPECT_TRUE(has("k1"));
        EXPECT_FALSE(has(long_name));
    }
    fmrt_report r = verify_of(rt_);
    EXPECT_EQ(r.problems, 0u) << describe(r);
    EXPECT_EQ(r.catalog_entries, stored);
    EXPECT_EQ(r.transient_allocations, 0u) << "a failed put leaves no half-made record";
    // Removing makes room again.
    for (uint64_t i = 0; i < 5; ++i) ASSERT_FMRT_OK(fmrt_catalog_remove(rt_, ("k" + std::to_string(i)).c_str(), 0));
    EXPECT_FMRT_OK(put("after-room", nullptr, 0, 0, meta));
    reopen();
    EXPECT_EQ(count_of(rt_), stored - 5 + 1);
    ASSERT_FMRT_OK(get("k" + std::to_string(stored - 1), &e));
    EXPECT_EQ(meta_of(e), meta);
}

}  // namespace
}  // namespace fmrt_catalog_test
