// Unit tests of region.{h,cc}: creating and reopening a heap file, the two
// superblock copies and their generations, growth within the reservation,
// torn superblock writes, refused files, locks and fault injection during
// creation.
#include <gtest/gtest.h>

#include <dirent.h>
#include <sys/stat.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "format.h"
#include "platform.h"
#include "region.h"
#include "unit_util.h"

namespace {

using fmrt::kHeapStart;
using fmrt::kPageSize;
using fmrt::Region;
using fmrt::Superblock;
using fmrt_unit::KiB;
using fmrt_unit::MiB;
using fmrt_unit::open_region;
using fmrt_unit::TempDir;

// The two superblock copies as stored in the file.
void read_copies(const std::string &path, Superblock out[2]) {
    std::vector<uint8_t> bytes = fmrt_unit::read_file(path);
    ASSERT_GE(bytes.size(), 2 * kPageSize);
    std::memcpy(&out[0], bytes.data(), sizeof(Superblock));
    std::memcpy(&out[1], bytes.data() + kPageSize, sizeof(Superblock));
}

size_t entries(const std::string &dir) {
    size_t n = 0;
    DIR *d = ::opendir(dir.c_str());
    while (dirent *e = ::readdir(d)) {
        if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) ++n;
    }
    ::closedir(d);
    return n;
}

TEST(Region, CreateFormatsOneZeroedFreeSpanAndTwoValidCopies) {
    TempDir dir;
    const std::string path = dir.file("h");
    std::unique_ptr<Region> r;
    ASSERT_STATUS(open_region(&r, path, 1 * MiB, 64 * MiB), FMRT_OK);
    EXPECT_EQ(r->heap_start(), kHeapStart);
    EXPECT_EQ(r->heap_end(), 1 * MiB);
    EXPECT_EQ(r->file_size(), 1 * MiB);
    EXPECT_EQ(r->reserved(), 64 * MiB);
    EXPECT_TRUE(r->writable());
    EXPECT_FALSE(r->scratch());
    EXPECT_FALSE(r->opened_dirty()) << "a new file was not opened dirty";
    EXPECT_EQ(r->superblock().generation, 2u);
    EXPECT_EQ(r->superblock().flags & fmrt::kSbDirty, fmrt::kSbDirty);
    EXPECT_EQ(r->superblock().max_size, 64 * MiB);
    EXPECT_FALSE(fmrt_unit::all_zero(r->superblock().uuid, 16));

    fmrt_unit::Walk w = fmrt_unit::walk_region(*r);
    ASSERT_TRUE(w.reached_end) << w.error;
    ASSERT_EQ(w.spans.size(), 1u);
    EXPECT_EQ(w.spans[0].h.kind, fmrt::SpanKind::kFree);
    EXPECT_EQ(w.spans[0].h.flags, fmrt::kSpanZeroed);
    EXPECT_EQ(w.spans[0].h.pages, (1 * MiB - kHeapStart) / kPageSize);
    EXPECT_TRUE(fmrt_unit::all_zero(r->base() + kHeapStart + 8, 1 * MiB - kHeapStart - 8));

    r.reset();
    Superblock c[2];
    read_copies(path, c);
    EXPECT_STATUS(fmrt::check_superblock(c[0]), FMRT_OK);
    EXPECT_STATUS(fmrt::check_superblock(c[1]), FMRT_OK);
    EXPECT_EQ(c[0].generation, 2u);  // copy generation % 2
    EXPECT_EQ(c[1].generation, 1u);
    EXPECT_EQ(std::memcmp(c[0].uuid, c[1].uuid, 16), 0);
}

TEST(Region, ReopenFindsTheSameHeapAndSuperblock) {
    TempDir dir;
    const std::string path = dir.file("h");
    std::unique_ptr<Region> r;
    ASSERT_STATUS(open_region(&r, path, 2 * MiB, 32 * MiB), FMRT_OK);
    Superblock before = r->superblock();
    r->base()[kHeapStart + 100] = 0x5A;
    r.reset();

    ASSERT_STATUS(open_region(&r, path, 0, 0, /*create=*/false), FMRT_OK);
    EXPECT_EQ(r->heap_end(), 2 * MiB);
    EXPECT_EQ(r->file_size(), 2 * MiB);
    EXPECT_EQ(r->reserved(), 32 * MiB) << "max_size 0 takes the stored value";
    EXPECT_EQ(r->superblock().generation, before.generation);
    EXPECT_EQ(std::memcmp(r->superblock().uuid, before.uuid, 16), 0);
    EXPECT_EQ(r->superblock().created_unix_ns, before.created_unix_ns);
    EXPECT_TRUE(r->opened_dirty()) << "closed without close_clean";
    EXPECT_EQ(r->base()[kHeapStart + 100], 0x5A);
}

TEST(Region, MissingFileWithoutCreateIsNotFound) {
    TempDir dir;
    std::unique_ptr<Region> r;
    EXPECT_STATUS(open_region(&r, dir.file("nope"), 0, 0, false), FMRT_ENOTFOUND);
    EXPECT_EQ(r, nullptr);
    EXPECT_EQ(entries(dir.path()), 0u);
}

TEST(Region, CleanCloseClearsDirtyAndMarkOpenSetsIt) {
    TempDir dir;
    const std::string path = dir.file("h");
    std::unique_ptr<Region> r;
    ASSERT_STATUS(open_region(&r, path), FMRT_OK);
    ASSERT_STATUS(r->close_clean(), FMRT_OK);
    EXPECT_EQ(r->superblock().generation, 4u) << "the close's write, then the sync's copy of it";
    EXPECT_EQ(r->superblock().flags & fmrt::kSbDirty, 0u);
    r.reset();

    ASSERT_STATUS(open_region(&r, path), FMRT_OK);
    EXPECT_FALSE(r->opened_dirty());
    EXPECT_EQ(r->superblock().generation, 4u);
    ASSERT_STATUS(r->mark_open(), FMRT_OK);
    EXPECT_EQ(r->superblock().generation, 5u);
    EXPECT_EQ(r->superblock().flags & fmrt::kSbDirty, fmrt::kSbDirty);
    ASSERT_STATUS(r->mark_open(), FMRT_OK);
    EXPECT_EQ(r->superblock().generation, 5u) << "already dirty: no write";
    r.reset();

    ASSERT_STATUS(open_region(&r, path), FMRT_OK);
    EXPECT_TRUE(r->opened_dirty());
}

// Between two syncs every superblock write goes to one copy, so a power
// cut that tears it leaves the other one: the state of the last sync.  A
// sync makes the written copy the kept one and gives the other the same
// state; that one takes the writes until the next sync.
TEST(Region, SuperblockWritesBetweenSyncsGoToOneCopyAndTheOtherKeepsTheLastSync) {
    TempDir dir;
    const std::string path = dir.file("h");
    std::unique_ptr<Region> r;
    ASSERT_STATUS(open_region(&r, path, 1 * MiB, 64 * MiB), FMRT_OK);
    auto copy = [&](int i) -> const Superblock & {
        return *reinterpret_cast<const Superblock *>(r->base() + i * kPageSize);
    };
    uint64_t gen = r->superblock().generation;
    uint64_t end = r->heap_end();
    const uint64_t synced_end = end;
    // Which copy takes the writes: the one not holding the newest generation.
    const int active = copy(0).generation > copy(1).generation ? 1 : 0;
    const Superblock kept = copy(1 - active);
    for (int i = 0; i < 4; ++i) {
        end += 64 * KiB;
        ASSERT_STATUS(r->grow_file(end), FMRT_OK);
        ASSERT_STATUS(r->set_heap_end(end), FMRT_OK);
        EXPECT_EQ(r->superblock().generation, gen + i + 1);
        EXPECT_EQ(copy(active).generation, gen + i + 1);
        EXPECT_EQ(copy(active).heap_end, end);
        EXPECT_STATUS(fmrt::check_superblock(copy(active)), FMRT_OK);
        EXPECT_EQ(std::memcmp(&copy(1 - active), &kept, sizeof kept), 0) << "the kept copy was written";
        EXPECT_EQ(copy(1 - active).heap_end, synced_end);
    }
    gen += 4;
    ASSERT_STATUS(r->sync(), FMRT_OK);
    // Both copies now hold the synced state; the other copy is active.
    EXPECT_EQ(copy(active).heap_end, end);
    EXPECT_EQ(copy(1 - active).heap_end, end);
    EXPECT_EQ(copy(1 - active).generation, gen + 1);
    const Superblock kept2 = copy(active);
    end += 64 * KiB;
    ASSERT_STATUS(r->grow_file(end), FMRT_OK);
    ASSERT_STATUS(r->set_heap_end(end), FMRT_OK);
    EXPECT_EQ(copy(1 - active).heap_end, end);
    EXPECT_EQ(std::memcmp(&copy(active), &kept2, sizeof kept2), 0);
    r.reset();
    ASSERT_STATUS(open_region(&r, path), FMRT_OK);
    EXPECT_EQ(r->heap_end(), end);
    EXPECT_EQ(r->superblock().generation, gen + 2);
}

TEST(Region, GrowFileStopsAtTheReservation) {
    TempDir dir;
    std::unique_ptr<Region> r;
    ASSERT_STATUS(open_region(&r, dir.file("h"), 1 * MiB, 4 * MiB), FMRT_OK);
    EXPECT_EQ(r->reserved(), 4 * MiB);
    EXPECT_STATUS(r->grow_file(512 * KiB), FMRT_OK);
    EXPECT_EQ(r->file_size(), 1 * MiB) << "never shrinks";
    EXPECT_STATUS(r->grow_file(4 * MiB), FMRT_OK);
    EXPECT_EQ(r->file_size(), 4 * MiB);
    struct stat st;
    ASSERT_EQ(::stat(dir.file("h").c_str(), &st), 0);
    EXPECT_EQ(static_cast<uint64_t>(st.st_size), 4 * MiB);
    EXPECT_STATUS(r->grow_file(4 * MiB + kPageSize), FMRT_ENOMEM);
    EXPECT_EQ(r->file_size(), 4 * MiB);
    EXPECT_STATUS(r->grow_file(uint64_t{1} << 62), FMRT_ENOMEM);
}

TEST(Region, FileNeverGrowsPastTheMaxSizeAskedFor) {
    // fmrt.h: max_size is the address space reserved; "the heap never grows
    // past it".  3 MiB is not a multiple of the 2 MiB reservation unit.
    TempDir dir;
    std::unique_ptr<Region> r;
    ASSERT_STATUS(open_region(&r, dir.file("h"), 1 * MiB, 3 * MiB), FMRT_OK);
    EXPECT_EQ(r->superblock().max_size, 3 * MiB);
    EXPECT_STATUS(r->grow_file(3 * MiB), FMRT_OK);
    EXPECT_STATUS(r->grow_file(3 * MiB + kPageSize), FMRT_ENOMEM)
        << "reserved " << r->reserved() << " bytes for a max_size of " << 3 * MiB;
    EXPECT_LE(r->file_size(), 3 * MiB);
}

TEST(Region, ReopenWithALargerMaxSizeReservesMore) {
    TempDir dir;
    const std::string path = dir.file("h");
    std::unique_ptr<Region> r;
    ASSERT_STATUS(open_region(&r, path, 1 * MiB, 4 * MiB), FMRT_OK);
    r.reset();
    ASSERT_STATUS(open_region(&r, path, 0, 16 * MiB), FMRT_OK);
    EXPECT_EQ(r->reserved(), 16 * MiB);
    EXPECT_STATUS(r->grow_file(10 * MiB), FMRT_OK);
}

TEST(Region, InitialSizeIsRoundedUpToTheMinimumHeap) {
    TempDir dir;
    std::unique_ptr<Region> r;
    ASSERT_STATUS(open_region(&r, dir.file("h"), 5000, 64 * MiB), FMRT_OK);
    EXPECT_EQ(r->heap_end(), kHeapStart + 16 * kPageSize);
    EXPECT_EQ(r->file_size(), kHeapStart + 16 * kPageSize);
}

TEST(Region, InitialSizeAboveMaxSizeIsNoMemoryAndLeavesNoFile) {
    // fmrt.h: FMRT_ENOMEM "the initial size does not fit the disk or max_size".
    TempDir dir;
    std::unique_ptr<Region> r;
    EXPECT_STATUS(open_region(&r, dir.file("h"), 8 * MiB, 4 * MiB), FMRT_ENOMEM);
    EXPECT_EQ(entries(dir.path()), 0u);
}

TEST(Region, OffsetsAndPointersTranslateBothWays) {
    TempDir dir;
    std::unique_ptr<Region> r;
    ASSERT_STATUS(open_region(&r, dir.file("h"), 1 * MiB, 8 * MiB), FMRT_OK);
    EXPECT_EQ(r->ptr(0), r->base());
    EXPECT_EQ(r->offset(r->ptr(12345)), 12345u);
    EXPECT_FALSE(r->in_reservation(r->base()));
    EXPECT_FALSE(r->in_reservation(r->base() + kHeapStart - 1));
    EXPECT_TRUE(r->in_reservation(r->base() + kHeapStart));
    EXPECT_TRUE(r->in_reservation(r->base() + 8 * MiB - 1));
    EXPECT_FALSE(r->in_reservation(r->base() + 8 * MiB));
    int local = 0;
    EXPECT_FALSE(r->in_reservation(&local));
}

// ---- Torn and damaged superblocks ---------------------------------------

// A heap whose newest copy (generation `gen`, in copy `slot`) was written
// after a sync, with the bytes that copy held just before that write; the
// other copy holds the state of the sync.
struct History {
    Superblock newest, overwritten;
    uint64_t gen;
    int slot;
};

History make_history(const std::string &path) {
    std::unique_ptr<Region> r;
    EXPECT_STATUS(open_region(&r, path, 1 * MiB, 64 * MiB), FMRT_OK);
    auto copy = [&](int i) { return *reinterpret_cast<const Superblock *>(r->base() + i * kPageSize); };
    uint64_t end = r->heap_end();
    for (int i = 0; i < 3; ++i) {
        end += 128 * KiB;
        EXPECT_STATUS(r->grow_file(end), FMRT_OK);
        EXPECT_STATUS(r->set_heap_end(end), FMRT_OK);
    }
    EXPECT_STATUS(r->sync(), FMRT_OK);
    end += 128 * KiB;
    EXPECT_STATUS(r->grow_file(end), FMRT_OK);
    const Superblock before[2] = {copy(0), copy(1)};
    EXPECT_STATUS(r->set_heap_end(end), FMRT_OK);
    const int slot = copy(0).generation == r->superblock().generation ? 0 : 1;
    EXPECT_EQ(copy(slot).generation, r->superblock().generation);
    return History{r->superblock(), before[slot], r->superblock().generation, slot};
}

TEST(Region, TornWriteOfTheNewestCopyFallsBackToTheOlderOne) {
    TempDir dir;
    const std::string path = dir.file("h");
    const History h = make_history(path);
    ASSERT_EQ(h.overwritten.generation, h.gen - 1) << "the sync's copy of its state";
    const std::vector<uint8_t> pristine = fmrt_unit::read_file(path);
    const uint64_t slot = h.slot * kPageSize;
    Superblock older;
    std::memcpy(&older, pristine.data() + (1 - h.slot) * kPageSize, sizeof older);
    ASSERT_EQ(older.generation, h.gen - 2);
    ASSERT_EQ(older.heap_end, h.overwritten.heap_end) << "both copies held the synced state";

    // The write of the newest copy stopped after `k` bytes: the rest of the
    // slot still holds what it held before.
    for (size_t k = 8; k < sizeof(Superblock); k += 8) {
        Superblock torn = h.overwritten;
        std::memcpy(&torn, &h.newest, k);
        std::vector<uint8_t> bytes = pristine;
        std::memcpy(bytes.data() + slot, &torn, sizeof torn);
        ASSERT_TRUE(fmrt_unit::write_file(path, bytes));
        std::unique_ptr<Region> r;
        ASSERT_STATUS(open_region(&r, path, 0, 0, false), FMRT_OK) << "torn after " << k << " bytes";
        // Either the torn copy still checks (the bytes written so far did not
        // change it) or the other copy is used: the synced state both ways.
        EXPECT_EQ(r->heap_end(), older.heap_end) << "torn after " << k << " bytes";
        if (r->superblock().generation == h.gen - 1) {
            EXPECT_EQ(r->damaged_copy(), -1);
        } else {
            EXPECT_EQ(r->superblock().generation, h.gen - 2) << "torn after " << k << " bytes";
            EXPECT_EQ(r->damaged_copy(), h.slot) << "torn after " << k << " bytes";
        }
    }
}

TEST(Region, CorruptingAnyByteOfTheNewestCopyFallsBackToTheOlderOne) {
    TempDir dir;
    const std::string path = dir.file("h");
    const History h = make_history(path);
    const std::vector<uint8_t> pristine = fmrt_unit::read_file(path);
    const uint64_t slot = h.slot * kPageSize;
    for (size_t i = 0; i < sizeof(Superblock); ++i) {
        // Bytes of magic, byte order or major version give EVERSION/EFORMAT
        // verdicts of their own; either way the other copy is used.
        std::vector<uint8_t> bytes = pristine;
        bytes[slot + i] ^= 0x40;
        ASSERT_TRUE(fmrt_unit::write_file(path, bytes));
        std::unique_ptr<Region> r;
        ASSERT_STATUS(open_region(&r, path, 0, 0, false), FMRT_OK) << "byte " << i;
        EXPECT_EQ(r->superblock().generation, h.gen - 2) << "byte " << i;
        EXPECT_EQ(r->damaged_copy(), h.slot) << "byte " << i;
        EXPECT_FALSE(r->damaged_copy_reason().empty());
    }
}

TEST(Region, BothCopiesDamagedIsAFormatErrorAndTheFileIsUnchanged) {
    TempDir dir;
    const std::string path = dir.file("h");
    make_history(path);
    std::vector<uint8_t> bytes = fmrt_unit::read_file(path);
    bytes[100] ^= 1;
    bytes[kPageSize + 100] ^= 1;
    ASSERT_TRUE(fmrt_unit::write_file(path, bytes));
    std::unique_ptr<Region> r;
    EXPECT_STATUS(open_region(&r, path, 0, 0, false), FMRT_EFORMAT);
    EXPECT_NE(std::strstr(fmrt::error_message(), "checksum"), nullptr) << fmrt::error_message();
    EXPECT_EQ(fmrt_unit::read_file(path), bytes);
}

TEST(Region, BothCopiesOfAnotherMajorVersionIsAVersionError) {
    TempDir dir;
    const std::string path = dir.file("h");
    make_history(path);
    std::vector<uint8_t> bytes = fmrt_unit::read_file(path);
    for (uint64_t slot : {uint64_t{0}, kPageSize}) {
        Superblock sb;
        std::memcpy(&sb, bytes.data() + slot, sizeof sb);
        sb.format_major = fmrt::kFormatMajor + 1;
        sb.checksum = fmrt::superblock_checksum(sb);
        std::memcpy(bytes.data() + slot, &sb, sizeof sb);
    }
    ASSERT_TRUE(fmrt_unit::write_file(path, bytes));
    std::unique_ptr<Region> r;
    EXPECT_STATUS(open_region(&r, path, 0, 0, false), FMRT_EVERSION);
    EXPECT_EQ(fmrt_unit::read_file(path), bytes);
}

TEST(Region, OneVersionErrorAndOneDamagedCopyReportsTheVersion) {
    TempDir dir;
    const std::string path = dir.file("h");
    make_history(path);
    std::vector<uint8_t> bytes = fmrt_unit::read_file(path);
    Superblock sb;
    std::memcpy(&sb, bytes.data() + kPageSize, sizeof sb);
    sb.format_major = 9;
    sb.checksum = fmrt::superblock_checksum(sb);
    std::memcpy(bytes.data() + kPageSize, &sb, sizeof sb);
    bytes[7] ^= 1;  // slot 0: bad magic
    ASSERT_TRUE(fmrt_unit::write_file(path, bytes));
    std::unique_ptr<Region> r;
    EXPECT_STATUS(open_region(&r, path, 0, 0, false), FMRT_EVERSION);
    EXPECT_NE(std::strstr(fmrt::error_message(), "version 9"), nullptr) << fmrt::error_message();
}

TEST(Region, TruncatedEmptyAndTinyFilesAreFormatErrorsLeftUnchanged) {
    TempDir dir;
    const std::string path = dir.file("h");
    make_history(path);
    std::vector<uint8_t> bytes = fmrt_unit::read_file(path);
    std::vector<std::vector<uint8_t>> cases = {
        std::vector<uint8_t>(bytes.begin(), bytes.end() - kPageSize),  // heap_end past the end
        {},                                                            // empty
        std::vector<uint8_t>(bytes.begin(), bytes.begin() + kPageSize + 100),
    };
    for (const auto &c : cases) {
        ASSERT_TRUE(fmrt_unit::write_file(path, c));
        std::unique_ptr<Region> r;
        EXPECT_STATUS(open_region(&r, path, 0, 0, false), FMRT_EFORMAT) << c.size() << " bytes";
        EXPECT_EQ(fmrt_unit::read_file(path), c);
    }
}

TEST(Region, ForeignFileIsAFormatErrorNotAReformat) {
    TempDir dir;
    const std::string path = dir.file("h");
    std::vector<uint8_t> junk(64 * KiB);
    for (size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<uint8_t>(i * 31 + 7);
    ASSERT_TRUE(fmrt_unit::write_file(path, junk));
    std::unique_ptr<Region> r;
    EXPECT_STATUS(open_region(&r, path), FMRT_EFORMAT);  // create=true must not reformat
    EXPECT_EQ(fmrt_unit::read_file(path), junk);
}

// ---- Locks, read-only, scratch -------------------------------------------

TEST(Region, SecondWriterIsBusyAndReadersShare) {
    TempDir dir;
    const std::string path = dir.file("h");
    std::unique_ptr<Region> w1, w2, r1, r2;
    ASSERT_STATUS(open_region(&w1, path), FMRT_OK);
    EXPECT_STATUS(open_region(&w2, path), FMRT_EBUSY);
    fmrt::RegionParams ro;
    ro.path = path;
    ro.create = false;
    ro.readonly = true;
    EXPECT_STATUS(Region::open(&r1, ro), FMRT_EBUSY);
    w1.reset();
    ASSERT_STATUS(Region::open(&r1, ro), FMRT_OK);
    ASSERT_STATUS(Region::open(&r2, ro), FMRT_OK);
    EXPECT_STATUS(open_region(&w2, path), FMRT_EBUSY);
    EXPECT_FALSE(r1->writable());
    EXPECT_STATUS(r1->grow_file(r1->file_size() + kPageSize), FMRT_EREADONLY);
    EXPECT_STATUS(r1->mark_open(), FMRT_OK);
    EXPECT_STATUS(r1->close_clean(), FMRT_OK);
    EXPECT_STATUS(r1->sync(), FMRT_OK);
}

TEST(Region, CreatingReadOnlyIsInvalid) {
    TempDir dir;
    fmrt::RegionParams ro;
    ro.path = dir.file("h");
    ro.readonly = true;
    std::unique_ptr<Region> r;
    EXPECT_STATUS(Region::open(&r, ro), FMRT_EINVAL);
    EXPECT_EQ(entries(dir.path()), 0u);
}

TEST(Region, ScratchRegionInADirectoryLeavesNoName) {
    TempDir dir;
    fmrt::RegionParams p;
    p.path = dir.path();
    p.scratch = true;
    p.max_size = 16 * MiB;
    std::unique_ptr<Region> r;
    ASSERT_STATUS(Region::open(&r, p), FMRT_OK);
    EXPECT_TRUE(r->scratch());
    EXPECT_EQ(r->path(), dir.path());
    EXPECT_EQ(entries(dir.path()), 0u);
    r->base()[kHeapStart + 8] = 1;
    EXPECT_STATUS(r->grow_file(4 * MiB), FMRT_OK);
    EXPECT_STATUS(r->sync(), FMRT_OK);
}

TEST(Region, ScratchRegionAtAFileNameUnlinksIt) {
    TempDir dir;
    fmrt::RegionParams p;
    p.path = dir.file("scratch.heap");
    p.scratch = true;
    p.max_size = 16 * MiB;
    std::unique_ptr<Region> r;
    ASSERT_STATUS(Region::open(&r, p), FMRT_OK);
    EXPECT_EQ(entries(dir.path()), 0u);
    std::unique_ptr<Region> r2;
    ASSERT_TRUE(fmrt_unit::write_file(p.path, {1, 2, 3}));
    EXPECT_STATUS(Region::open(&r2, p), FMRT_EEXISTS);
}

// ---- Fault injection during creation -----------------------------------------

TEST(Region, EveryInjectedFaultDuringCreateLeavesNoFileBehind) {
    TempDir dir;
    const std::string path = dir.file("h");
    // Count the injectable calls of a successful create first.
    {
        fmrt::os::set_fault_countdown(0);
        std::unique_ptr<Region> r;
        ASSERT_STATUS(open_region(&r, dir.file("probe")), FMRT_OK);
    }
    const long calls = fmrt::os::fault_calls();
    ASSERT_GE(calls, 5) << "create_temp, reserve_space, map, msync, fsync, link, dir fsync";
    ::unlink(dir.file("probe").c_str());
    for (long n = 1; n <= calls; ++n) {
        fmrt::os::set_fault_countdown(n);
        std::unique_ptr<Region> r;
        int rc = open_region(&r, path);
        fmrt::os::set_fault_countdown(0);
        if (rc == FMRT_OK) {
            // Only the final directory fsync may fail after the name exists;
            // a fault there is reported, never hidden.
            ADD_FAILURE() << "fault at call " << n << " of " << calls << " was not reported";
            r.reset();
            ::unlink(path.c_str());
            continue;
        }
        EXPECT_TRUE(rc == FMRT_EIO || rc == FMRT_ENOMEM) << n << ": " << fmrt_unit::status_name(rc);
        struct stat st;
        if (::stat(path.c_str(), &st) == 0) {
            // The name was linked before the failing directory fsync: the
            // file must then be a complete heap.
            std::unique_ptr<Region> again;
            EXPECT_STATUS(open_region(&again, path, 0, 0, false), FMRT_OK) << "fault at call " << n;
            again.reset();
            ::unlink(path.c_str());
        }
        EXPECT_EQ(entries(dir.path()), 0u) << "fault at call " << n;
    }
    std::unique_ptr<Region> r;
    EXPECT_STATUS(open_region(&r, path), FMRT_OK);
}

}  // namespace
