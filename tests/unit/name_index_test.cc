// Unit tests of name_index.{h,cc}: the catalog's RAM index (a hash table
// and a B+ tree of names), checked against std::map as a model over random
// inserts, erases and ordered walks, with the structure's own invariant
// check after every step of the small runs.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "name_index.h"

namespace {

using fmrt::NameIndex;

// The index's order, by walking it with upper_bound (as fmrt_catalog_next does).
std::vector<std::string> walk(const NameIndex &ix) {
    std::vector<std::string> out;
    for (const NameIndex::Entry *e = ix.first(); e != nullptr; e = ix.upper_bound(e->view())) {
        out.emplace_back(e->view());
    }
    return out;
}

std::vector<std::string> keys(const std::map<std::string, uint64_t> &m) {
    std::vector<std::string> out;
    for (const auto &kv : m) out.push_back(kv.first);
    return out;
}

// Names that share long prefixes (the 8-byte prefix ties), short ones, ones
// with bytes above 0x7F, and ones that are prefixes of others.
std::string random_name(std::mt19937_64 &rng) {
    static const char *stems[] = {"", "a", "ab", "abcdefgh", "abcdefghi", ".anon/", "churn/0000", "\xc3\xa9t\xc3\xa9"};
    std::string s = stems[rng() % 8];
    const int extra = static_cast<int>(rng() % 6);
    for (int i = 0; i < extra; ++i) s += static_cast<char>("az09/\x7f\xc3\xa9"[rng() % 8]);
    if (s.empty()) s = "x";
    return s;
}

TEST(NameIndex, EmptyIndexFindsNothing) {
    NameIndex ix;
    EXPECT_EQ(ix.size(), 0u);
    EXPECT_EQ(ix.first(), nullptr);
    EXPECT_EQ(ix.find("a"), nullptr);
    EXPECT_EQ(ix.upper_bound("a"), nullptr);
    EXPECT_TRUE(ix.check());
}

TEST(NameIndex, InsertFindEraseOne) {
    NameIndex ix;
    NameIndex::Entry *e = ix.insert("name", 4096, 3);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->view(), "name");
    EXPECT_EQ(e->record, 4096u);
    EXPECT_EQ(e->slot, 3u);
    EXPECT_EQ(ix.find("name"), e);
    EXPECT_EQ(ix.find("nam"), nullptr);
    EXPECT_EQ(ix.find("name2"), nullptr);
    EXPECT_EQ(ix.first(), e);
    EXPECT_EQ(ix.upper_bound("nam"), e);
    EXPECT_EQ(ix.upper_bound("name"), nullptr);
    EXPECT_TRUE(ix.check());
    ix.erase(e);
    EXPECT_EQ(ix.size(), 0u);
    EXPECT_EQ(ix.find("name"), nullptr);
    EXPECT_TRUE(ix.check());
}

TEST(NameIndex, OrderIsByteOrderAsStdString) {
    // Bytes compare unsigned, and a name sorts before its extensions.
    NameIndex ix;
    std::map<std::string, uint64_t> model;
    for (const char *n : {"b", "a", "ab", "abcdefgh", "abcdefgh\x01", "abcdefga", "\xff", "\x7f", "A", "abcdefgi"}) {
        ix.insert(n, 0, 0);
        model[n] = 0;
    }
    EXPECT_EQ(walk(ix), keys(model));
    EXPECT_TRUE(ix.check());
}

TEST(NameIndex, SequentialInsertsAndErasesKeepTheTreeValid) {
    // Ascending and descending runs split the rightmost and leftmost nodes
    // over and over, then erasing everything empties leaves from both ends.
    NameIndex ix;
    std::map<std::string, uint64_t> model;
    char buf[32];
    for (int i = 0; i < 5000; ++i) {
        std::snprintf(buf, sizeof buf, "k%06d", i);
        ix.insert(buf, static_cast<uint64_t>(i), 0);
        model[buf] = static_cast<uint64_t>(i);
        std::snprintf(buf, sizeof buf, "j%06d", 5000 - i);
        ix.insert(buf, static_cast<uint64_t>(i), 0);
        model[buf] = static_cast<uint64_t>(i);
    }
    ASSERT_TRUE(ix.check());
    EXPECT_EQ(walk(ix), keys(model));
    int step = 0;
    for (auto it = model.begin(); it != model.end();) {
        NameIndex::Entry *e = ix.find(it->first);
        ASSERT_NE(e, nullptr) << it->first;
        ix.erase(e);
        it = model.erase(it);
        if (++step % 97 == 0) {
            ASSERT_TRUE(ix.check()) << step;
        }
    }
    EXPECT_EQ(ix.size(), 0u);
    EXPECT_EQ(ix.first(), nullptr);
    EXPECT_TRUE(ix.check());
    // Usable again after it emptied.
    ix.insert("again", 1, 1);
    EXPECT_EQ(walk(ix), std::vector<std::string>{"again"});
}

class NameIndexModel : public ::testing::TestWithParam<int> {};

TEST_P(NameIndexModel, RandomOperationsMatchStdMap) {
    std::mt19937_64 rng(static_cast<uint64_t>(GetParam()) * 7919);
    NameIndex ix;
    std::map<std::string, uint64_t> model;
    const int ops = 30000;
    for (int op = 0; op < ops; ++op) {
        const std::string name = random_name(rng);
        const unsigned r = static_cast<unsigned>(rng() % 100);
        NameIndex::Entry *e = ix.find(name);
        ASSERT_EQ(e != nullptr, model.count(name) != 0) << name;
        if (r < 55) {
            if (e == nullptr) {
                ix.insert(name, static_cast<uint64_t>(op), static_cast<uint64_t>(op) * 2);
                model[name] = static_cast<uint64_t>(op);
            } else {
                EXPECT_EQ(e->record, model[name]);
            }
        } else if (r < 90) {
            if (e != nullptr) {
                ix.erase(e);
                model.erase(name);
            }
        } else {
            // upper_bound of any name, present or not.
            const NameIndex::Entry *u = ix.upper_bound(name);
            auto m = model.upper_bound(name);
            if (m == model.end()) {
                EXPECT_EQ(u, nullptr) << name;
            } else {
                ASSERT_NE(u, nullptr) << name;
                EXPECT_EQ(u->view(), m->first);
            }
        }
        ASSERT_EQ(ix.size(), model.size());
        if (op % 500 == 0) {
            ASSERT_TRUE(ix.check()) << "after op " << op;
        }
    }
    ASSERT_TRUE(ix.check());
    EXPECT_EQ(walk(ix), keys(model));
    std::vector<std::string> visited;
    ix.for_each([&](const NameIndex::Entry *e) { visited.emplace_back(e->view()); });
    EXPECT_EQ(visited, keys(model));
    ix.clear();
    EXPECT_EQ(ix.size(), 0u);
    EXPECT_TRUE(ix.check());
}

INSTANTIATE_TEST_SUITE_P(Seeds, NameIndexModel, ::testing::Values(1, 2, 3, 4));

TEST(NameIndex, ManyNamesHashAndTreeAgree) {
    // Enough names for a tree of several levels and a hash table that grew
    // many times; then every other one goes.
    NameIndex ix;
    char buf[48];
    const int n = 120000;
    for (int i = 0; i < n; ++i) {
        std::snprintf(buf, sizeof buf, "obj/%08x/%d", static_cast<unsigned>(i * 2654435761u), i);
        ix.insert(buf, static_cast<uint64_t>(i), 0);
    }
    ASSERT_EQ(ix.size(), static_cast<size_t>(n));
    ASSERT_TRUE(ix.check());
    for (int i = 0; i < n; i += 2) {
        std::snprintf(buf, sizeof buf, "obj/%08x/%d", static_cast<unsigned>(i * 2654435761u), i);
        NameIndex::Entry *e = ix.find(buf);
        ASSERT_NE(e, nullptr) << buf;
        EXPECT_EQ(e->record, static_cast<uint64_t>(i));
        ix.erase(e);
    }
    ASSERT_EQ(ix.size(), static_cast<size_t>(n / 2));
    ASSERT_TRUE(ix.check());
    for (int i = 1; i < n; i += 2) {
        std::snprintf(buf, sizeof buf, "obj/%08x/%d", static_cast<unsigned>(i * 2654435761u), i);
        ASSERT_NE(ix.find(buf), nullptr) << buf;
    }
}

}  // namespace
