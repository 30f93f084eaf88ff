// fmrt_runtime_copy, the online backup: a copy of an open heap holds every
// committed catalog entry with its bytes and opens as a recovered heap,
// also while other threads allocate and change the catalog; the source is
// untouched; an existing destination is never replaced; bad arguments and
// an unwritable destination are errors that leave nothing behind.
#include "test_util.h"

#include <atomic>
#include <thread>

using namespace fmrt_test;

namespace {

class RuntimeCopy : public ::testing::Test {
protected:
    void TearDown() override {
        if (rt_ != nullptr) {
            EXPECT_FMRT_OK(fmrt_runtime_close(rt_));
        }
    }
    void open_source(fmrt_mode mode = FMRT_MODE_PERSISTENT) {
        fmrt_options o = make_options(0, kTestMaxSize, FMRT_OPEN_CREATE, mode);
        ASSERT_FMRT_OK(fmrt_runtime_open(&rt_, mode == FMRT_MODE_SCRATCH ? dir_.path().c_str() : src().c_str(), &o));
    }
    // Puts `name` -> a new allocation of `size` bytes filled with `seed`'s pattern.
    void put(const std::string &name, size_t size, uint64_t seed) {
        void *p = fmrt_malloc(rt_, size);
        ASSERT_NE(p, nullptr) << fmrt_error_message();
        fill_pattern(p, size, seed);
        ASSERT_FMRT_OK(fmrt_catalog_put(rt_, name.c_str(), p, size, 7, &seed, sizeof seed, 0));
    }
    // Opens `path` and checks `name` holds `size` bytes of `seed`'s pattern.
    static void expect_entry(fmrt_runtime *rt, const std::string &name, size_t size, uint64_t seed) {
        fmrt_entry e = FMRT_ENTRY_INIT;
        ASSERT_FMRT_OK(fmrt_catalog_get(&e, rt, name.c_str())) << name;
        EXPECT_EQ(e.size, size) << name;
        EXPECT_EQ(e.type, 7u) << name;
        EXPECT_TRUE(HasPattern(e.ptr, size, seed)) << name;
    }
    static fmrt_report verify(const std::string &path) {
        fmrt_report r = FMRT_REPORT_INIT;
        EXPECT_FMRT_OK(fmrt_verify_path(&r, path.c_str()));
        return r;
    }
    std::string src() const { return dir_.file("src.heap"); }

    TempDir dir_;
    fmrt_runtime *rt_ = nullptr;
};

TEST_F(RuntimeCopy, CopyHoldsEveryEntryAndOpensAsARecoveredHeap) {
    open_source();
    for (int i = 0; i < 50; ++i) put("small" + std::to_string(i), 16 + 37 * i, i);
    put("big", 3 * MiB, 99);
    // State only a recovery gives back: slots cached by this thread, a
    // transient allocation, an unnamed durable one.
    for (int i = 0; i < 20; ++i) ASSERT_FMRT_OK(fmrt_free(rt_, fmrt_malloc(rt_, 48)));
    ASSERT_NE(fmrt_alloc(rt_, 5000, 0, FMRT_ALLOC_TRANSIENT), nullptr);
    void *unnamed = fmrt_malloc(rt_, 300);
    ASSERT_NE(unnamed, nullptr);
    const fmrt_stats before = stats_of(rt_);

    const std::string dst = dir_.file("backup.heap");
    ASSERT_FMRT_OK(fmrt_runtime_copy(rt_, dst.c_str()));
    EXPECT_EQ(file_size_on_disk(dst), file_size_on_disk(src()));
    fmrt_report r = verify(dst);
    EXPECT_EQ(r.problems, 0u);
    EXPECT_EQ(r.catalog_entries, 51u);
    EXPECT_EQ(r.clean, 0) << "a copy of an open heap is as if its writer had stopped";

    fmrt_runtime *copy = nullptr;
    fmrt_options o = make_options(0, 0, 0);
    ASSERT_FMRT_OK(fmrt_runtime_open(&copy, dst.c_str(), &o));
    for (int i = 0; i < 50; ++i) expect_entry(copy, "small" + std::to_string(i), 16 + 37 * i, i);
    expect_entry(copy, "big", 3 * MiB, 99);
    const fmrt_stats s = stats_of(copy);
    EXPECT_EQ(s.transient_allocations, 0u) << "reclaimed at the copy's open";
    EXPECT_EQ(before.transient_allocations, 1u);
    EXPECT_EQ(s.live_allocations, before.live_allocations - 1)
        << "the source's live allocations (entries, catalog storage, the unnamed one) but the transient";
    EXPECT_EQ(s.catalog_entries, 51u);
    // The copy is a heap of its own: writing to it leaves the source alone.
    ASSERT_FMRT_OK(fmrt_catalog_remove(copy, "big", 1));
    ASSERT_FMRT_OK(fmrt_runtime_close(copy));

    // The source is unchanged and goes on.
    EXPECT_EQ(stats_of(rt_).live_allocations, before.live_allocations);
    expect_entry(rt_, "big", 3 * MiB, 99);
    put("after", 100, 5);
}

TEST_F(RuntimeCopy, AnExistingDestinationIsNeverReplaced) {
    open_source();
    put("a", 100, 1);
    const std::string dst = dir_.file("taken");
    {
        FILE *f = std::fopen(dst.c_str(), "w");
        ASSERT_NE(f, nullptr);
        std::fputs("precious", f);
        std::fclose(f);
    }
    EXPECT_STATUS(fmrt_runtime_copy(rt_, dst.c_str()), FMRT_EEXISTS);
    EXPECT_NE(std::string(fmrt_error_message()).find("taken"), std::string::npos) << fmrt_error_message();
    EXPECT_EQ(file_size_on_disk(dst), 8u);
    EXPECT_STATUS(fmrt_runtime_copy(rt_, dir_.path().c_str()), FMRT_EEXISTS) << "a directory";
}

TEST_F(RuntimeCopy, BadArgumentsAndAnUnwritableDestinationLeaveNothingBehind) {
    EXPECT_STATUS(fmrt_runtime_copy(nullptr, dir_.file("x").c_str()), FMRT_EINVAL);
    int not_a_runtime = 0;
    EXPECT_STATUS(fmrt_runtime_copy(reinterpret_cast<fmrt_runtime *>(&not_a_runtime), dir_.file("x").c_str()),
                  FMRT_EINVAL);
    open_source();
    EXPECT_STATUS(fmrt_runtime_copy(rt_, nullptr), FMRT_EINVAL);
    EXPECT_STATUS(fmrt_runtime_copy(rt_, ""), FMRT_EINVAL);
    EXPECT_STATUS(fmrt_runtime_copy(rt_, dir_.file("no/such/dir/x").c_str()), FMRT_EIO);
    EXPECT_FALSE(std::filesystem::exists(dir_.file("x")));
    size_t files = 0;
    for (const auto &e : std::filesystem::directory_iterator(dir_.path())) {
        (void)e;
        ++files;
    }
    EXPECT_EQ(files, 1u) << "only the source: no temporary file left";
}

// Other threads allocating, freeing and changing the catalog while copies
// are made: every copy verifies and holds every entry committed before it.
// More than fmrt.h promises (it asks for quiet threads); it holds because
// the copy reads each cache block's counts before its stacks, and a push
// stores the entry before the count.
TEST_F(RuntimeCopy, CopiesMadeWhileOtherThreadsWorkAreConsistent) {
    open_source();
    for (int i = 0; i < 30; ++i) put("fixed" + std::to_string(i), 200 + i * 50, 1000 + i);
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> ops{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < 2; ++t) {
        workers.emplace_back([&, t] {
            Rng rng(t + 1);
            std::vector<void *> held;
            uint64_t k = 0;
            while (!stop.load()) {
                const size_t size = 16 + rng.next() % 20000;
                void *p = fmrt_malloc(rt_, size);
                if (p != nullptr) held.push_back(p);
                if (held.size() > 200 || (rng.next() & 1)) {
                    if (!held.empty()) {
                        fmrt_free(rt_, held.back());
                        held.pop_back();
                    }
                }
                const std::string name = "churn" + std::to_string(t) + "-" + std::to_string(k++ % 40);
                void *q = fmrt_malloc(rt_, 64);
                if (q != nullptr && fmrt_catalog_put(rt_, name.c_str(), q, 64, 1, nullptr, 0, FMRT_PUT_REPLACE | FMRT_PUT_FREE_REPLACED) != FMRT_OK) {
                    fmrt_free(rt_, q);
                }
                ops.fetch_add(1);
            }
            for (void *p : held) fmrt_free(rt_, p);
        });
    }
    for (int c = 0; c < 5; ++c) {
        while (ops.load() < static_cast<uint64_t>(c + 1) * 300) std::this_thread::yield();
        const std::string dst = dir_.file("copy" + std::to_string(c));
        ASSERT_FMRT_OK(fmrt_runtime_copy(rt_, dst.c_str()));
        fmrt_report r = verify(dst);
        EXPECT_EQ(r.problems, 0u) << "copy " << c;
        fmrt_runtime *copy = nullptr;
        fmrt_options o = make_options(0, 0, 0);
        ASSERT_FMRT_OK(fmrt_runtime_open(&copy, dst.c_str(), &o));
        for (int i = 0; i < 30; ++i) expect_entry(copy, "fixed" + std::to_string(i), 200 + i * 50, 1000 + i);
        fmrt_report rv = FMRT_REPORT_INIT;
        ASSERT_FMRT_OK(fmrt_runtime_verify(&rv, copy));
        EXPECT_EQ(rv.problems, 0u) << "copy " << c << " after its recovering open";
        ASSERT_FMRT_OK(fmrt_runtime_close(copy));
    }
    stop.store(true);
    for (std::thread &w : workers) w.join();
}

// A scratch heap saved to a file becomes a persistent heap.
TEST_F(RuntimeCopy, AScratchHeapCanBeSavedToAFile) {
    open_source(FMRT_MODE_SCRATCH);
    put("kept", 4000, 42);
    const std::string dst = dir_.file("saved.heap");
    ASSERT_FMRT_OK(fmrt_runtime_copy(rt_, dst.c_str()));
    ASSERT_FMRT_OK(fmrt_runtime_close(rt_));
    rt_ = nullptr;
    fmrt_runtime *copy = nullptr;
    fmrt_options o = make_options(0, 0, 0);
    ASSERT_FMRT_OK(fmrt_runtime_open(&copy, dst.c_str(), &o));
    expect_entry(copy, "kept", 4000, 42);
    ASSERT_FMRT_OK(fmrt_runtime_close(copy));
}

// A read-only runtime can be copied (the backup of a heap others read).
TEST_F(RuntimeCopy, AReadOnlyRuntimeCanBeCopied) {
    open_source();
    put("r", 777, 3);
    ASSERT_FMRT_OK(fmrt_runtime_close(rt_));
    fmrt_options ro = make_options(0, 0, FMRT_OPEN_READONLY);
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt_, src().c_str(), &ro));
    const std::string dst = dir_.file("ro-copy.heap");
    ASSERT_FMRT_OK(fmrt_runtime_copy(rt_, dst.c_str()));
    EXPECT_EQ(verify(dst).problems, 0u);
    EXPECT_EQ(verify(dst).clean, 1) << "a cleanly closed heap, copied while only read";
    fmrt_runtime *copy = nullptr;
    fmrt_options o = make_options(0, 0, 0);
    ASSERT_FMRT_OK(fmrt_runtime_open(&copy, dst.c_str(), &o));
    expect_entry(copy, "r", 777, 3);
    ASSERT_FMRT_OK(fmrt_runtime_close(copy));
}

}  // namespace
