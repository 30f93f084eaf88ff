// Scratch mode: a heap in an unlinked file that leaves nothing behind, after
// close (Scratch) or when its process is killed (ScratchAcrossProcesses).
#include "test_util.h"

using namespace fmrt_test;

namespace {

fmrt_options scratch_options(unsigned flags = FMRT_OPEN_CREATE) {
    return make_options(0, kTestMaxSize, flags, FMRT_MODE_SCRATCH);
}

// Allocates, fills, checks and frees a mix of blocks; "" when all is well.
std::string exercise(fmrt_runtime *rt) {
    std::vector<std::pair<void *, size_t>> blocks;
    for (int i = 0; i < 300; ++i) {
        size_t size = i % 50 == 0 ? 300 * KiB : 16 + 8 * i;
        void *p = i % 3 == 0 ? fmrt_calloc(rt, 1, size) : fmrt_malloc(rt, size);
        if (p == nullptr) return std::string("allocation failed: ") + fmrt_error_message();
        if (i % 3 == 0 && !IsZero(p, size)) return "calloc not zeroed";
        fill_pattern(p, size, i);
        blocks.push_back({p, size});
    }
    for (size_t i = 0; i < blocks.size(); i += 2) {
        void *q = fmrt_realloc(rt, blocks[i].first, blocks[i].second * 3);
        if (q == nullptr) return "realloc failed";
        if (!pattern_error(q, blocks[i].second, i).empty()) return "realloc lost bytes";
        fill_pattern(q, blocks[i].second * 3, i);
        blocks[i] = {q, blocks[i].second * 3};
    }
    fmrt_stats s = FMRT_STATS_INIT;
    if (fmrt_runtime_stats(&s, rt) != FMRT_OK) return "stats failed";
    if (s.live_allocations != blocks.size()) return "live_allocations " + std::to_string(s.live_allocations);
    if (s.persistent != 0) return "stats.persistent is not 0";
    for (size_t i = 0; i < blocks.size(); ++i) {
        std::string e = pattern_error(blocks[i].first, blocks[i].second, i);
        if (!e.empty()) return "block " + std::to_string(i) + ": " + e;
        if (fmrt_free(rt, blocks[i].first) != 0) return "free failed";
    }
    return "";
}

class Scratch : public ::testing::Test {
protected:
    TempDir dir_;
};

class ScratchAcrossProcesses : public Scratch {};

TEST_F(Scratch, InADirectoryLeavesNoFileWhileOpenOrAfterClose) {
    fmrt_runtime *rt = nullptr;
    fmrt_options o = scratch_options();
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt, dir_.path().c_str(), &o));
    EXPECT_TRUE(dir_.entries().empty()) << "a scratch file is visible: " << dir_.entries()[0];
    EXPECT_EQ(exercise(rt), "");
    ASSERT_NE(fmrt_runtime_path(rt), nullptr);
    EXPECT_EQ(std::string(fmrt_runtime_path(rt)), dir_.path());
    EXPECT_FMRT_OK(fmrt_runtime_sync(rt));  // does nothing, returns 0
    EXPECT_TRUE(dir_.entries().empty());
    ASSERT_FMRT_OK(fmrt_runtime_close(rt));
    EXPECT_TRUE(dir_.entries().empty());
}

TEST_F(Scratch, WithANewFilePathTheFileIsUnlinkedAtOnce) {
    std::string path = dir_.file("scratch.heap");
    fmrt_runtime *rt = nullptr;
    fmrt_options o = scratch_options();
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt, path.c_str(), &o));
    EXPECT_FALSE(path_exists(path)) << "scratch file still has its name";
    EXPECT_TRUE(dir_.entries().empty());
    ASSERT_NE(fmrt_runtime_path(rt), nullptr);
    EXPECT_EQ(std::string(fmrt_runtime_path(rt)), path);
    EXPECT_EQ(exercise(rt), "");
    ASSERT_FMRT_OK(fmrt_runtime_close(rt));
    EXPECT_FALSE(path_exists(path));
}

TEST_F(Scratch, WithAnExistingFilePathIsRefusedAndTheFileIsLeftAlone) {
    std::string path = dir_.file("precious");
    write_file(path, "do not touch\n");
    FileSnapshot before = FileSnapshot::of(path);
    fmrt_runtime *rt = reinterpret_cast<fmrt_runtime *>(0x1);
    fmrt_options o = scratch_options();
    int rc = fmrt_runtime_open(&rt, path.c_str(), &o);
    EXPECT_TRUE(rc == FMRT_EEXISTS || rc == FMRT_EINVAL) << status_name(rc) << ": " << fmrt_error_message();
    EXPECT_EQ(rt, nullptr);
    EXPECT_TRUE(Unchanged(before, path));
}

TEST_F(Scratch, WithNullPathUsesTMPDIR) {
    const char *old = std::getenv("TMPDIR");
    std::string saved = old != nullptr ? old : "";
    setenv("TMPDIR", dir_.path().c_str(), 1);
    fmrt_runtime *rt = nullptr;
    fmrt_options o = scratch_options();
    int rc = fmrt_runtime_open(&rt, nullptr, &o);
    if (old != nullptr) setenv("TMPDIR", saved.c_str(), 1);
    else unsetenv("TMPDIR");
    ASSERT_FMRT_OK(rc);
    ASSERT_NE(fmrt_runtime_path(rt), nullptr);
    EXPECT_EQ(std::filesystem::weakly_canonical(fmrt_runtime_path(rt)),
              std::filesystem::weakly_canonical(dir_.path()))
        << "the directory used";
    EXPECT_TRUE(dir_.entries().empty());
    EXPECT_EQ(exercise(rt), "");
    ASSERT_FMRT_OK(fmrt_runtime_close(rt));
    EXPECT_TRUE(dir_.entries().empty());
}

TEST_F(Scratch, CombinedWithReadOnlyIsInvalid) {
    for (const char *path : {static_cast<const char *>(nullptr), dir_.path().c_str()}) {
        fmrt_runtime *rt = reinterpret_cast<fmrt_runtime *>(0x1);
        fmrt_options o = scratch_options(FMRT_OPEN_CREATE | FMRT_OPEN_READONLY);
        EXPECT_STATUS(fmrt_runtime_open(&rt, path, &o), FMRT_EINVAL);
        EXPECT_EQ(rt, nullptr);
        o = scratch_options(FMRT_OPEN_READONLY);
        EXPECT_STATUS(fmrt_runtime_open(&rt, path, &o), FMRT_EINVAL);
    }
    EXPECT_TRUE(dir_.entries().empty());
}

TEST_F(Scratch, RuntimesInOneDirectoryAreIndependentAndGrow) {
    fmrt_runtime *a = nullptr, *b = nullptr;
    fmrt_options o = make_options(MiB, kTestMaxSize, FMRT_OPEN_CREATE, FMRT_MODE_SCRATCH);
    ASSERT_FMRT_OK(fmrt_runtime_open(&a, dir_.path().c_str(), &o));
    ASSERT_FMRT_OK(fmrt_runtime_open(&b, dir_.path().c_str(), &o)) << "scratch files never conflict";
    std::vector<void *> pa;
    for (int i = 0; i < 40; ++i) {  // 40 MiB: the scratch file grows
        void *p = fmrt_malloc(a, MiB);
        ASSERT_NE(p, nullptr) << fmrt_error_message();
        fill_pattern(p, MiB, i);
        pa.push_back(p);
    }
    void *pb = fmrt_malloc(b, 100);
    ASSERT_NE(pb, nullptr);
    EXPECT_EQ(fmrt_free(b, pa[0]), FMRT_EINVAL);
    EXPECT_GT(stats_of(a).mapped_bytes, 40 * MiB);
    EXPECT_LT(stats_of(b).mapped_bytes, 40 * MiB);
    EXPECT_EQ(stats_of(b).live_allocations, 1u);
    for (int i = 0; i < 40; ++i) ASSERT_TRUE(HasPattern(pa[i], MiB, i));
    ASSERT_FMRT_OK(fmrt_runtime_close(a));
    ASSERT_FMRT_OK(fmrt_runtime_close(b));
    EXPECT_TRUE(dir_.entries().empty());
}

TEST_F(ScratchAcrossProcesses, KilledProgramLeavesNoScratchFile) {
    if (probe_path().empty()) GTEST_SKIP() << "FMRT_PROBE is not set (run through meson test)";
    int out = -1;
    pid_t pid = spawn_program({probe_path(), "scratch-hold", dir_.path(), "5", "100000"}, &out);
    ASSERT_GT(pid, 0);
    std::string line = read_line(out);
    close(out);
    if (line.empty()) {
        kill(pid, SIGKILL);
        FAIL() << "probe did not start: " << wait_child(pid);
    }
    EXPECT_NE(std::strtoull(line.c_str(), nullptr, 10), 0u);
    EXPECT_TRUE(dir_.entries().empty()) << "visible while the holder lives";
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    EXPECT_EQ(wait_child(pid).signal, SIGKILL);
    EXPECT_TRUE(dir_.entries().empty()) << "left behind by the killed holder";
}

TEST_F(ScratchAcrossProcesses, KilledChildLeavesNoScratchFileInDirectoryOrAtAPath) {
    for (bool at_path : {false, true}) {
        std::string target = at_path ? dir_.file("s.heap") : dir_.path();
        int ready[2];
        ASSERT_EQ(pipe(ready), 0);
        std::fflush(stdout);
        std::fflush(stderr);
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            close(ready[0]);
            fmrt_runtime *rt = nullptr;
            fmrt_options o = scratch_options();
            char c = 'y';
            if (fmrt_runtime_open(&rt, target.c_str(), &o) != FMRT_OK) c = 'o';
            else if (!exercise(rt).empty()) c = 'x';
            else if (void *p = fmrt_malloc(rt, 10 * MiB)) std::memset(p, 1, 10 * MiB);
            else c = 'm';
            if (write(ready[1], &c, 1) != 1) _exit(3);
            for (;;) pause();
        }
        close(ready[1]);
        char c = 0;
        EXPECT_EQ(read(ready[0], &c, 1), 1);
        close(ready[0]);
        EXPECT_EQ(c, 'y') << "child failed before it was killed";
        EXPECT_TRUE(dir_.entries().empty());
        kill(pid, SIGKILL);
        EXPECT_EQ(wait_child(pid).signal, SIGKILL);
        EXPECT_TRUE(dir_.entries().empty()) << (at_path ? "path" : "directory");
        EXPECT_FALSE(path_exists(dir_.file("s.heap")));
    }
}

}  // namespace
