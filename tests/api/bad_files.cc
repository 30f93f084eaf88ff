// Files that are not (good) heaps: empty, random, truncated, damaged or from
// another format version.  Each is refused with FMRT_EFORMAT or
// FMRT_EVERSION, read-write, read-only and with CREATE alike, and left byte
// for byte as it was.  Damage to one of the two superblock copies is
// survived.
//
// The superblock layout used here (two 4 KiB copies, at 0 and 4096):
//   0 magic[8] "FMRTHEAP"   8 u32 format_major   12 u32 format_minor
//  16 u32 byte_order 0x01020304   20 u32 page_size   24 u64 generation
//  32 u64 heap_start   40 u64 heap_end   48 u64 max_size   56 u64 flags
//  64 u8 uuid[16]   80 u64 created_unix_ns   88 u64 catalog_root
// 248 u64 checksum = XXH3_64bits(bytes 0..247 of that copy)
#include "test_util.h"

#include <algorithm>
#include <chrono>

// Header-only use of xxHash, to forge copies with valid checksums.
#define XXH_INLINE_ALL
#include <xxhash.h>

using namespace fmrt_test;

namespace {

constexpr size_t kCopyAt[2] = {0, 4096};
constexpr size_t kMagic = 0, kMajor = 8, kByteOrder = 16, kPageSize = 20, kGeneration = 24, kHeapStart = 32,
                 kHeapEnd = 40, kMaxSize = 48, kUuid = 64, kCreated = 80, kCatalogRoot = 88, kChecksum = 248;

uint32_t get32(const std::string &b, size_t off) {
    uint32_t v;
    std::memcpy(&v, b.data() + off, 4);
    return v;
}
uint64_t get64(const std::string &b, size_t off) {
    uint64_t v;
    std::memcpy(&v, b.data() + off, 8);
    return v;
}
void put32(std::string &b, size_t off, uint32_t v) { std::memcpy(&b[off], &v, 4); }
void put64(std::string &b, size_t off, uint64_t v) { std::memcpy(&b[off], &v, 8); }

uint64_t checksum_of(const std::string &b, int copy) { return XXH3_64bits(b.data() + kCopyAt[copy], kChecksum); }
// Gives copy `copy` a checksum that matches its (changed) bytes.
void reseal(std::string &b, int copy) { put64(b, kCopyAt[copy] + kChecksum, checksum_of(b, copy)); }

struct Block {
    uint64_t off;
    size_t size;
    uint64_t seed;
};

class BadFile : public ::testing::Test {
protected:
    void SetUp() override {
        std::string valid = dir_.file("valid");
        fmrt_runtime *rt = nullptr;
        fmrt_options o = make_options(0, 64 * MiB);
        opened_after_ = now_ns();
        ASSERT_FMRT_OK(fmrt_runtime_open(&rt, valid.c_str(), &o));
        opened_before_ = now_ns();
        for (int i = 0; i < 100; ++i) {
            size_t size = i == 50 ? 200 * KiB : 10 + 37 * i;
            void *p = fmrt_malloc(rt, size);
            ASSERT_NE(p, nullptr);
            fill_pattern(p, size, i);
            blocks_.push_back({fmrt_ptr_to_offset(rt, p), size, uint64_t(i)});
        }
        ASSERT_FMRT_OK(fmrt_runtime_close(rt));
        valid_ = read_file(valid);
        ASSERT_GE(valid_.size(), 8192u);
    }

    static uint64_t now_ns() {
        return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                         std::chrono::system_clock::now().time_since_epoch())
                                         .count());
    }

    // Writes `bytes` to a new file in the test directory; returns its path.
    std::string make(const std::string &name, const std::string &bytes) {
        std::string path = dir_.file(name);
        write_file(path, bytes);
        return path;
    }

    // Every kind of open is refused with one of `codes`; the file and the
    // directory are left exactly as they were.
    void expect_refused(const std::string &path, std::vector<int> codes) {
        FileSnapshot before = FileSnapshot::of(path);
        std::vector<std::string> entries = dir_.entries();
        std::sort(entries.begin(), entries.end());
        struct Mode {
            const char *name;
            unsigned flags;
        };
        for (Mode m : {Mode{"read-write+create", FMRT_OPEN_CREATE}, Mode{"read-write", 0u},
                       Mode{"read-only", FMRT_OPEN_READONLY}}) {
            fmrt_runtime *rt = reinterpret_cast<fmrt_runtime *>(0x1);
            fmrt_options o = make_options(0, 0, m.flags);
            int rc = fmrt_runtime_open(&rt, path.c_str(), &o);
            std::string names;
            for (int c : codes) names += status_name(c) + " ";
            EXPECT_NE(std::find(codes.begin(), codes.end(), rc), codes.end())
                << path << " " << m.name << ": got " << status_name(rc) << ", expected one of " << names
                << "(" << fmrt_error_message() << ")";
            EXPECT_EQ(rt, nullptr) << m.name;
            if (rc == FMRT_OK && rt != nullptr) fmrt_runtime_close(rt);
            EXPECT_STRNE(fmrt_error_message(), "") << m.name;
            EXPECT_TRUE(Unchanged(before, path)) << m.name;
        }
        std::vector<std::string> after = dir_.entries();
        std::sort(after.begin(), after.end());
        EXPECT_EQ(after, entries) << "files appeared or vanished in the directory";
    }

    // Opens read-only, then read-write, and finds every block.
    void expect_opens_with_data(const std::string &path) {
        for (unsigned flags : {unsigned(FMRT_OPEN_READONLY), 0u}) {
            fmrt_runtime *rt = nullptr;
            fmrt_options o = make_options(0, 0, flags);
            ASSERT_FMRT_OK(fmrt_runtime_open(&rt, path.c_str(), &o)) << path << " flags " << flags;
            for (const Block &b : blocks_) {
                const void *p = fmrt_offset_to_ptr(rt, b.off);
                EXPECT_GE(fmrt_usable_size(rt, p), b.size);
                ASSERT_TRUE(HasPattern(p, b.size, b.seed)) << path << " flags " << flags;
            }
            EXPECT_EQ(stats_of(rt).live_allocations, blocks_.size());
            ASSERT_FMRT_OK(fmrt_runtime_close(rt));
        }
    }

    TempDir dir_;
    std::string valid_;
    std::vector<Block> blocks_;
    uint64_t opened_after_ = 0, opened_before_ = 0;  // around the creating open
};

TEST_F(BadFile, FreshHeapHasTheDocumentedSuperblockLayout) {
    for (int c = 0; c < 2; ++c) {
        size_t at = kCopyAt[c];
        SCOPED_TRACE("copy " + std::to_string(c));
        EXPECT_EQ(valid_.substr(at + kMagic, 8), "FMRTHEAP");
        EXPECT_EQ(get32(valid_, at + kMajor), uint32_t(FMRT_FORMAT_VERSION));
        EXPECT_EQ(get32(valid_, at + kByteOrder), 0x01020304u);
        EXPECT_EQ(get32(valid_, at + kPageSize), 4096u);
        EXPECT_GE(get64(valid_, at + kHeapStart), 8192u);
        EXPECT_LT(get64(valid_, at + kHeapStart), get64(valid_, at + kHeapEnd));
        EXPECT_LE(get64(valid_, at + kHeapEnd), valid_.size());
        EXPECT_EQ(get64(valid_, at + kMaxSize), 64 * MiB);
        EXPECT_EQ(get64(valid_, at + kCatalogRoot), 0u);
        EXPECT_EQ(get64(valid_, at + kChecksum), checksum_of(valid_, c));
        EXPECT_GE(get64(valid_, at + kCreated), opened_after_);
        EXPECT_LE(get64(valid_, at + kCreated), opened_before_);
    }
    EXPECT_EQ(valid_.substr(kUuid, 16), valid_.substr(4096 + kUuid, 16));
    EXPECT_NE(valid_.substr(kUuid, 16), std::string(16, '\0'));
}

TEST_F(BadFile, ZeroLengthFileIsRefusedAndLeftUnchanged) {
    expect_refused(make("empty", ""), {FMRT_EFORMAT});
}

TEST_F(BadFile, RandomBytesAreRefusedAndLeftUnchanged) {
    Rng rng(99);
    for (size_t size : {size_t(100), size_t(4096), size_t(8192), size_t(MiB)}) {
        std::string bytes(size, '\0');
        for (char &c : bytes) c = static_cast<char>(rng.next());
        expect_refused(make("random" + std::to_string(size), bytes), {FMRT_EFORMAT});
    }
}

TEST_F(BadFile, OurMagicFollowedByGarbageIsRefusedAndLeftUnchanged) {
    Rng rng(5);
    std::string bytes(64 * KiB, '\0');
    for (char &c : bytes) c = static_cast<char>(rng.next());
    for (int c = 0; c < 2; ++c) {  // plausible first fields, garbage after
        std::memcpy(&bytes[kCopyAt[c]], "FMRTHEAP", 8);
        put32(bytes, kCopyAt[c] + kMajor, FMRT_FORMAT_VERSION);
        put32(bytes, kCopyAt[c] + kByteOrder, 0x01020304u);
    }
    expect_refused(make("garbage", bytes), {FMRT_EFORMAT});
}

TEST_F(BadFile, TruncatedHeapIsRefusedAndLeftUnchanged) {
    const size_t n = valid_.size();
    for (size_t size : {size_t(0), size_t(100), size_t(4096), size_t(4096 + 248), size_t(8192), size_t(8192 + 100),
                        n / 2, n - 4096, n - 1}) {
        SCOPED_TRACE("truncated to " + std::to_string(size) + " of " + std::to_string(n));
        expect_refused(make("truncated" + std::to_string(size), valid_.substr(0, size)), {FMRT_EFORMAT});
    }
}

TEST_F(BadFile, DamagedMagicInBothCopiesIsRefused) {
    std::string bytes = valid_;
    bytes[kCopyAt[0] + 3] = 'X';
    bytes[kCopyAt[1] + 3] = 'X';
    expect_refused(make("magic", bytes), {FMRT_EFORMAT});
    bytes = valid_;  // even with checksums that match
    std::memcpy(&bytes[kCopyAt[0]], "LMDBHEAP", 8);
    std::memcpy(&bytes[kCopyAt[1]], "LMDBHEAP", 8);
    reseal(bytes, 0);
    reseal(bytes, 1);
    expect_refused(make("magic-sealed", bytes), {FMRT_EFORMAT});
}

TEST_F(BadFile, OtherFormatVersionIsRefusedWithEVERSION) {
    for (uint32_t major : {uint32_t(FMRT_FORMAT_VERSION + 1), 0u, 0xFFFFFFFFu}) {
        for (bool sealed : {false, true}) {
            std::string bytes = valid_;
            for (int c = 0; c < 2; ++c) {
                put32(bytes, kCopyAt[c] + kMajor, major);
                if (sealed) reseal(bytes, c);
            }
            SCOPED_TRACE("major " + std::to_string(major) + (sealed ? ", checksum valid" : ", checksum stale"));
            expect_refused(make("major" + std::to_string(major) + (sealed ? "s" : ""), bytes), {FMRT_EVERSION});
        }
    }
}

TEST_F(BadFile, OtherByteOrderIsRefusedWithEVERSION) {
    for (bool sealed : {false, true}) {
        std::string bytes = valid_;
        for (int c = 0; c < 2; ++c) {
            put32(bytes, kCopyAt[c] + kByteOrder, 0x04030201u);
            if (sealed) reseal(bytes, c);
        }
        SCOPED_TRACE(sealed ? "checksum valid" : "checksum stale");
        expect_refused(make(sealed ? "order-sealed" : "order", bytes), {FMRT_EVERSION});
    }
}

TEST_F(BadFile, ChecksumMismatchInBothCopiesIsRefusedWithEFORMAT) {
    struct Damage {
        const char *name;
        size_t at;
    };
    for (Damage d : {Damage{"uuid", kUuid + 5}, Damage{"generation", kGeneration}, Damage{"heap_end", kHeapEnd + 1},
                     Damage{"reserved", 200}, Damage{"checksum", kChecksum + 2}}) {
        std::string bytes = valid_;
        bytes[kCopyAt[0] + d.at] ^= 0x10;
        bytes[kCopyAt[1] + d.at] ^= 0x10;
        SCOPED_TRACE(d.name);
        expect_refused(make(std::string("sum-") + d.name, bytes), {FMRT_EFORMAT});
    }
}

TEST_F(BadFile, ImpossibleGeometryWithValidChecksumsIsRefused) {
    const uint64_t size = valid_.size();
    struct Case {
        const char *name;
        size_t field;
        uint64_t value;
    };
    for (Case k : {Case{"heap_end past the file", kHeapEnd, size + MiB}, Case{"heap_start 0", kHeapStart, 0},
                   Case{"heap_start past heap_end", kHeapStart, size + 4096},
                   Case{"heap_end before heap_start", kHeapEnd, 4096}}) {
        std::string bytes = valid_;
        for (int c = 0; c < 2; ++c) {
            put64(bytes, kCopyAt[c] + k.field, k.value);
            reseal(bytes, c);
        }
        SCOPED_TRACE(k.name);
        expect_refused(make(std::string("geometry-") + std::to_string(k.field) + "-" + std::to_string(k.value), bytes),
                       {FMRT_EFORMAT});
    }
}

TEST_F(BadFile, DamageToOneSuperblockCopyIsSurvived) {
    struct Damage {
        const char *name;
        std::function<void(std::string &, size_t)> apply;
    };
    const Damage damages[] = {
        {"flipped uuid byte", [](std::string &b, size_t at) { b[at + kUuid] ^= 1; }},
        {"flipped checksum", [](std::string &b, size_t at) { b[at + kChecksum + 7] ^= 0x80; }},
        {"broken magic", [](std::string &b, size_t at) { b[at] = 'X'; }},
        {"zeroed page", [](std::string &b, size_t at) { std::fill(b.begin() + at, b.begin() + at + 4096, '\0'); }},
    };
    for (int c = 0; c < 2; ++c) {
        for (const Damage &d : damages) {
            SCOPED_TRACE(std::string(d.name) + " in copy " + std::to_string(c));
            std::string bytes = valid_;
            d.apply(bytes, kCopyAt[c]);
            ASSERT_NO_FATAL_FAILURE(expect_opens_with_data(make("one-" + std::to_string(c) + d.name, bytes)));
        }
    }
}

TEST_F(BadFile, CopyWithTheHigherGenerationWins) {
    // Which copy wins is visible through max_size (stats.reserved_bytes
    // when opened with max_size 0).  Forge the losing copy with another
    // max_size, once with a higher generation (it must win) and once with a
    // lower one (it must not).
    int newer = get64(valid_, kCopyAt[0] + kGeneration) > get64(valid_, kCopyAt[1] + kGeneration) ? 0 : 1;
    int older = 1 - newer;
    uint64_t newest_gen = get64(valid_, kCopyAt[newer] + kGeneration);
    for (bool promote : {true, false}) {
        std::string bytes = valid_;
        put64(bytes, kCopyAt[older] + kMaxSize, 128 * MiB);
        uint64_t older_gen = get64(bytes, kCopyAt[older] + kGeneration);
        put64(bytes, kCopyAt[older] + kGeneration,
              promote ? newest_gen + 1 : std::min(older_gen, newest_gen - 1));
        reseal(bytes, older);
        std::string path = make(promote ? "promoted" : "demoted", bytes);
        fmrt_runtime *rt = nullptr;
        fmrt_options o = make_options(0, 0, 0);
        ASSERT_FMRT_OK(fmrt_runtime_open(&rt, path.c_str(), &o));
        EXPECT_EQ(stats_of(rt).reserved_bytes, promote ? 128 * MiB : 64 * MiB)
            << (promote ? "the copy with the higher generation was ignored" : "the older copy won");
        for (const Block &b : blocks_) ASSERT_TRUE(HasPattern(fmrt_offset_to_ptr(rt, b.off), b.size, b.seed));
        ASSERT_FMRT_OK(fmrt_runtime_close(rt));
    }
}

TEST_F(BadFile, DirectoryAsThePathIsRefusedWithoutCrashing) {
    std::string d = dir_.file("adir");
    ASSERT_EQ(mkdir(d.c_str(), 0755), 0);
    for (unsigned flags : {unsigned(FMRT_OPEN_CREATE), 0u, unsigned(FMRT_OPEN_READONLY)}) {
        fmrt_runtime *rt = reinterpret_cast<fmrt_runtime *>(0x1);
        fmrt_options o = make_options(0, 0, flags);
        int rc = fmrt_runtime_open(&rt, d.c_str(), &o);
        EXPECT_TRUE(rc == FMRT_EINVAL || rc == FMRT_EIO) << "flags " << flags << ": " << status_name(rc);
        EXPECT_EQ(rt, nullptr);
        EXPECT_STRNE(fmrt_error_message(), "");
    }
    struct stat st;
    ASSERT_EQ(stat(d.c_str(), &st), 0);
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    EXPECT_TRUE(TempDir::list_directory(d).empty());
}

}  // namespace
