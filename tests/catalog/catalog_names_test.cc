// Catalog names: 1 to FMRT_NAME_MAX bytes of UTF-8 without NUL.  What is
// accepted round-trips byte for byte; what is not is refused by every
// function that takes a name.
#include "catalog_util.h"

namespace fmrt_catalog_test {
namespace {

class CatalogNames : public HeapTest {
protected:
    // Every catalog function that takes `name` refuses it with EINVAL and
    // leaves the catalog as it was.
    void expect_refused(const std::string &name, const std::string &why) {
        SCOPED_TRACE(why);
        const uint64_t before = count_of(rt_);
        fmrt_entry e = FMRT_ENTRY_INIT;
        EXPECT_STATUS(put(name, nullptr, 0), FMRT_EINVAL) << "put";
        EXPECT_STATUS(put(name, nullptr, 0, 0, "", FMRT_PUT_REPLACE), FMRT_EINVAL) << "put replace";
        EXPECT_STATUS(fmrt_catalog_get(&e, rt_, name.c_str()), FMRT_EINVAL) << "get";
        EXPECT_STATUS(fmrt_catalog_remove(rt_, name.c_str(), 0), FMRT_EINVAL) << "remove";
        EXPECT_STATUS(fmrt_catalog_rename(rt_, "valid", name.c_str(), 0), FMRT_EINVAL) << "rename to";
        EXPECT_STATUS(fmrt_catalog_rename(rt_, name.c_str(), "other", 0), FMRT_EINVAL) << "rename from";
        EXPECT_EQ(count_of(rt_), before);
        EXPECT_TRUE(has("valid")) << "the rename source is still there";
    }

    void expect_round_trip(const std::string &name) {
        ASSERT_FMRT_OK(put(name, nullptr, 0, 5, "m")) << "name of " << name.size() << " bytes";
        fmrt_entry e;
        ASSERT_FMRT_OK(get(name, &e));
        EXPECT_EQ(e.name_len, name.size());
        EXPECT_EQ(name_of(e), name);
        EXPECT_EQ(e.name[e.name_len], '\0');
    }

    void SetUp() override {
        HeapTest::SetUp();
        ASSERT_FMRT_OK(put("valid", nullptr, 0));
    }
};

TEST_F(CatalogNames, EmptyNameIsRefused) { expect_refused("", "empty"); }

TEST_F(CatalogNames, OneByteNameIsAccepted) { expect_round_trip("x"); }

TEST_F(CatalogNames, NameOfFmrtNameMaxBytesIsAccepted) {
    const std::string ascii(FMRT_NAME_MAX, 'n');
    expect_round_trip(ascii);
    // The same length made of 4-byte sequences.
    std::string emoji;
    while (emoji.size() < FMRT_NAME_MAX) emoji += "\xF0\x9F\x98\x80";
    ASSERT_EQ(emoji.size(), size_t{FMRT_NAME_MAX});
    expect_round_trip(emoji);
    reopen();
    fmrt_entry e;
    ASSERT_FMRT_OK(get(ascii, &e));
    EXPECT_EQ(name_of(e), ascii);
    ASSERT_FMRT_OK(get(emoji, &e));
    EXPECT_EQ(name_of(e), emoji);
    ASSERT_FMRT_OK(fmrt_catalog_rename(rt_, ascii.c_str(), "short", 0));
    ASSERT_FMRT_OK(fmrt_catalog_rename(rt_, "short", ascii.c_str(), 0));
    EXPECT_TRUE(has(ascii));
}

TEST_F(CatalogNames, NameOfFmrtNameMaxPlusOneBytesIsRefused) {
    expect_refused(std::string(FMRT_NAME_MAX + 1, 'n'), "FMRT_NAME_MAX + 1 bytes");
    expect_refused(std::string(100000, 'n'), "100000 bytes");
}

TEST_F(CatalogNames, NameOf1024BytesWorks) {
    std::string name(1024, 'a');
    for (size_t i = 0; i < name.size(); ++i) name[i] = static_cast<char>('a' + i % 26);
    void *p = alloc_pattern(64, 9);
    ASSERT_FMRT_OK(put(name, p, 64, 1, "long"));
    reopen();
    fmrt_entry e;
    ASSERT_FMRT_OK(get(name, &e));
    EXPECT_EQ(name_of(e), name);
    EXPECT_TRUE(HasPattern(e.ptr, 64, 9));
    EXPECT_EQ(names_in_order(rt_), (std::vector<std::string>{name, "valid"}));
    ASSERT_FMRT_OK(fmrt_catalog_remove(rt_, name.c_str(), FMRT_REMOVE_FREE));
}

TEST_F(CatalogNames, InvalidUtf8IsRefused) {
    const std::vector<std::pair<std::string, std::string>> bad = {
        {"\xC0\xAF", "overlong 2-byte '/'"},
        {"\xC1\xBF", "overlong 2-byte (C1)"},
        {"\xE0\x80\xAF", "overlong 3-byte '/'"},
        {"\xE0\x9F\xBF", "overlong 3-byte U+07FF"},
        {"\xF0\x80\x80\xAF", "overlong 4-byte '/'"},
        {"\xF0\x8F\xBF\xBF", "overlong 4-byte U+FFFF"},
        {"\xED\xA0\x80", "high surrogate U+D800"},
        {"\xED\xBF\xBF", "low surrogate U+DFFF"},
        {"\xED\xA0\xBD\xED\xB8\x80", "surrogate pair (CESU-8)"},
        {"\xF4\x90\x80\x80", "above U+10FFFF"},
        {"\xF8\x88\x80\x80\x80", "5-byte sequence"},
        {"\xE6\x97", "truncated 3-byte sequence"},
        {"abc\xE6", "truncated at the end"},
        {"\xF0\x9F\x98", "truncated 4-byte sequence"},
        {"\xE6" "a\xA5", "lead byte followed by ASCII"},
        {"\x80", "lone continuation byte"},
        {"a\xBF" "b", "continuation byte in ASCII"},
        {"\xFF", "0xFF"},
        {"\xFE", "0xFE"},
        {"ok\xFF", "0xFF at the end"},
    };
    for (const auto &c : bad) expect_refused(c.first, c.second);
    EXPECT_EQ(count_of(rt_), 1u);
}

TEST_F(CatalogNames, ValidMultibyteUtf8IsAcceptedAndRoundTrips) {
    const std::vector<std::string> good = {
        "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE5\x90\x8D\xE5\x89\x8D",  // 日本語の名前
        "\xF0\x9F\x98\x80 emoji \xF0\x9F\x8E\x89",                                      // 😀 emoji 🎉
        "caf\xC3\xA9",                                                                // café
        "\xC2\x80",                                                                   // U+0080, the first 2-byte
        "\xDF\xBF",                                                                   // U+07FF
        "\xE0\xA0\x80",                                                               // U+0800
        "\xEF\xBF\xBD",                                                               // U+FFFD
        "\xEF\xBF\xBF",                                                               // U+FFFF
        "\xF0\x90\x80\x80",                                                           // U+10000
        "\xF4\x8F\xBF\xBF",                                                           // U+10FFFF
        "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82",                           // Привет
        "tab\there/and\nnewline",                                                     // control chars are UTF-8
        "\x7F",
    };
    for (size_t i = 0; i < good.size(); ++i) {
        SCOPED_TRACE(i);
        void *p = alloc_pattern(16 + i, i);
        ASSERT_FMRT_OK(put(good[i], p, 16 + i, static_cast<uint32_t>(i)));
    }
    reopen();
    for (size_t i = 0; i < good.size(); ++i) {
        SCOPED_TRACE(i);
        fmrt_entry e;
        ASSERT_FMRT_OK(get(good[i], &e));
        EXPECT_EQ(name_of(e), good[i]);
        EXPECT_EQ(e.type, i);
        EXPECT_TRUE(HasPattern(e.ptr, 16 + i, i));
    }
    std::vector<std::string> expected = good;
    expected.push_back("valid");
    std::sort(expected.begin(), expected.end(), bytewise_less);
    EXPECT_EQ(names_in_order(rt_), expected);
    // Renames to and from multi-byte names.
    ASSERT_FMRT_OK(fmrt_catalog_rename(rt_, good[0].c_str(), "\xF0\x9F\x90\x8D", 0));
    EXPECT_TRUE(has("\xF0\x9F\x90\x8D"));
    EXPECT_FALSE(has(good[0]));
}

TEST_F(CatalogNames, NamesThatDifferInOneByteAreDistinct) {
    const std::vector<std::string> names = {"name", "Name", "name ", " name", "nam", "names",
                                            "n\xC3\xA4me", "name\x01"};
    for (size_t i = 0; i < names.size(); ++i) ASSERT_FMRT_OK(put(names[i], nullptr, 0, static_cast<uint32_t>(i)));
    for (size_t i = 0; i < names.size(); ++i) {
        fmrt_entry e;
        ASSERT_FMRT_OK(get(names[i], &e));
        EXPECT_EQ(e.type, i) << printable(names[i]);
    }
}

TEST_F(CatalogNames, AnEmbeddedNulEndsTheName) {
    // The C API takes NUL-terminated names: "ab\0cd" is the name "ab".
    ASSERT_FMRT_OK(fmrt_catalog_put(rt_, "ab\0cd", nullptr, 0, 1, nullptr, 0, 0));
    fmrt_entry e;
    ASSERT_FMRT_OK(get("ab", &e));
    EXPECT_EQ(e.name_len, 2u);
}

}  // namespace
}  // namespace fmrt_catalog_test
