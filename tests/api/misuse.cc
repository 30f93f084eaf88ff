// Misuse: NULL arguments to every function, foreign and interior pointers,
// double free, double close, retain/release balance (and the deferred unmap
// it promises), writes on a read-only runtime, bad options and versions,
// and the status texts.  Each misuse gets its documented code and leaves the
// heap working.
#include "test_util.h"

#include <climits>
#include <set>
#include <thread>

using namespace fmrt_test;

namespace {

class Misuse : public ::testing::Test {
protected:
    void SetUp() override {
        fmrt_options o = make_options();
        ASSERT_FMRT_OK(fmrt_runtime_open(&rt_, heap().c_str(), &o));
    }
    void TearDown() override {
        if (rt_ != nullptr) {
            EXPECT_FMRT_OK(fmrt_runtime_close(rt_));
        }
    }
    std::string heap() const { return dir_.file("heap"); }
    void close_rt() {
        ASSERT_FMRT_OK(fmrt_runtime_close(rt_));
        rt_ = nullptr;
    }
    void prime_status_enomem() { EXPECT_EQ(fmrt_calloc(rt_, SIZE_MAX, 2), nullptr); }
    void prime_status_einval() { EXPECT_EQ(fmrt_malloc(nullptr, 1), nullptr); }
    void prime_status_enotfound() {
        fmrt_runtime *rt = nullptr;
        fmrt_options o = make_options(0, 0, 0);
        EXPECT_EQ(fmrt_runtime_open(&rt, dir_.file("missing").c_str(), &o), FMRT_ENOTFOUND);
    }

    TempDir dir_;
    fmrt_runtime *rt_ = nullptr;
};

// ---- NULL arguments -----------------------------------------------------------

TEST_F(Misuse, NullRuntimeMakesAllocationFunctionsReturnNullWithEINVAL) {
    prime_status_enomem();
    EXPECT_EQ(fmrt_malloc(nullptr, 10), nullptr);
    EXPECT_LAST_STATUS(FMRT_EINVAL);
    prime_status_enomem();
    EXPECT_EQ(fmrt_calloc(nullptr, 1, 10), nullptr);
    EXPECT_LAST_STATUS(FMRT_EINVAL);
    prime_status_enomem();
    EXPECT_EQ(fmrt_realloc(nullptr, nullptr, 10), nullptr);
    EXPECT_LAST_STATUS(FMRT_EINVAL);
    prime_status_enomem();
    EXPECT_EQ(fmrt_aligned_alloc(nullptr, 64, 10), nullptr);
    EXPECT_LAST_STATUS(FMRT_EINVAL);
    EXPECT_STRNE(fmrt_error_message(), "");
}

TEST_F(Misuse, NullRuntimeIsRejectedByEveryOtherFunction) {
    void *p = fmrt_malloc(rt_, 100);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(fmrt_free(nullptr, p), FMRT_EINVAL);
    EXPECT_EQ(fmrt_usable_size(nullptr, p), 0u);
    EXPECT_EQ(fmrt_ptr_to_offset(nullptr, p), 0u);
    EXPECT_EQ(fmrt_offset_to_ptr(nullptr, 8192), nullptr);
    EXPECT_EQ(fmrt_runtime_path(nullptr), nullptr);
    EXPECT_EQ(fmrt_runtime_sync(nullptr), FMRT_EINVAL);
    EXPECT_EQ(fmrt_runtime_retain(nullptr), FMRT_EINVAL);
    EXPECT_EQ(fmrt_runtime_release(nullptr), FMRT_EINVAL);
    fmrt_stats s = FMRT_STATS_INIT;
    EXPECT_EQ(fmrt_runtime_stats(&s, nullptr), FMRT_EINVAL);
    EXPECT_EQ(fmrt_runtime_stats(nullptr, rt_), FMRT_EINVAL);
    EXPECT_EQ(fmrt_runtime_close(nullptr), 0) << "close accepts NULL";
    EXPECT_GE(fmrt_usable_size(rt_, p), 100u) << "p still live";
    EXPECT_EQ(fmrt_free(rt_, p), 0);
}

TEST_F(Misuse, FreeOfNullReturnsZero) { EXPECT_EQ(fmrt_free(rt_, nullptr), 0); }

TEST_F(Misuse, OpenRejectsNullOutAndNullPersistentPath) {
    fmrt_options o = make_options();
    EXPECT_STATUS(fmrt_runtime_open(nullptr, heap().c_str(), &o), FMRT_EINVAL);
    EXPECT_STATUS(fmrt_runtime_open(nullptr, dir_.file("other").c_str(), &o), FMRT_EINVAL);
    EXPECT_FALSE(path_exists(dir_.file("other"))) << "created a file for a call that failed";
    fmrt_runtime *rt = reinterpret_cast<fmrt_runtime *>(0x1);
    EXPECT_STATUS(fmrt_runtime_open(&rt, nullptr, &o), FMRT_EINVAL);
    EXPECT_EQ(rt, nullptr);
    rt = reinterpret_cast<fmrt_runtime *>(0x1);
    EXPECT_STATUS(fmrt_runtime_open(&rt, nullptr, nullptr), FMRT_EINVAL);
    EXPECT_EQ(rt, nullptr);
}

TEST_F(Misuse, NullOptionsMeanTheDefaults) {
    if (on_valgrind()) GTEST_SKIP() << "valgrind cannot reserve the default 256 GiB of address space";
    fmrt_runtime *rt = nullptr;
    std::string path = dir_.file("defaults");
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt, path.c_str(), nullptr)) << "defaults include CREATE";
    fmrt_stats s = stats_of(rt);
    EXPECT_EQ(s.mapped_bytes, MiB);
    EXPECT_EQ(s.reserved_bytes, 256 * GiB);
    EXPECT_EQ(s.persistent, 1);
    EXPECT_EQ(s.readonly, 0);
    EXPECT_FMRT_OK(fmrt_runtime_close(rt));
    EXPECT_EQ(file_size_on_disk(path), MiB);
}

// ---- Foreign pointers -----------------------------------------------------------

TEST_F(Misuse, FreeingForeignPointersIsEINVALAndChangesNothing) {
    const size_t kSmall = 256, kLarge = 300 * KiB;
    char *small = static_cast<char *>(fmrt_malloc(rt_, kSmall));
    char *large = static_cast<char *>(fmrt_malloc(rt_, kLarge));
    ASSERT_NE(small, nullptr);
    ASSERT_NE(large, nullptr);
    fill_pattern(small, kSmall, 1);
    fill_pattern(large, kLarge, 2);
    fmrt_stats before = stats_of(rt_);

    int on_stack = 0;
    void *libc = std::malloc(128);
    const struct {
        const char *what;
        void *p;
    } foreign[] = {
        {"stack address", &on_stack},
        {"libc malloc block", libc},
        {"interior of a small block (+1)", small + 1},
        {"interior of a small block (+16)", small + 16},
        {"interior of a small block (+128)", small + 128},
        {"interior of a large block (+16)", large + 16},
        {"interior of a large block (+4096)", large + 4096},
        {"interior of a large block (+200 KiB)", large + 200 * KiB},
        {"superblock copy 0 (offset 0)", const_cast<char *>(static_cast<const char *>(fmrt_offset_to_ptr(rt_, 1))) - 1},
        {"superblock (offset 64)", fmrt_offset_to_ptr(rt_, 64)},
        {"superblock copy 1 (offset 4096)", fmrt_offset_to_ptr(rt_, 4096)},
        {"first heap page (offset 8192)", fmrt_offset_to_ptr(rt_, 8192)},
        {"one byte before a large block", large - 1},
        {"the large block's header page", large - 4096},
    };
    for (const auto &f : foreign) {
        EXPECT_EQ(fmrt_free(rt_, f.p), FMRT_EINVAL) << f.what;
        EXPECT_EQ(fmrt_usable_size(rt_, f.p), 0u) << f.what;
        prime_status_enomem();
        EXPECT_EQ(fmrt_realloc(rt_, f.p, 64), nullptr) << f.what;
        EXPECT_LAST_STATUS(FMRT_EINVAL) << " (" << f.what << ")";
    }
    std::free(libc);

    fmrt_stats after = stats_of(rt_);
    EXPECT_EQ(after.live_allocations, before.live_allocations);
    EXPECT_EQ(after.in_use_bytes, before.in_use_bytes);
    EXPECT_TRUE(HasPattern(small, kSmall, 1));
    EXPECT_TRUE(HasPattern(large, kLarge, 2));
    // The heap still works: new blocks do not land on the live ones.
    std::vector<void *> more;
    for (int i = 0; i < 100; ++i) {
        more.push_back(fmrt_malloc(rt_, i % 2 ? kSmall : kLarge));
        ASSERT_NE(more.back(), nullptr);
        std::memset(more.back(), 0, i % 2 ? kSmall : kLarge);
    }
    EXPECT_TRUE(HasPattern(small, kSmall, 1));
    EXPECT_TRUE(HasPattern(large, kLarge, 2));
    for (void *p : more) EXPECT_EQ(fmrt_free(rt_, p), 0);
    EXPECT_EQ(fmrt_free(rt_, small), 0);
    EXPECT_EQ(fmrt_free(rt_, large), 0);
    ASSERT_NO_FATAL_FAILURE(close_rt());
    fmrt_options o = make_options(0, 0, 0);  // and the file reopens
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt_, heap().c_str(), &o));
    EXPECT_EQ(stats_of(rt_).live_allocations, 0u);
}

TEST_F(Misuse, DoubleFreeIsEINVALAndDoesNotHandOutABlockTwice) {
    for (size_t size : {size_t(32), size_t(1000), size_t(100 * KiB)}) {
        void *p = fmrt_malloc(rt_, size);
        ASSERT_NE(p, nullptr);
        EXPECT_EQ(fmrt_free(rt_, p), 0);
        EXPECT_EQ(fmrt_free(rt_, p), FMRT_EINVAL) << "size " << size;
        EXPECT_EQ(fmrt_free(rt_, p), FMRT_EINVAL) << "size " << size;
        EXPECT_EQ(stats_of(rt_).live_allocations, 0u);
        std::set<void *> seen;
        for (int i = 0; i < 64; ++i) {
            void *q = fmrt_malloc(rt_, size);
            ASSERT_NE(q, nullptr);
            EXPECT_TRUE(seen.insert(q).second) << "block " << q << " handed out twice after a double free";
        }
        for (void *q : seen) EXPECT_EQ(fmrt_free(rt_, q), 0);
    }
}

TEST_F(Misuse, DoubleFreeFromAnotherThreadIsEINVALAndDoesNotHandOutABlockTwice) {
    for (size_t size : {size_t(64), size_t(700)}) {
        // Freed here (it may sit in this thread's cache) ...
        void *p = fmrt_malloc(rt_, size);
        ASSERT_NE(p, nullptr);
        ASSERT_EQ(fmrt_free(rt_, p), 0);
        // ... and freed again by another thread, which then exits.
        int rc = 12345;
        std::thread([&] { rc = fmrt_free(rt_, p); }).join();
        EXPECT_EQ(status_name(rc), "FMRT_EINVAL") << "size " << size;
        EXPECT_EQ(stats_of(rt_).live_allocations, 0u);
        std::set<void *> seen;
        std::vector<void *> all;
        for (int i = 0; i < 2000; ++i) {
            void *q = fmrt_malloc(rt_, size);
            ASSERT_NE(q, nullptr);
            all.push_back(q);
            EXPECT_TRUE(seen.insert(q).second) << "block " << q << " handed out twice (size " << size << ")";
        }
        for (void *q : all) EXPECT_EQ(fmrt_free(rt_, q), 0);
    }
}

// ---- Close, retain, release --------------------------------------------------------

TEST_F(Misuse, DoubleCloseIsEINVAL) {
    ASSERT_FMRT_OK(fmrt_runtime_close(rt_));
    EXPECT_STATUS(fmrt_runtime_close(rt_), FMRT_EINVAL);
    rt_ = nullptr;
    // The file was closed properly: it opens again.
    fmrt_options o = make_options(0, 0, 0);
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt_, heap().c_str(), &o));
}

TEST_F(Misuse, ClosedHandleIsRejectedByEveryFunction) {
    fmrt_runtime *closed = rt_;
    ASSERT_NO_FATAL_FAILURE(close_rt());
    prime_status_enotfound();
    EXPECT_EQ(fmrt_malloc(closed, 10), nullptr);
    EXPECT_LAST_STATUS(FMRT_EINVAL);
    EXPECT_EQ(fmrt_free(closed, nullptr), 0) << "NULL is accepted";
    EXPECT_EQ(fmrt_runtime_sync(closed), FMRT_EINVAL);
    EXPECT_EQ(fmrt_runtime_retain(closed), FMRT_EINVAL);
    EXPECT_EQ(fmrt_runtime_release(closed), FMRT_EINVAL);
    EXPECT_EQ(fmrt_runtime_path(closed), nullptr);
    fmrt_stats s = FMRT_STATS_INIT;
    EXPECT_EQ(fmrt_runtime_stats(&s, closed), FMRT_EINVAL);
    EXPECT_EQ(fmrt_offset_to_ptr(closed, 8192), nullptr);
}

TEST_F(Misuse, RetainDefersTheFinalCloseUntilTheLastRelease) {
    char *p = static_cast<char *>(fmrt_malloc(rt_, 4000));
    ASSERT_NE(p, nullptr);
    fill_pattern(p, 4000, 3);
    ASSERT_FMRT_OK(fmrt_runtime_retain(rt_));
    ASSERT_FMRT_OK(fmrt_runtime_retain(rt_));
    ASSERT_FMRT_OK(fmrt_runtime_close(rt_));  // close requested; two references left
    // The mapping stays and the handle stays usable.
    EXPECT_TRUE(HasPattern(p, 4000, 3));
    void *q = fmrt_malloc(rt_, 20000);
    ASSERT_NE(q, nullptr) << "allocation through a retained handle: " << fmrt_error_message();
    fill_pattern(q, 20000, 4);
    uint64_t q_off = fmrt_ptr_to_offset(rt_, q);
    EXPECT_NE(q_off, 0u);
    EXPECT_NE(fmrt_runtime_path(rt_), nullptr);
    EXPECT_EQ(stats_of(rt_).live_allocations, 2u);
    EXPECT_STATUS(fmrt_runtime_close(rt_), FMRT_EINVAL) << "close was already requested";
    ASSERT_FMRT_OK(fmrt_runtime_release(rt_));
    EXPECT_TRUE(HasPattern(p, 4000, 3)) << "unmapped while one reference remains";
    EXPECT_TRUE(HasPattern(q, 20000, 4));
    ASSERT_FMRT_OK(fmrt_runtime_release(rt_));  // the final close
    EXPECT_STATUS(fmrt_runtime_release(rt_), FMRT_EINVAL) << "no reference left";
    fmrt_runtime *closed = rt_;
    rt_ = nullptr;
    EXPECT_EQ(fmrt_malloc(closed, 10), nullptr);

    // The final close flushed what was written after close was requested.
    fmrt_options o = make_options(0, 0, 0);
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt_, heap().c_str(), &o)) << "the final close released the lock";
    EXPECT_EQ(stats_of(rt_).live_allocations, 2u);
    const void *q2 = fmrt_offset_to_ptr(rt_, q_off);
    EXPECT_GE(fmrt_usable_size(rt_, q2), 20000u);
    EXPECT_TRUE(HasPattern(q2, 20000, 4));
}

TEST_F(Misuse, RetainedHandleKeepsTheFileLocked) {
    ASSERT_FMRT_OK(fmrt_runtime_retain(rt_));
    ASSERT_FMRT_OK(fmrt_runtime_close(rt_));
    fmrt_runtime *other = nullptr;
    fmrt_options o = make_options(0, 0, 0);
    EXPECT_STATUS(fmrt_runtime_open(&other, heap().c_str(), &o), FMRT_EBUSY);
    ASSERT_FMRT_OK(fmrt_runtime_release(rt_));
    rt_ = nullptr;
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt_, heap().c_str(), &o));
}

TEST_F(Misuse, ReleaseWithoutRetainIsEINVAL) {
    EXPECT_STATUS(fmrt_runtime_release(rt_), FMRT_EINVAL);
    // The handle is still open and working.
    void *p = fmrt_malloc(rt_, 10);
    ASSERT_NE(p, nullptr);
    ASSERT_FMRT_OK(fmrt_runtime_retain(rt_));
    ASSERT_FMRT_OK(fmrt_runtime_release(rt_));
    EXPECT_STATUS(fmrt_runtime_release(rt_), FMRT_EINVAL);
    EXPECT_GE(fmrt_usable_size(rt_, p), 10u);
}

// ---- Read-only runtimes -----------------------------------------------------------

TEST_F(Misuse, WritesOnAReadOnlyRuntimeAreEREADONLY) {
    void *p = fmrt_malloc(rt_, 500);
    ASSERT_NE(p, nullptr);
    fill_pattern(p, 500, 6);
    uint64_t off = fmrt_ptr_to_offset(rt_, p);
    ASSERT_NO_FATAL_FAILURE(close_rt());
    FileSnapshot before = FileSnapshot::of(heap());

    fmrt_options o = readonly_options();
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt_, heap().c_str(), &o));
    p = fmrt_offset_to_ptr(rt_, off);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(stats_of(rt_).readonly, 1);

    prime_status_einval();
    EXPECT_EQ(fmrt_malloc(rt_, 10), nullptr);
    EXPECT_LAST_STATUS(FMRT_EREADONLY);
    prime_status_einval();
    EXPECT_EQ(fmrt_calloc(rt_, 2, 10), nullptr);
    EXPECT_LAST_STATUS(FMRT_EREADONLY);
    prime_status_einval();
    EXPECT_EQ(fmrt_aligned_alloc(rt_, 64, 10), nullptr);
    EXPECT_LAST_STATUS(FMRT_EREADONLY);
    prime_status_einval();
    EXPECT_EQ(fmrt_realloc(rt_, p, 1000), nullptr);
    EXPECT_LAST_STATUS(FMRT_EREADONLY);
    prime_status_einval();
    EXPECT_EQ(fmrt_realloc(rt_, nullptr, 1000), nullptr);
    EXPECT_LAST_STATUS(FMRT_EREADONLY);
    EXPECT_EQ(fmrt_free(rt_, p), FMRT_EREADONLY);
    EXPECT_EQ(fmrt_runtime_sync(rt_), FMRT_EREADONLY);
    EXPECT_STRNE(fmrt_error_message(), "");

    // Reads still work, and nothing changed.
    EXPECT_GE(fmrt_usable_size(rt_, p), 500u);
    EXPECT_TRUE(HasPattern(p, 500, 6));
    EXPECT_EQ(stats_of(rt_).live_allocations, 1u);
    ASSERT_NO_FATAL_FAILURE(close_rt());
    EXPECT_TRUE(Unchanged(before, heap())) << "a read-only runtime changed the file";
}

// ---- Options and versions -----------------------------------------------------------

TEST_F(Misuse, UnknownOptionsVersionOrModeIsEINVAL) {
    std::string path = dir_.file("other");
    for (unsigned version : {0u, 2u, 999u}) {
        fmrt_options o = make_options();
        o.version = version;
        fmrt_runtime *rt = reinterpret_cast<fmrt_runtime *>(0x1);
        EXPECT_STATUS(fmrt_runtime_open(&rt, path.c_str(), &o), FMRT_EINVAL);
        EXPECT_EQ(rt, nullptr);
    }
    fmrt_options o = make_options();
    o.mode = static_cast<fmrt_mode>(7);
    fmrt_runtime *rt = nullptr;
    EXPECT_STATUS(fmrt_runtime_open(&rt, path.c_str(), &o), FMRT_EINVAL);
    EXPECT_FALSE(path_exists(path)) << "a refused open created the file";
}

TEST_F(Misuse, UnknownStatsVersionIsEINVAL) {
    for (unsigned version : {0u, 2u, 12345u}) {
        fmrt_stats s = FMRT_STATS_INIT;
        s.version = version;
        EXPECT_STATUS(fmrt_runtime_stats(&s, rt_), FMRT_EINVAL);
    }
}

TEST_F(Misuse, MissingFileWithoutCreateIsENOTFOUND) {
    std::string path = dir_.file("missing");
    for (unsigned flags : {0u, unsigned(FMRT_OPEN_READONLY)}) {
        fmrt_options o = make_options(0, 0, flags);
        fmrt_runtime *rt = reinterpret_cast<fmrt_runtime *>(0x1);
        EXPECT_STATUS(fmrt_runtime_open(&rt, path.c_str(), &o), FMRT_ENOTFOUND);
        EXPECT_EQ(rt, nullptr);
        EXPECT_FALSE(path_exists(path));
        EXPECT_STRNE(fmrt_error_message(), "");
    }
    fmrt_options o = make_options(0, 0, 0);
    fmrt_runtime *rt = nullptr;
    EXPECT_STATUS(fmrt_runtime_open(&rt, dir_.file("no/such/dir/heap").c_str(), &o), FMRT_ENOTFOUND);
}

// ---- Status texts ---------------------------------------------------------------------

TEST(StatusText, EveryCodeHasItsOwnFixedText) {
    const int codes[] = {FMRT_OK,        FMRT_EINVAL,    FMRT_ENOMEM,    FMRT_EIO,
                         FMRT_EFORMAT,   FMRT_EVERSION,  FMRT_EBUSY,     FMRT_EREADONLY,
                         FMRT_ENOTFOUND, FMRT_EEXISTS,   FMRT_EINTERNAL};
    std::set<std::string> texts;
    for (int c : codes) {
        const char *t = fmrt_strerror(c);
        ASSERT_NE(t, nullptr) << status_name(c);
        EXPECT_STRNE(t, "") << status_name(c);
        EXPECT_STRNE(t, "unknown status code") << status_name(c);
        EXPECT_EQ(fmrt_strerror(c), t) << "static storage: the same text each time";
        texts.insert(t);
    }
    EXPECT_EQ(texts.size(), sizeof codes / sizeof codes[0]) << "two codes share a text";
}

TEST(StatusText, UnknownCodesSayUnknownStatusCode) {
    for (int c : {1, 2, -11, -12, -100, 1000, INT_MIN, INT_MAX}) {
        ASSERT_NE(fmrt_strerror(c), nullptr);
        EXPECT_STREQ(fmrt_strerror(c), "unknown status code") << c;
    }
}

TEST(StatusText, NothingFailedYetOnAFreshThread) {
    std::string message = "unset";
    int status = 12345;
    std::thread([&] {
        message = fmrt_error_message();
        status = fmrt_last_status();
    }).join();
    EXPECT_EQ(message, "");
    EXPECT_EQ(status, FMRT_OK);
}

TEST(StatusText, FailureDetailIsPerThread) {
    // A failure here ...
    EXPECT_EQ(fmrt_malloc(nullptr, 1), nullptr);
    ASSERT_EQ(fmrt_last_status(), FMRT_EINVAL);
    std::string here = fmrt_error_message();
    EXPECT_NE(here, "");
    // ... and another failure on another thread do not mix.
    int other_status = 0;
    std::thread([&] {
        fmrt_runtime *rt = nullptr;
        fmrt_options o = make_options(0, 0, 0);
        EXPECT_EQ(fmrt_runtime_open(&rt, "/nonexistent-dir-for-fmrt-tests/heap", &o), FMRT_ENOTFOUND);
        other_status = fmrt_last_status();
    }).join();
    EXPECT_EQ(other_status, FMRT_ENOTFOUND);
    EXPECT_EQ(fmrt_last_status(), FMRT_EINVAL);
    EXPECT_EQ(std::string(fmrt_error_message()), here);
}

TEST(Version, RuntimeVersionMatchesTheHeader) {
    EXPECT_STREQ(fmrt_version(), FMRT_VERSION_STRING);
    EXPECT_EQ(fmrt_version_number(), FMRT_VERSION_NUMBER);
    EXPECT_EQ(FMRT_VERSION_NUMBER, FMRT_VERSION_MAJOR * 10000 + FMRT_VERSION_MINOR * 100 + FMRT_VERSION_PATCH);
}

}  // namespace
