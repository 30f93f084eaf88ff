// Running out of disk: a file-size limit (RLIMIT_FSIZE) and a really full
// filesystem (a 4 MiB tmpfs, when we may mount one).  Growth must fail with
// FMRT_ENOMEM or FMRT_EIO, never SIGBUS or SIGXFSZ; earlier blocks stay
// intact and close works.  Every case runs in a forked child, so a crash
// shows up as a signal in the parent's report instead of killing the tests.
#include "test_util.h"

#include <sys/mount.h>
#include <sys/resource.h>

using namespace fmrt_test;

namespace {

constexpr size_t kChunk = 256 * KiB;

// Child exit codes.
enum : int {
    kOk = 0,
    kOpenFailed = 2,
    kNeverFailed = 3,
    kWrongStatus = 4,
    kTooFewChunks = 5,
    kDamaged = 6,
    kReuseFailed = 7,
    kCloseFailed = 8,
    kReopenFailed = 9,
    kDamagedAfterReopen = 10,
    kSideFile = 11,
};

// In a child: fills the heap at `path` with 256 KiB chunks until an
// allocation fails, checks the failure and the survivors, closes, reopens,
// checks again and records the chunk offsets in `side` (if not empty).
int fill_until_full(const std::string &path, uint64_t max_size, size_t min_chunks, const std::string &side) {
    fmrt_runtime *rt = nullptr;
    fmrt_options o = make_options(MiB, max_size);
    if (fmrt_runtime_open(&rt, path.c_str(), &o) != FMRT_OK)
        return child_fail(kOpenFailed, std::string("open: ") + fmrt_error_message());
    std::vector<uint64_t> offs;
    void *p = nullptr;
    for (int i = 0; i < 4096; ++i) {
        p = fmrt_malloc(rt, kChunk);
        if (p == nullptr) break;
        fill_pattern(p, kChunk, offs.size());  // SIGBUS here if space was not reserved
        offs.push_back(fmrt_ptr_to_offset(rt, p));
    }
    if (p != nullptr) return child_fail(kNeverFailed, "1 GiB allocated under the limit");
    int st = fmrt_last_status();
    if (st != FMRT_ENOMEM && st != FMRT_EIO) return child_fail(kWrongStatus, "status " + status_name(st));
    std::fprintf(stderr, "child: %zu chunks, then %s: %s\n", offs.size(), status_name(st).c_str(),
                 fmrt_error_message());
    if (offs.size() < min_chunks) return child_fail(kTooFewChunks, std::to_string(offs.size()) + " chunks");
    for (size_t i = 0; i < offs.size(); ++i)
        if (!pattern_error(fmrt_offset_to_ptr(rt, offs[i]), kChunk, i).empty())
            return child_fail(kDamaged, "chunk " + std::to_string(i));
    // A freed chunk can be allocated again: that needs no new space.
    if (fmrt_free(rt, fmrt_offset_to_ptr(rt, offs.back())) != 0) return child_fail(kReuseFailed, "free");
    p = fmrt_malloc(rt, kChunk);
    if (p == nullptr) return child_fail(kReuseFailed, std::string("realloc of freed space: ") + fmrt_error_message());
    fill_pattern(p, kChunk, offs.size() - 1);
    offs.back() = fmrt_ptr_to_offset(rt, p);
    int rc = fmrt_runtime_close(rt);
    if (rc != FMRT_OK) return child_fail(kCloseFailed, "close: " + status_name(rc) + " " + fmrt_error_message());

    fmrt_options ro = make_options(0, 0, 0);
    if (fmrt_runtime_open(&rt, path.c_str(), &ro) != FMRT_OK)
        return child_fail(kReopenFailed, std::string("reopen: ") + fmrt_error_message());
    for (size_t i = 0; i < offs.size(); ++i)
        if (!pattern_error(fmrt_offset_to_ptr(rt, offs[i]), kChunk, i).empty())
            return child_fail(kDamagedAfterReopen, "chunk " + std::to_string(i));
    if (fmrt_runtime_close(rt) != FMRT_OK) return child_fail(kCloseFailed, "second close");
    if (!side.empty()) {
        try {
            write_numbers(side, offs);
        } catch (...) {
            return child_fail(kSideFile, "side file");
        }
    }
    return kOk;
}

TEST(DiskFull, FileSizeLimitGivesENOMEMOrEIOAndKeepsEarlierBlocks) {
    TempDir dir;
    std::string heap = dir.file("heap"), side = dir.file("offsets");
    ChildStatus st = run_in_child([&] {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit lim = {8 * MiB, 8 * MiB};
        if (setrlimit(RLIMIT_FSIZE, &lim) != 0) return child_fail(20, "setrlimit");
        return fill_until_full(heap, GiB, 8, side);
    });
    ASSERT_TRUE(ExitedWith(st, kOk));
    EXPECT_LE(file_size_on_disk(heap), 8 * MiB);

    // Without the limit, the parent finds the same blocks.
    std::vector<uint64_t> offs = read_numbers(side);
    ASSERT_GE(offs.size(), 8u);
    fmrt_runtime *rt = nullptr;
    fmrt_options o = make_options(0, 0, 0);
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt, heap.c_str(), &o));
    EXPECT_EQ(stats_of(rt).live_allocations, offs.size());
    for (size_t i = 0; i < offs.size(); ++i)
        ASSERT_TRUE(HasPattern(fmrt_offset_to_ptr(rt, offs[i]), kChunk, i)) << "chunk " << i;
    // And it can grow further now.
    void *p = fmrt_malloc(rt, 16 * MiB);
    EXPECT_NE(p, nullptr) << fmrt_error_message();
    ASSERT_FMRT_OK(fmrt_runtime_close(rt));
}

TEST(DiskFull, FileSizeLimitBelowTheInitialSizeRefusesTheOpen) {
    TempDir dir;
    std::string heap = dir.file("heap");
    ChildStatus st = run_in_child([&] {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit lim = {2 * MiB, 2 * MiB};
        if (setrlimit(RLIMIT_FSIZE, &lim) != 0) return child_fail(20, "setrlimit");
        fmrt_runtime *rt = reinterpret_cast<fmrt_runtime *>(0x1);
        fmrt_options o = make_options(8 * MiB);
        int rc = fmrt_runtime_open(&rt, heap.c_str(), &o);
        if (rt != nullptr) return child_fail(21, "*out not NULL after a failed open");
        return status_to_exit(rc);
    });
    ASSERT_TRUE(st.exited) << st;
    int rc = exit_to_status(st);
    EXPECT_TRUE(rc == FMRT_ENOMEM || rc == FMRT_EIO) << status_name(rc);
    EXPECT_FALSE(path_exists(heap)) << "a half-made heap was linked into place";
    EXPECT_TRUE(dir.entries().empty()) << "a temporary file was left behind";
}

// A 4 MiB tmpfs mounted under a temporary directory (root only).
class FullTmpfs : public ::testing::Test {
protected:
    void SetUp() override {
        mnt_ = dir_.file("mnt");
        ASSERT_EQ(mkdir(mnt_.c_str(), 0755), 0);
        if (mount("tmpfs", mnt_.c_str(), "tmpfs", 0, "size=4m") != 0)
            GTEST_SKIP() << "cannot mount a tmpfs: " << std::strerror(errno);
        mounted_ = true;
    }
    void TearDown() override {
        if (mounted_) {
            EXPECT_EQ(umount2(mnt_.c_str(), MNT_DETACH), 0) << std::strerror(errno);
        }
    }
    TempDir dir_;
    std::string mnt_;
    bool mounted_ = false;
};

TEST_F(FullTmpfs, GrowingPastAFullFilesystemGivesENOMEMOrEIOWithoutSIGBUS) {
    std::string heap = mnt_ + "/heap";
    ChildStatus st = run_in_child([&] { return fill_until_full(heap, GiB, 4, ""); });
    EXPECT_TRUE(ExitedWith(st, kOk));
    EXPECT_LE(file_size_on_disk(heap), 4 * MiB);
}

TEST_F(FullTmpfs, InitialSizeLargerThanTheDiskIsRefusedWithENOMEM) {
    std::string heap = mnt_ + "/heap";
    ChildStatus st = run_in_child([&] {
        fmrt_runtime *rt = nullptr;
        fmrt_options o = make_options(64 * MiB);
        return status_to_exit(fmrt_runtime_open(&rt, heap.c_str(), &o));
    });
    ASSERT_TRUE(st.exited) << st;
    EXPECT_EQ(status_name(exit_to_status(st)), "FMRT_ENOMEM");
    EXPECT_FALSE(path_exists(heap));
    EXPECT_TRUE(TempDir::list_directory(mnt_).empty()) << "a temporary file was left behind";
}

TEST_F(FullTmpfs, ScratchHeapOnAFullFilesystemFailsCleanly) {
    ChildStatus st = run_in_child([&] {
        fmrt_runtime *rt = nullptr;
        fmrt_options o = make_options(MiB, GiB, FMRT_OPEN_CREATE, FMRT_MODE_SCRATCH);
        if (fmrt_runtime_open(&rt, mnt_.c_str(), &o) != FMRT_OK) return child_fail(2, fmrt_error_message());
        size_t n = 0;
        while (void *p = fmrt_malloc(rt, kChunk)) {
            std::memset(p, 0x5A, kChunk);
            if (++n > 100) return child_fail(3, "never failed");
        }
        int s = fmrt_last_status();
        if (s != FMRT_ENOMEM && s != FMRT_EIO) return child_fail(4, status_name(s));
        if (fmrt_runtime_close(rt) != FMRT_OK) return child_fail(5, "close");
        return 0;
    });
    EXPECT_TRUE(ExitedWith(st, 0));
    EXPECT_TRUE(TempDir::list_directory(mnt_).empty());
}

}  // namespace
