// Unit tests of platform.{h,cc}: fault injection, space reservation limits,
// file locks, creating files complete (temporary + link) and unlinked, and
// the small file helpers.
#include <gtest/gtest.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "platform.h"
#include "unit_util.h"

namespace {

namespace os = fmrt::os;
using fmrt_unit::TempDir;

class Platform : public ::testing::Test {
protected:
    void TearDown() override { os::set_fault_countdown(0); }

    // An open read-write regular file of `size` bytes.
    int make_file(const std::string &name, uint64_t size = 0) {
        int fd = ::open(dir_.file(name).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        EXPECT_GE(fd, 0);
        if (size != 0) {
            EXPECT_EQ(::ftruncate(fd, static_cast<off_t>(size)), 0);
        }
        fds_.push_back(fd);
        return fd;
    }
    int reopen(const std::string &name) {
        int fd = ::open(dir_.file(name).c_str(), O_RDWR | O_CLOEXEC);
        EXPECT_GE(fd, 0);
        fds_.push_back(fd);
        return fd;
    }
    std::vector<std::string> names() const {
        std::vector<std::string> v;
        DIR *d = ::opendir(dir_.path().c_str());
        while (dirent *e = ::readdir(d)) {
            if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) v.push_back(e->d_name);
        }
        ::closedir(d);
        return v;
    }
    ~Platform() override {
        for (int fd : fds_) ::close(fd);
    }

    TempDir dir_;
    std::vector<int> fds_;
};

// ---- Fault injection ---------------------------------------------------

TEST_F(Platform, FaultCountdownFailsExactlyTheNthInjectableCall) {
    int fd = make_file("f", 4096);
    for (long n = 1; n <= 5; ++n) {
        os::set_fault_countdown(n);
        for (long call = 1; call <= 7; ++call) {
            int rc = os::sync_file(fd);
            if (call == n) {
                EXPECT_STATUS(rc, FMRT_EIO);
                EXPECT_NE(std::strstr(fmrt::error_message(), "injected"), nullptr) << fmrt::error_message();
            } else {
                EXPECT_STATUS(rc, FMRT_OK);
            }
        }
        EXPECT_EQ(os::fault_calls(), 7);
    }
}

TEST_F(Platform, FaultCallsCountsOnlyInjectableCalls) {
    int fd = make_file("f", 8192);
    os::set_fault_countdown(0);
    EXPECT_EQ(os::fault_calls(), 0);
    uint64_t size = 0;
    char buf[16];
    EXPECT_STATUS(os::file_size(fd, &size), FMRT_OK);
    EXPECT_STATUS(os::read_at(fd, buf, sizeof buf, 0), FMRT_OK);
    EXPECT_STATUS(os::lock_file(fd, true), FMRT_OK);
    EXPECT_STATUS(os::reserve_space(fd, 0, 0), FMRT_OK);  // nothing to reserve: not a call
    EXPECT_EQ(os::fault_calls(), 0);
    EXPECT_STATUS(os::reserve_space(fd, 0, 4096), FMRT_OK);
    EXPECT_STATUS(os::sync_file(fd), FMRT_OK);
    void *m = nullptr;
    EXPECT_STATUS(os::map_file(&m, fd, 8192, true), FMRT_OK);
    EXPECT_STATUS(os::flush_mapping(m, 8192), FMRT_OK);
    os::unmap(m, 8192);
    EXPECT_STATUS(os::map_anonymous(&m, 4096), FMRT_OK);
    os::unmap(m, 4096);
    EXPECT_EQ(os::fault_calls(), 5);
    os::set_fault_countdown(0);
    EXPECT_EQ(os::fault_calls(), 0) << "set_fault_countdown restarts the count";
}

TEST_F(Platform, ZeroOrNegativeCountdownInjectsNothing) {
    int fd = make_file("f", 4096);
    for (long n : {0L, -1L, -100L}) {
        os::set_fault_countdown(n);
        for (int i = 0; i < 5; ++i) EXPECT_STATUS(os::sync_file(fd), FMRT_OK);
        EXPECT_EQ(os::fault_calls(), 5);
    }
}

TEST_F(Platform, EachInjectableCallFailsWithItsDocumentedCode) {
    int fd = make_file("f", 8192);
    void *m = reinterpret_cast<void *>(0x1);
    int out_fd = 12345;
    std::string tmp = "junk";

    os::set_fault_countdown(1);
    EXPECT_STATUS(os::reserve_space(fd, 0, 4096), FMRT_ENOMEM);
    os::set_fault_countdown(1);
    EXPECT_STATUS(os::map_file(&m, fd, 8192, true), FMRT_ENOMEM);
    EXPECT_EQ(m, nullptr);
    m = reinterpret_cast<void *>(0x1);
    os::set_fault_countdown(1);
    EXPECT_STATUS(os::map_anonymous(&m, 4096), FMRT_ENOMEM);
    EXPECT_EQ(m, nullptr);
    os::set_fault_countdown(1);
    EXPECT_STATUS(os::sync_file(fd), FMRT_EIO);
    os::set_fault_countdown(1);
    EXPECT_STATUS(os::flush_mapping(nullptr, 0), FMRT_EIO);
    os::set_fault_countdown(1);
    EXPECT_STATUS(os::create_temp(&out_fd, &tmp, dir_.path()), FMRT_EIO);
    EXPECT_EQ(out_fd, -1);
    EXPECT_TRUE(tmp.empty());
    os::set_fault_countdown(1);
    EXPECT_STATUS(os::create_unlinked(&out_fd, dir_.file("scratch")), FMRT_EIO);
    EXPECT_EQ(out_fd, -1);
    os::set_fault_countdown(1);
    EXPECT_STATUS(os::link_into_place(fd, "", dir_.file("linked")), FMRT_EIO);
    EXPECT_NE(::access(dir_.file("linked").c_str(), F_OK), 0);
    os::set_fault_countdown(1);
    EXPECT_STATUS(os::sync_directory(dir_.path()), FMRT_EIO);
    // An injected fault changed nothing on disk.
    EXPECT_EQ(names(), std::vector<std::string>{"f"});
}

// ---- Space reservation -----------------------------------------------------

TEST_F(Platform, ReserveSpaceBeyondTheFilesystemMaximumIsNoMemoryNotACrash) {
    int fd = make_file("f", 4096);
    // 2^50 bytes is past the largest file of ext4, xfs and tmpfs.
    EXPECT_STATUS(os::reserve_space(fd, 0, uint64_t{1} << 50), FMRT_ENOMEM);
    uint64_t size = 0;
    ASSERT_STATUS(os::file_size(fd, &size), FMRT_OK);
    EXPECT_LT(size, uint64_t{1} << 50);
    EXPECT_STATUS(os::reserve_space(fd, 0, 8192), FMRT_OK);
}

TEST_F(Platform, ReserveSpacePastTheFileSizeLimitIsNoMemory) {
    make_file("f", 0);
    const std::string path = dir_.file("f");
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        ::signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {1 << 20, 1 << 20};
        if (::setrlimit(RLIMIT_FSIZE, &rl) != 0) ::_exit(10);
        int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
        if (fd < 0) ::_exit(11);
        if (os::reserve_space(fd, 0, 512 * 1024) != FMRT_OK) ::_exit(12);
        int rc = os::reserve_space(fd, 512 * 1024, 4 << 20);
        ::_exit(rc == FMRT_ENOMEM ? 0 : 20 - rc);
    }
    EXPECT_EQ(fmrt_unit::wait_child(pid), 0) << "10-12: setup failed; 20+k: reserve_space returned -k";
}

TEST_F(Platform, ReservedSpaceExtendsTheFileWithZeros) {
    int fd = make_file("f", 4096);
    ASSERT_STATUS(os::reserve_space(fd, 4096, 3 * 4096), FMRT_OK);
    uint64_t size = 0;
    ASSERT_STATUS(os::file_size(fd, &size), FMRT_OK);
    EXPECT_EQ(size, 4u * 4096);
    std::vector<uint8_t> buf(3 * 4096, 0xAA);
    ASSERT_STATUS(os::read_at(fd, buf.data(), buf.size(), 4096), FMRT_OK);
    EXPECT_TRUE(fmrt_unit::all_zero(buf.data(), buf.size()));
}

// ---- Locks -------------------------------------------------------------------

TEST_F(Platform, SecondExclusiveLockOnANewDescriptorIsBusy) {
    int a = make_file("f", 4096);
    int b = reopen("f");
    EXPECT_STATUS(os::lock_file(a, true), FMRT_OK);
    EXPECT_STATUS(os::lock_file(b, true), FMRT_EBUSY);
    EXPECT_STATUS(os::lock_file(b, false), FMRT_EBUSY);
    ::close(a);
    fds_.erase(fds_.begin());
    EXPECT_STATUS(os::lock_file(b, true), FMRT_OK) << "closing the holder frees the lock";
}

TEST_F(Platform, SharedLocksCoexistAndKeepWritersOut) {
    int a = make_file("f", 4096);
    int b = reopen("f");
    int c = reopen("f");
    EXPECT_STATUS(os::lock_file(a, false), FMRT_OK);
    EXPECT_STATUS(os::lock_file(b, false), FMRT_OK);
    EXPECT_STATUS(os::lock_file(c, true), FMRT_EBUSY);
    EXPECT_NE(std::strstr(fmrt::error_message(), "elsewhere"), nullptr) << fmrt::error_message();
}

TEST_F(Platform, LockOfAChildProcessBlocksTheParent) {
    make_file("f", 4096);
    const std::string path = dir_.file("f");
    int go[2], done[2];
    ASSERT_EQ(::pipe(go), 0);
    ASSERT_EQ(::pipe(done), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
        int rc = os::lock_file(fd, true);
        char c = rc == FMRT_OK ? 'y' : 'n';
        if (::write(go[1], &c, 1) != 1) ::_exit(2);
        if (::read(done[0], &c, 1) != 1) ::_exit(3);
        ::_exit(0);
    }
    char c = 0;
    ASSERT_EQ(::read(go[0], &c, 1), 1);
    EXPECT_EQ(c, 'y');
    int fd = reopen("f");
    EXPECT_STATUS(os::lock_file(fd, false), FMRT_EBUSY);
    ASSERT_EQ(::write(done[1], "x", 1), 1);
    EXPECT_EQ(fmrt_unit::wait_child(pid), 0);
    EXPECT_STATUS(os::lock_file(fd, true), FMRT_OK) << "a dead process leaves no stale lock";
    for (int p : {go[0], go[1], done[0], done[1]}) ::close(p);
}

// ---- Creating files ------------------------------------------------------

TEST_F(Platform, TempFileLinkedIntoPlaceGetsTheNameWithItsBytes) {
    int fd = -1;
    std::string tmp;
    ASSERT_STATUS(os::create_temp(&fd, &tmp, dir_.path()), FMRT_OK);
    fds_.push_back(fd);
    EXPECT_TRUE(names().size() == (tmp.empty() ? 0u : 1u)) << "an O_TMPFILE has no name yet";
    ASSERT_EQ(::pwrite(fd, "heap", 4, 0), 4);
    const std::string path = dir_.file("h");
    ASSERT_STATUS(os::link_into_place(fd, tmp, path), FMRT_OK);
    EXPECT_EQ(names(), std::vector<std::string>{"h"});
    std::vector<uint8_t> bytes = fmrt_unit::read_file(path);
    EXPECT_EQ(std::string(bytes.begin(), bytes.end()), "heap");
}

TEST_F(Platform, LinkingOntoAnExistingNameIsExistsAndLeavesThatFileAlone) {
    const std::string path = dir_.file("h");
    ASSERT_TRUE(fmrt_unit::write_file(path, {'o', 'l', 'd'}));
    int fd = -1;
    std::string tmp;
    ASSERT_STATUS(os::create_temp(&fd, &tmp, dir_.path()), FMRT_OK);
    fds_.push_back(fd);
    ASSERT_EQ(::pwrite(fd, "new contents", 12, 0), 12);
    EXPECT_STATUS(os::link_into_place(fd, tmp, path), FMRT_EEXISTS);
    std::vector<uint8_t> bytes = fmrt_unit::read_file(path);
    EXPECT_EQ(std::string(bytes.begin(), bytes.end()), "old");
    EXPECT_EQ(names(), std::vector<std::string>{"h"}) << "no temporary name left behind";
}

TEST_F(Platform, TempFileInAMissingDirectoryIsNotFound) {
    int fd = 7;
    std::string tmp;
    EXPECT_STATUS(os::create_temp(&fd, &tmp, dir_.file("nope")), FMRT_ENOTFOUND);
    EXPECT_EQ(fd, -1);
}

TEST_F(Platform, UnlinkedFileLeavesNoNameButWorks) {
    int fd = -1;
    ASSERT_STATUS(os::create_unlinked(&fd, dir_.file("scratch")), FMRT_OK);
    fds_.push_back(fd);
    EXPECT_TRUE(names().empty());
    ASSERT_EQ(::pwrite(fd, "abc", 3, 0), 3);
    char buf[3];
    ASSERT_STATUS(os::read_at(fd, buf, 3, 0), FMRT_OK);
    EXPECT_EQ(std::memcmp(buf, "abc", 3), 0);
    struct stat st;
    ASSERT_EQ(::fstat(fd, &st), 0);
    EXPECT_EQ(st.st_nlink, 0u);
}

TEST_F(Platform, UnlinkedFileOverAnExistingNameIsExistsAndKeepsIt) {
    const std::string path = dir_.file("taken");
    ASSERT_TRUE(fmrt_unit::write_file(path, {'k', 'e', 'e', 'p'}));
    int fd = 9;
    EXPECT_STATUS(os::create_unlinked(&fd, path), FMRT_EEXISTS);
    EXPECT_EQ(fd, -1);
    std::vector<uint8_t> bytes = fmrt_unit::read_file(path);
    EXPECT_EQ(std::string(bytes.begin(), bytes.end()), "keep");
}

// ---- Opening and reading ---------------------------------------------------

TEST_F(Platform, OpenExistingSortsMissingDirectoriesAndDevices) {
    int fd = 5;
    EXPECT_STATUS(os::open_existing(&fd, dir_.file("missing"), true), FMRT_ENOTFOUND);
    EXPECT_EQ(fd, -1);
    EXPECT_STATUS(os::open_existing(&fd, dir_.path(), true), FMRT_EINVAL);
    EXPECT_STATUS(os::open_existing(&fd, dir_.path(), false), FMRT_EINVAL);
    EXPECT_STATUS(os::open_existing(&fd, "/dev/null", false), FMRT_EINVAL);
    EXPECT_EQ(fd, -1);
    make_file("f", 10);
    ASSERT_STATUS(os::open_existing(&fd, dir_.file("f"), false), FMRT_OK);
    EXPECT_GE(fd, 0);
    fds_.push_back(fd);
}

TEST_F(Platform, ReadPastTheEndIsAFormatError) {
    int fd = make_file("f", 100);
    char buf[200];
    EXPECT_STATUS(os::read_at(fd, buf, 100, 0), FMRT_OK);
    EXPECT_STATUS(os::read_at(fd, buf, 200, 0), FMRT_EFORMAT);
    EXPECT_STATUS(os::read_at(fd, buf, 1, 100), FMRT_EFORMAT);
}

TEST_F(Platform, MappingLongerThanTheFileSeesGrowthThroughTheSameAddresses) {
    int fd = make_file("f", 4096);
    void *m = nullptr;
    ASSERT_STATUS(os::map_file(&m, fd, 1 << 20, true), FMRT_OK);
    auto *p = static_cast<uint8_t *>(m);
    p[0] = 0x11;
    ASSERT_STATUS(os::reserve_space(fd, 4096, 4096), FMRT_OK);
    p[4096 + 5] = 0x22;  // the grown page is backed now
    ASSERT_STATUS(os::flush_mapping(m, 8192), FMRT_OK);
    uint8_t b[2];
    ASSERT_STATUS(os::read_at(fd, &b[0], 1, 0), FMRT_OK);
    ASSERT_STATUS(os::read_at(fd, &b[1], 1, 4096 + 5), FMRT_OK);
    EXPECT_EQ(b[0], 0x11);
    EXPECT_EQ(b[1], 0x22);
    os::unmap(m, 1 << 20);
}

TEST_F(Platform, AnonymousMappingIsZeroFilled) {
    void *m = nullptr;
    ASSERT_STATUS(os::map_anonymous(&m, 1 << 20), FMRT_OK);
    EXPECT_TRUE(fmrt_unit::all_zero(m, 1 << 20));
    os::unmap(m, 1 << 20);
    os::unmap(nullptr, 4096);  // accepted
}

TEST(PlatformPaths, ParentDirectoryOfVariousPaths) {
    EXPECT_EQ(os::parent_directory("a/b"), "a");
    EXPECT_EQ(os::parent_directory("/a/b/c.heap"), "/a/b");
    EXPECT_EQ(os::parent_directory("/x"), "/");
    EXPECT_EQ(os::parent_directory("x.heap"), ".");
}

TEST(PlatformPaths, IsDirectoryTellsDirectoriesFromFilesAndMissingNames) {
    TempDir d;
    EXPECT_TRUE(os::is_directory(d.path()));
    ASSERT_TRUE(fmrt_unit::write_file(d.file("f"), {1}));
    EXPECT_FALSE(os::is_directory(d.file("f")));
    EXPECT_FALSE(os::is_directory(d.file("missing")));
}

TEST(PlatformMisc, RandomBytesDifferBetweenCalls) {
    uint8_t a[32] = {}, b[32] = {};
    os::random_bytes(a, sizeof a);
    os::random_bytes(b, sizeof b);
    EXPECT_NE(std::memcmp(a, b, sizeof a), 0);
    EXPECT_FALSE(fmrt_unit::all_zero(a, sizeof a));
}

TEST(PlatformMisc, ClockIsUnixTimeInNanoseconds) {
    uint64_t t1 = os::now_unix_ns();
    uint64_t t2 = os::now_unix_ns();
    EXPECT_GT(t1, 1577836800ull * 1000000000ull);  // after 2020-01-01
    EXPECT_GE(t2, t1);
}

}  // namespace
