// Iteration over the catalog with fmrt_catalog_next: byte-wise name order,
// the start and the end, and changes made while iterating.
#include <set>

#include "catalog_util.h"

namespace fmrt_catalog_test {
namespace {

class CatalogIteration : public HeapTest {};

TEST_F(CatalogIteration, NextOnAnEmptyCatalogReturnsEnotfound) {
    fmrt_entry e = FMRT_ENTRY_INIT;
    EXPECT_STATUS(fmrt_catalog_next(&e, rt_, nullptr), FMRT_ENOTFOUND);
    EXPECT_STATUS(fmrt_catalog_next(&e, rt_, "a"), FMRT_ENOTFOUND);
}

TEST_F(CatalogIteration, NextIteratesInBytewiseNameOrder) {
    // Upper case before lower case, a prefix before its extensions, and
    // multi-byte UTF-8 (lead bytes >= 0xC2) after all of ASCII.
    std::vector<std::string> names = {"b", "a", "ab", "aa", "B", "A", "0", "~", " space", "a b",
                                      "\xC3\xA9t\xC3\xA9", "\xE6\x97\xA5\xE6\x9C\xAC", "\xF0\x9F\x98\x80",
                                      "z\xC3\xA9", "z", "zz", "\x01" "control", "\x7F"};
    for (size_t i = 0; i < names.size(); ++i) ASSERT_FMRT_OK(put(names[i], nullptr, 0, static_cast<uint32_t>(i)));
    std::vector<std::string> expected = names;
    std::sort(expected.begin(), expected.end(), bytewise_less);
    EXPECT_EQ(names_in_order(rt_), expected);

    // Each entry carries its own fields, not its neighbour's.
    fmrt_entry e = FMRT_ENTRY_INIT;
    ASSERT_FMRT_OK(fmrt_catalog_next(&e, rt_, nullptr));
    EXPECT_EQ(name_of(e), expected.front());
    const size_t index = static_cast<size_t>(std::find(names.begin(), names.end(), expected.front()) - names.begin());
    EXPECT_EQ(e.type, index);
}

TEST_F(CatalogIteration, NextAfterANameNotInTheCatalogReturnsTheNextOneInOrder) {
    for (const char *n : {"apple", "banana", "cherry"}) ASSERT_FMRT_OK(put(n, nullptr, 0));
    fmrt_entry e = FMRT_ENTRY_INIT;
    ASSERT_FMRT_OK(fmrt_catalog_next(&e, rt_, "b"));
    EXPECT_EQ(name_of(e), "banana");
    ASSERT_FMRT_OK(fmrt_catalog_next(&e, rt_, "apple"));
    EXPECT_EQ(name_of(e), "banana") << "strictly after";
    ASSERT_FMRT_OK(fmrt_catalog_next(&e, rt_, "ba"));
    EXPECT_EQ(name_of(e), "banana");
    ASSERT_FMRT_OK(fmrt_catalog_next(&e, rt_, "bananas"));
    EXPECT_EQ(name_of(e), "cherry");
    ASSERT_FMRT_OK(fmrt_catalog_next(&e, rt_, "\x01"));
    EXPECT_EQ(name_of(e), "apple");
    EXPECT_STATUS(fmrt_catalog_next(&e, rt_, "cherry"), FMRT_ENOTFOUND);
    EXPECT_STATUS(fmrt_catalog_next(&e, rt_, "\xF4\x8F\xBF\xBF"), FMRT_ENOTFOUND);
}

TEST_F(CatalogIteration, NextReturnsEveryFieldOfTheEntry) {
    void *p = alloc_pattern(40, 3);
    ASSERT_FMRT_OK(put("only", p, 33, 12, "mm"));
    fmrt_entry e = FMRT_ENTRY_INIT;
    ASSERT_FMRT_OK(fmrt_catalog_next(&e, rt_, nullptr));
    fmrt_entry g;
    ASSERT_FMRT_OK(get("only", &g));
    EXPECT_EQ(name_of(e), "only");
    EXPECT_EQ(e.ptr, p);
    EXPECT_EQ(e.offset, offset(p));
    EXPECT_EQ(e.size, 33u);
    EXPECT_EQ(e.type, 12u);
    EXPECT_EQ(meta_of(e), "mm");
    EXPECT_EQ(e.created_unix_ns, g.created_unix_ns);
}

TEST_F(CatalogIteration, NextSeesEntriesAddedAheadOfTheCursorAndNotThoseRemoved) {
    // Initial names k000, k010, ..., k990; the cursor walks them while the
    // loop adds names ahead of and behind it and removes names ahead of it.
    std::set<std::string> initial;
    for (int i = 0; i < 1000; i += 10) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "k%03d", i);
        initial.insert(buf);
        ASSERT_FMRT_OK(put(buf, nullptr, 0));
    }
    std::set<std::string> added_ahead, added_behind, removed_ahead;
    std::vector<std::string> seen;
    fmrt_entry e = FMRT_ENTRY_INIT;
    int rc = fmrt_catalog_next(&e, rt_, nullptr);
    int step = 0;
    while (rc == FMRT_OK) {
        std::string cur = name_of(e);
        seen.push_back(cur);
        const int k = std::atoi(cur.c_str() + 1);
        if (step % 3 == 0 && k + 5 < 1000) {  // ahead: k+5 sorts after the cursor
            char buf[16];
            std::snprintf(buf, sizeof buf, "k%03d", k + 5);
            if (!has(buf) && !removed_ahead.count(buf)) {
                ASSERT_FMRT_OK(put(buf, nullptr, 0));
                added_ahead.insert(buf);
            }
        }
        if (step % 4 == 1 && k >= 5) {  // behind
            char buf[16];
            std::snprintf(buf, sizeof buf, "k%03d", k - 5);
            if (!has(buf)) {
                ASSERT_FMRT_OK(put(buf, nullptr, 0));
                added_behind.insert(buf);
            }
        }
        if (step % 5 == 2 && k + 20 < 1000) {  // remove an initial name ahead
            char buf[16];
            std::snprintf(buf, sizeof buf, "k%03d", k + 20);
            if (fmrt_catalog_remove(rt_, buf, 0) == FMRT_OK) removed_ahead.insert(buf);
        }
        ++step;
        rc = fmrt_catalog_next(&e, rt_, cur.c_str());
    }
    EXPECT_STATUS(rc, FMRT_ENOTFOUND);
    ASSERT_FALSE(added_ahead.empty());
    ASSERT_FALSE(added_behind.empty());
    ASSERT_FALSE(removed_ahead.empty());

    std::set<std::string> seen_set(seen.begin(), seen.end());
    EXPECT_EQ(seen_set.size(), seen.size()) << "no entry is returned twice";
    EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end(), bytewise_less));
    for (const auto &n : added_ahead) {
        if (!removed_ahead.count(n)) {
            EXPECT_TRUE(seen_set.count(n)) << n << " was added ahead of the cursor";
        }
    }
    for (const auto &n : added_behind) EXPECT_FALSE(seen_set.count(n)) << n << " was added behind the cursor";
    for (const auto &n : removed_ahead) EXPECT_FALSE(seen_set.count(n)) << n << " was removed before the cursor came";
    for (const auto &n : initial) {
        if (!removed_ahead.count(n)) {
            EXPECT_TRUE(seen_set.count(n)) << n << " was there all along";
        }
    }
}

TEST_F(CatalogIteration, RemovingTheCurrentEntryDoesNotStopIteration) {
    for (const char *n : {"a", "b", "c", "d", "e"}) ASSERT_FMRT_OK(put(n, nullptr, 0));
    std::vector<std::string> seen;
    fmrt_entry e = FMRT_ENTRY_INIT;
    int rc = fmrt_catalog_next(&e, rt_, nullptr);
    while (rc == FMRT_OK) {
        std::string cur = name_of(e);
        seen.push_back(cur);
        ASSERT_FMRT_OK(fmrt_catalog_remove(rt_, cur.c_str(), 0));  // invalidates e.name
        rc = fmrt_catalog_next(&e, rt_, cur.c_str());
    }
    EXPECT_STATUS(rc, FMRT_ENOTFOUND);
    EXPECT_EQ(seen, (std::vector<std::string>{"a", "b", "c", "d", "e"}));
    EXPECT_EQ(count_of(rt_), 0u);
}

TEST_F(CatalogIteration, RenamingTheCurrentEntryAheadIsSeenOnceMore) {
    // A rename is a new name: renaming the current entry to a name ahead of
    // the cursor makes it appear there (it is a different name now).
    for (const char *n : {"a", "c"}) ASSERT_FMRT_OK(put(n, nullptr, 0));
    fmrt_entry e = FMRT_ENTRY_INIT;
    ASSERT_FMRT_OK(fmrt_catalog_next(&e, rt_, nullptr));
    ASSERT_EQ(name_of(e), "a");
    ASSERT_FMRT_OK(fmrt_catalog_rename(rt_, "a", "b", 0));
    ASSERT_FMRT_OK(fmrt_catalog_next(&e, rt_, "a"));
    EXPECT_EQ(name_of(e), "b");
    ASSERT_FMRT_OK(fmrt_catalog_next(&e, rt_, "b"));
    EXPECT_EQ(name_of(e), "c");
    EXPECT_STATUS(fmrt_catalog_next(&e, rt_, "c"), FMRT_ENOTFOUND);
}

TEST_F(CatalogIteration, OrderSurvivesReopen) {
    Rng rng(test_seed(11));
    std::vector<std::string> names;
    for (int i = 0; i < 2000; ++i) {
        std::string n;
        const size_t len = rng.between(1, 12);
        for (size_t k = 0; k < len; ++k) n += static_cast<char>(rng.between(0x21, 0x7E));
        if (put(n, nullptr, 0) == FMRT_OK) names.push_back(n);
    }
    std::sort(names.begin(), names.end(), bytewise_less);
    EXPECT_EQ(names_in_order(rt_), names);
    reopen();
    EXPECT_EQ(names_in_order(rt_), names);
}

}  // namespace
}  // namespace fmrt_catalog_test
