// Locking: one writer or any number of readers per file, in this process
// (Locking) and across processes (LockingAcrossProcesses: forked children,
// and the probe program started with exec so it shares nothing with us).
// A process killed while writing leaves no stale lock.
#include "test_util.h"

using namespace fmrt_test;

namespace {

class Locking : public ::testing::Test {
protected:
    void SetUp() override {
        // An existing heap with one block of known bytes.
        fmrt_runtime *rt = nullptr;
        fmrt_options o = make_options();
        ASSERT_FMRT_OK(fmrt_runtime_open(&rt, heap().c_str(), &o));
        void *p = fmrt_malloc(rt, kDataSize);
        ASSERT_NE(p, nullptr);
        fill_pattern(p, kDataSize, 77);
        data_off_ = fmrt_ptr_to_offset(rt, p);
        ASSERT_FMRT_OK(fmrt_runtime_close(rt));
    }

    std::string heap() const { return dir_.file("heap"); }

    // Opens `path` (no CREATE); *out is NULL on failure.
    int open(fmrt_runtime **out, bool readonly, const std::string &path = "") {
        fmrt_options o = make_options(0, 0, readonly ? FMRT_OPEN_READONLY : 0u);
        *out = reinterpret_cast<fmrt_runtime *>(0x1);  // must be overwritten
        int rc = fmrt_runtime_open(out, (path.empty() ? heap() : path).c_str(), &o);
        if (rc != FMRT_OK) {
            EXPECT_EQ(*out, nullptr) << "a failed open must set *out to NULL";
        }
        return rc;
    }

    ::testing::AssertionResult DataIntact(fmrt_runtime *rt) {
        const void *p = fmrt_offset_to_ptr(rt, data_off_);
        if (fmrt_usable_size(rt, p) < kDataSize) return ::testing::AssertionFailure() << "block no longer live";
        return HasPattern(p, kDataSize, 77);
    }

    static constexpr size_t kDataSize = 5000;
    TempDir dir_;
    uint64_t data_off_ = 0;
};

class LockingAcrossProcesses : public Locking {
protected:
    // Opens the heap in a forked child and returns the status it got.
    int child_open(bool readonly) {
        ChildStatus st = run_in_child([&] {
            fmrt_options o = make_options(0, 0, readonly ? FMRT_OPEN_READONLY : 0u);
            fmrt_runtime *rt = nullptr;
            int rc = fmrt_runtime_open(&rt, heap().c_str(), &o);
            if (rc == FMRT_OK && fmrt_runtime_close(rt) != FMRT_OK) return 99;
            return status_to_exit(rc);
        });
        EXPECT_TRUE(st.exited) << st;
        return exit_to_status(st);
    }
    // Opens the heap in a fresh process (the probe) and returns its status.
    int probe_open(bool readonly) {
        ChildStatus st = run_program({probe_path(), "open", readonly ? "ro" : "rw", heap()});
        EXPECT_TRUE(st.exited) << st;
        return exit_to_status(st);
    }
    void SetUp() override {
        if (probe_path().empty()) GTEST_SKIP() << "FMRT_PROBE is not set (run through meson test)";
        Locking::SetUp();
    }
};

TEST_F(Locking, SecondWriterInTheSameProcessIsBusyUntilTheFirstCloses) {
    fmrt_runtime *a = nullptr, *b = nullptr;
    ASSERT_FMRT_OK(open(&a, false));
    EXPECT_STATUS(open(&b, false), FMRT_EBUSY);
    EXPECT_STRNE(fmrt_error_message(), "");
    EXPECT_TRUE(DataIntact(a)) << "a refused open disturbed the writer";
    ASSERT_FMRT_OK(fmrt_runtime_close(a));
    ASSERT_FMRT_OK(open(&b, false));
    EXPECT_TRUE(DataIntact(b));
    ASSERT_FMRT_OK(fmrt_runtime_close(b));
}

TEST_F(Locking, ReaderIsBusyWhileAWriterHoldsTheFile) {
    fmrt_runtime *w = nullptr, *r = nullptr;
    ASSERT_FMRT_OK(open(&w, false));
    EXPECT_STATUS(open(&r, true), FMRT_EBUSY);
    ASSERT_FMRT_OK(fmrt_runtime_close(w));
    ASSERT_FMRT_OK(open(&r, true));
    EXPECT_TRUE(DataIntact(r));
    ASSERT_FMRT_OK(fmrt_runtime_close(r));
}

TEST_F(Locking, ReadersShareTheFileAndKeepWritersOut) {
    fmrt_runtime *r1 = nullptr, *r2 = nullptr, *w = nullptr;
    ASSERT_FMRT_OK(open(&r1, true));
    ASSERT_FMRT_OK(open(&r2, true));
    EXPECT_TRUE(DataIntact(r1));
    EXPECT_TRUE(DataIntact(r2));
    EXPECT_EQ(stats_of(r1).readonly, 1);
    EXPECT_STATUS(open(&w, false), FMRT_EBUSY);
    ASSERT_FMRT_OK(fmrt_runtime_close(r1));
    EXPECT_STATUS(open(&w, false), FMRT_EBUSY) << "one reader is still open";
    ASSERT_FMRT_OK(fmrt_runtime_close(r2));
    ASSERT_FMRT_OK(open(&w, false));
    EXPECT_TRUE(DataIntact(w));
    ASSERT_FMRT_OK(fmrt_runtime_close(w));
}

TEST_F(Locking, LockBelongsToTheFileNotToThePath) {
    std::string hard = dir_.file("hardlink"), soft = dir_.file("symlink");
    ASSERT_EQ(link(heap().c_str(), hard.c_str()), 0) << std::strerror(errno);
    ASSERT_EQ(symlink(heap().c_str(), soft.c_str()), 0) << std::strerror(errno);
    fmrt_runtime *w = nullptr, *other = nullptr;
    ASSERT_FMRT_OK(open(&w, false));
    EXPECT_STATUS(open(&other, false, hard), FMRT_EBUSY);
    EXPECT_STATUS(open(&other, false, soft), FMRT_EBUSY);
    EXPECT_STATUS(open(&other, true, hard), FMRT_EBUSY);
    ASSERT_FMRT_OK(fmrt_runtime_close(w));
    ASSERT_FMRT_OK(open(&other, false, hard));
    EXPECT_TRUE(DataIntact(other));
    ASSERT_FMRT_OK(fmrt_runtime_close(other));
}

TEST_F(Locking, CreateOnAnExistingHeapOpensItAndHonoursTheLock) {
    fmrt_runtime *w = nullptr, *other = nullptr;
    fmrt_options create = make_options();  // CREATE on a file that exists
    ASSERT_FMRT_OK(fmrt_runtime_open(&w, heap().c_str(), &create));
    EXPECT_TRUE(DataIntact(w)) << "CREATE must not reformat an existing heap";
    EXPECT_STATUS(fmrt_runtime_open(&other, heap().c_str(), &create), FMRT_EBUSY);
    EXPECT_EQ(other, nullptr);
    ASSERT_FMRT_OK(fmrt_runtime_close(w));
}

TEST_F(LockingAcrossProcesses, ForkedChildIsBusyWhileTheParentWrites) {
    fmrt_runtime *w = nullptr;
    ASSERT_FMRT_OK(open(&w, false));
    EXPECT_EQ(status_name(child_open(false)), "FMRT_EBUSY");
    EXPECT_EQ(status_name(child_open(true)), "FMRT_EBUSY");
    ASSERT_FMRT_OK(fmrt_runtime_close(w));
    EXPECT_EQ(status_name(child_open(false)), "FMRT_OK");
}

TEST_F(LockingAcrossProcesses, AnotherProgramIsBusyWhileTheParentWrites) {
    fmrt_runtime *w = nullptr;
    ASSERT_FMRT_OK(open(&w, false));
    EXPECT_EQ(status_name(probe_open(false)), "FMRT_EBUSY");
    EXPECT_EQ(status_name(probe_open(true)), "FMRT_EBUSY");
    EXPECT_TRUE(DataIntact(w));
    ASSERT_FMRT_OK(fmrt_runtime_close(w));
    EXPECT_EQ(status_name(probe_open(false)), "FMRT_OK") << "the writer closed";
    EXPECT_EQ(status_name(probe_open(true)), "FMRT_OK");
}

TEST_F(LockingAcrossProcesses, AnotherProgramMayReadWhileTheParentReads) {
    fmrt_runtime *r = nullptr;
    ASSERT_FMRT_OK(open(&r, true));
    EXPECT_EQ(status_name(probe_open(true)), "FMRT_OK");
    EXPECT_EQ(status_name(child_open(true)), "FMRT_OK");
    EXPECT_EQ(status_name(probe_open(false)), "FMRT_EBUSY");
    ASSERT_FMRT_OK(fmrt_runtime_close(r));
    EXPECT_EQ(status_name(probe_open(false)), "FMRT_OK");
}

TEST_F(LockingAcrossProcesses, WriterKilledWithSigkillLeavesNoStaleLockAndItsSyncedData) {
    // The probe opens the heap read-write, allocates and syncs a block,
    // prints its offset and waits.
    const size_t kSize = 70000;
    int out = -1;
    pid_t pid = spawn_program({probe_path(), "hold", heap(), "4242", std::to_string(kSize)}, &out);
    ASSERT_GT(pid, 0);
    std::string line = read_line(out);
    close(out);
    if (line.empty()) {
        kill(pid, SIGKILL);
        FAIL() << "probe did not start: " << wait_child(pid);
    }
    uint64_t probe_off = std::strtoull(line.c_str(), nullptr, 10);
    ASSERT_NE(probe_off, 0u);

    fmrt_runtime *rt = nullptr;
    EXPECT_STATUS(open(&rt, false), FMRT_EBUSY);
    EXPECT_STATUS(open(&rt, true), FMRT_EBUSY);
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    ChildStatus st = wait_child(pid);
    EXPECT_FALSE(st.exited);
    EXPECT_EQ(st.signal, SIGKILL);

    ASSERT_FMRT_OK(open(&rt, false)) << "stale lock after the writer was killed";
    EXPECT_TRUE(DataIntact(rt)) << "data written before the killed writer opened";
    const void *p = fmrt_offset_to_ptr(rt, probe_off);
    ASSERT_NE(p, nullptr);
    EXPECT_GE(fmrt_usable_size(rt, p), kSize) << "the synced block is not live";
    EXPECT_TRUE(HasPattern(p, kSize, 4242)) << "the synced block lost its bytes";
    // New blocks do not land on the killed writer's block.
    for (int i = 0; i < 50; ++i) {
        void *q = fmrt_malloc(rt, kSize);
        ASSERT_NE(q, nullptr);
        std::memset(q, 0, kSize);
    }
    EXPECT_TRUE(HasPattern(p, kSize, 4242));
    EXPECT_TRUE(DataIntact(rt));
    ASSERT_FMRT_OK(fmrt_runtime_close(rt));
}

TEST_F(LockingAcrossProcesses, ForkedWriterKilledWithSigkillLeavesNoStaleLock) {
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    std::fflush(stdout);
    std::fflush(stderr);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        close(ready[0]);
        fmrt_runtime *rt = nullptr;
        fmrt_options o = make_options(0, 0, 0);
        char c = fmrt_runtime_open(&rt, heap().c_str(), &o) == FMRT_OK ? 'y' : 'n';
        if (c == 'y' && fmrt_malloc(rt, 1000) == nullptr) c = 'm';
        if (write(ready[1], &c, 1) != 1) _exit(3);
        for (;;) pause();
    }
    close(ready[1]);
    char c = 0;
    ASSERT_EQ(read(ready[0], &c, 1), 1);
    close(ready[0]);
    ASSERT_EQ(c, 'y');
    fmrt_runtime *rt = nullptr;
    EXPECT_STATUS(open(&rt, false), FMRT_EBUSY);
    kill(pid, SIGKILL);
    EXPECT_EQ(wait_child(pid).signal, SIGKILL);
    ASSERT_FMRT_OK(open(&rt, false));
    EXPECT_TRUE(DataIntact(rt));
    ASSERT_FMRT_OK(fmrt_runtime_close(rt));
}

}  // namespace
