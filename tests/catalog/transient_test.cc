// Transient allocations: fmrt_alloc with FMRT_ALLOC_TRANSIENT, the flag's
// queries and changes, and reclamation at the next read-write open (after a
// clean close or a crash).
#include "catalog_util.h"

namespace fmrt_catalog_test {
namespace {

class Transient : public HeapTest {};
class TransientAcrossProcesses : public HeapTest {};

// ---- allocating -------------------------------------------------------------------

TEST_F(Transient, TransientAllocationsOfEverySizeAreReportedTransient) {
    for (size_t size : {size_t{0}, size_t{1}, size_t{16}, size_t{100}, size_t{4096}, size_t{64 * KiB},
                        size_t{64 * KiB + 1}, size_t{3 * MiB}}) {
        void *p = fmrt_alloc(rt_, size, 0, FMRT_ALLOC_TRANSIENT);
        ASSERT_NE(p, nullptr) << "size " << size << ": " << fmrt_error_message();
        EXPECT_GE(fmrt_usable_size(rt_, p), size);
        EXPECT_EQ(fmrt_is_transient(rt_, p), 1) << "size " << size;
        fill_pattern(p, size, size);
        EXPECT_TRUE(HasPattern(p, size, size));
    }
}

TEST_F(Transient, ZeroFlagZeroesTransientAllocations) {
    // Dirty the memory first so that reuse would show.
    for (size_t size : {size_t{48}, size_t{1000}, size_t{200 * KiB}}) {
        std::vector<void *> dirty;
        for (int i = 0; i < 32; ++i) {
            void *p = fmrt_malloc(rt_, size);
            ASSERT_NE(p, nullptr);
            std::memset(p, 0xAB, size);
            dirty.push_back(p);
        }
        for (void *p : dirty) ASSERT_FMRT_OK(fmrt_free(rt_, p));
        for (int i = 0; i < 32; ++i) {
            void *p = fmrt_alloc(rt_, size, 0, FMRT_ALLOC_TRANSIENT | FMRT_ALLOC_ZERO);
            ASSERT_NE(p, nullptr);
            EXPECT_TRUE(IsZero(p, size)) << "size " << size;
            EXPECT_EQ(fmrt_is_transient(rt_, p), 1);
        }
    }
}

TEST_F(Transient, AlignedTransientAllocationsAreAligned) {
    for (size_t alignment : {size_t{16}, size_t{64}, size_t{256}, size_t{4096}, size_t{64 * KiB}, size_t{2 * MiB}}) {
        for (size_t size : {size_t{8}, size_t{100}, size_t{100 * KiB}}) {
            void *p = fmrt_alloc(rt_, size, alignment, FMRT_ALLOC_TRANSIENT | FMRT_ALLOC_ZERO);
            ASSERT_NE(p, nullptr) << alignment << "/" << size << ": " << fmrt_error_message();
            EXPECT_TRUE(IsAligned(p, alignment)) << "size " << size;
            EXPECT_TRUE(IsZero(p, size));
            EXPECT_EQ(fmrt_is_transient(rt_, p), 1) << alignment << "/" << size;
        }
    }
}

TEST_F(Transient, AllocationsWithoutTheFlagAreDurable) {
    void *a = fmrt_malloc(rt_, 10);
    void *b = fmrt_calloc(rt_, 10, 10);
    void *c = fmrt_aligned_alloc(rt_, 4096, 10);
    void *d = fmrt_alloc(rt_, 10, 0, 0);
    void *e = fmrt_alloc(rt_, 1 * MiB, 64, FMRT_ALLOC_ZERO);
    for (void *p : {a, b, c, d, e}) {
        ASSERT_NE(p, nullptr);
        EXPECT_EQ(fmrt_is_transient(rt_, p), 0);
    }
}

TEST_F(Transient, AllocWithBadArgumentsFailsWithEinval) {
    EXPECT_EQ(fmrt_alloc(rt_, 16, 3, FMRT_ALLOC_TRANSIENT), nullptr) << "alignment 3";
    EXPECT_LAST_STATUS(FMRT_EINVAL);
    EXPECT_EQ(fmrt_alloc(rt_, 16, 48, 0), nullptr) << "alignment 48";
    EXPECT_LAST_STATUS(FMRT_EINVAL);
    EXPECT_EQ(fmrt_alloc(rt_, 16, 0, 0x4u), nullptr) << "unknown flag";
    EXPECT_LAST_STATUS(FMRT_EINVAL);
    EXPECT_EQ(fmrt_alloc(nullptr, 16, 0, FMRT_ALLOC_TRANSIENT), nullptr);
    EXPECT_LAST_STATUS(FMRT_EINVAL);
    EXPECT_EQ(stats().transient_allocations, 0u);
}

// ---- the flag ----------------------------------------------------------------------

TEST_F(Transient, SetTransientZeroMakesItDurableAndOneMakesItTransient) {
    for (size_t size : {size_t{32}, size_t{512 * KiB}}) {
        void *p = fmrt_alloc(rt_, size, 0, FMRT_ALLOC_TRANSIENT);
        ASSERT_NE(p, nullptr);
        ASSERT_EQ(fmrt_is_transient(rt_, p), 1);
        ASSERT_FMRT_OK(fmrt_set_transient(rt_, p, 0));
        EXPECT_EQ(fmrt_is_transient(rt_, p), 0) << size;
        ASSERT_FMRT_OK(fmrt_set_transient(rt_, p, 0)) << "again";
        EXPECT_EQ(fmrt_is_transient(rt_, p), 0);
        ASSERT_FMRT_OK(fmrt_set_transient(rt_, p, 1));
        EXPECT_EQ(fmrt_is_transient(rt_, p), 1);
        ASSERT_FMRT_OK(fmrt_set_transient(rt_, p, 42)) << "any non-zero value means transient";
        EXPECT_EQ(fmrt_is_transient(rt_, p), 1);
    }
}

TEST_F(Transient, StatsCountLiveTransientAllocations) {
    std::vector<void *> ps;
    for (int i = 0; i < 5; ++i) {
        ps.push_back(fmrt_alloc(rt_, i == 4 ? 1 * MiB : 64, 0, FMRT_ALLOC_TRANSIENT));
        ASSERT_NE(ps.back(), nullptr);
    }
    ASSERT_NE(fmrt_malloc(rt_, 64), nullptr);
    EXPECT_EQ(stats().transient_allocations, 5u);
    ASSERT_FMRT_OK(fmrt_set_transient(rt_, ps[0], 0));
    EXPECT_EQ(stats().transient_allocations, 4u);
    ASSERT_FMRT_OK(fmrt_free(rt_, ps[1]));
    ASSERT_FMRT_OK(fmrt_free(rt_, ps[4]));
    EXPECT_EQ(stats().transient_allocations, 2u);
    fmrt_report r = verify_of(rt_);
    EXPECT_EQ(r.problems, 0u) << describe(r);
    EXPECT_EQ(r.transient_allocations, 2u);
}

TEST_F(Transient, PointersThatAreNotLiveAllocationsAreRefused) {
    int on_stack = 0;
    std::vector<char> on_libc_heap(64);
    char *small = static_cast<char *>(fmrt_alloc(rt_, 128, 0, FMRT_ALLOC_TRANSIENT));
    char *large = static_cast<char *>(fmrt_alloc(rt_, 1 * MiB, 0, FMRT_ALLOC_TRANSIENT));
    void *freed = fmrt_alloc(rt_, 128, 0, FMRT_ALLOC_TRANSIENT);
    ASSERT_NE(small, nullptr);
    ASSERT_NE(large, nullptr);
    ASSERT_NE(freed, nullptr);
    ASSERT_FMRT_OK(fmrt_free(rt_, freed));
    const std::vector<std::pair<const char *, const void *>> cases = {
        {"NULL", nullptr},
        {"stack", &on_stack},
        {"libc heap", on_libc_heap.data()},
        {"freed", freed},
        {"interior of small", small + 16},
        {"interior of large", large + 8192},
        {"superblock", at(64)},
    };
    for (const auto &c : cases) {
        EXPECT_EQ(fmrt_is_transient(rt_, c.second), FMRT_EINVAL) << c.first;
        EXPECT_STATUS(fmrt_set_transient(rt_, const_cast<void *>(c.second), 0), FMRT_EINVAL) << c.first;
        EXPECT_STATUS(fmrt_set_transient(rt_, const_cast<void *>(c.second), 1), FMRT_EINVAL) << c.first;
    }
    EXPECT_EQ(fmrt_is_transient(nullptr, small), FMRT_EINVAL);
    EXPECT_STATUS(fmrt_set_transient(nullptr, small, 0), FMRT_EINVAL);
    EXPECT_EQ(fmrt_is_transient(rt_, small), 1) << "unchanged";
    EXPECT_EQ(fmrt_is_transient(rt_, large), 1) << "unchanged";
}

TEST_F(Transient, ReadOnlyRuntimeReportsTheFlagAndRefusesChanges) {
    void *t = fmrt_alloc(rt_, 64, 0, FMRT_ALLOC_TRANSIENT);
    void *d = fmrt_malloc(rt_, 64);
    ASSERT_NE(t, nullptr);
    ASSERT_NE(d, nullptr);
    ASSERT_FMRT_OK(put("d", d, 64));
    const uint64_t d_off = offset(d);
    close_heap();
    open_readonly();
    void *dp = at(d_off);
    EXPECT_EQ(fmrt_is_transient(rt_, dp), 0);
    EXPECT_STATUS(fmrt_set_transient(rt_, dp, 1), FMRT_EREADONLY);
    EXPECT_EQ(fmrt_alloc(rt_, 16, 0, FMRT_ALLOC_TRANSIENT), nullptr);
    EXPECT_LAST_STATUS(FMRT_EREADONLY);
    EXPECT_EQ(fmrt_is_transient(rt_, dp), 0);
}

TEST_F(Transient, TransientAllocationsReuseFreedMemoryWhenTheHeapIsFull) {
    close_heap();
    path_ = dir_.file("small.fmrt");
    fmrt_options o = make_options(1 * MiB, 4 * MiB);
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt_, path_.c_str(), &o));
    for (size_t size : {size_t{100}, size_t{4096}}) {
        SCOPED_TRACE(size);
        std::vector<void *> ps;
        for (void *p; (p = fmrt_malloc(rt_, size)) != nullptr;) ps.push_back(p);
        ASSERT_GT(ps.size(), 10u);
        for (int i = 0; i < 5; ++i) ASSERT_FMRT_OK(fmrt_free(rt_, ps[i]));
        // Five slots of this size are free again: five allocations fit,
        // transient or not.
        for (int i = 0; i < 5; ++i) {
            void *t = fmrt_alloc(rt_, size, 0, i % 2 ? 0 : FMRT_ALLOC_TRANSIENT);
            EXPECT_NE(t, nullptr) << "allocation " << i << (i % 2 ? " (durable)" : " (transient)") << ": "
                                  << fmrt_error_message();
            ps[i] = t;
        }
        for (void *p : ps) ASSERT_FMRT_OK(fmrt_free(rt_, p));  // NULL is accepted
    }
}

// ---- reclamation --------------------------------------------------------------------

TEST_F(Transient, TransientAllocationsAreGoneAfterReopenAndDurableOnesStay) {
    struct Kept {
        uint64_t offset, bytes, seed;
    };
    std::vector<Kept> durable;
    std::vector<uint64_t> transient;
    const std::vector<size_t> sizes = {16, 100, 1000, 10000, 70000, 1 * MiB};
    for (size_t i = 0; i < sizes.size(); ++i) {
        void *t = fmrt_alloc(rt_, sizes[i], 0, FMRT_ALLOC_TRANSIENT);
        void *d = alloc_pattern(sizes[i], i);
        void *made_durable = fmrt_alloc(rt_, sizes[i], 0, FMRT_ALLOC_TRANSIENT);
        ASSERT_NE(t, nullptr);
        ASSERT_NE(made_durable, nullptr);
        fill_pattern(made_durable, sizes[i], 1000 + i);
        ASSERT_FMRT_OK(fmrt_set_transient(rt_, made_durable, 0));
        transient.push_back(offset(t));
        durable.push_back({offset(d), sizes[i], i});
        durable.push_back({offset(made_durable), sizes[i], 1000 + i});
    }
    EXPECT_EQ(stats().transient_allocations, sizes.size());
    EXPECT_EQ(stats().reclaimed_at_open, 0u);
    reopen();
    fmrt_stats s = stats();
    EXPECT_EQ(s.reclaimed_at_open, sizes.size());
    EXPECT_EQ(s.transient_allocations, 0u);
    EXPECT_EQ(s.live_allocations, durable.size());
    for (uint64_t off : transient) EXPECT_EQ(fmrt_usable_size(rt_, at(off)), 0u) << "transient at " << off;
    for (const auto &k : durable) {
        EXPECT_GE(fmrt_usable_size(rt_, at(k.offset)), k.bytes);
        EXPECT_EQ(fmrt_is_transient(rt_, at(k.offset)), 0);
        EXPECT_TRUE(HasPattern(at(k.offset), k.bytes, k.seed)) << "durable at " << k.offset;
    }
    fmrt_report r = verify_of(rt_);
    EXPECT_EQ(r.problems, 0u) << describe(r);
    EXPECT_EQ(r.transient_allocations, 0u);
    EXPECT_EQ(r.unreachable_allocations, durable.size());
    // The count is of this open only.
    reopen();
    EXPECT_EQ(stats().reclaimed_at_open, 0u);
}

TEST_F(Transient, ReclaimedSpaceIsReused) {
    // Transient allocations that make the file grow; after reopen the same
    // amount of durable memory fits without growing it again.
    std::vector<void *> ps;
    for (int i = 0; i < 16; ++i) {
        ps.push_back(fmrt_alloc(rt_, 4 * MiB, 0, FMRT_ALLOC_TRANSIENT));
        ASSERT_NE(ps.back(), nullptr);
    }
    for (int i = 0; i < 20000; ++i) ASSERT_NE(fmrt_alloc(rt_, 200, 0, FMRT_ALLOC_TRANSIENT), nullptr);
    const uint64_t grown = stats().mapped_bytes;
    ASSERT_GE(grown, 64 * MiB);
    reopen();
    fmrt_stats s = stats();
    EXPECT_EQ(s.reclaimed_at_open, 16u + 20000u);
    EXPECT_EQ(s.live_allocations, 0u);
    EXPECT_EQ(s.in_use_bytes, 0u);
    for (int i = 0; i < 16; ++i) ASSERT_NE(fmrt_malloc(rt_, 4 * MiB), nullptr);
    for (int i = 0; i < 20000; ++i) ASSERT_NE(fmrt_malloc(rt_, 200), nullptr);
    EXPECT_EQ(stats().mapped_bytes, grown) << "the file grew: reclaimed space was not reused";
}

TEST_F(Transient, ReadOnlyOpenDoesNotReclaim) {
    void *t = fmrt_alloc(rt_, 64, 0, FMRT_ALLOC_TRANSIENT);
    ASSERT_NE(t, nullptr);
    const uint64_t off = offset(t);
    close_heap();
    open_readonly();
    EXPECT_EQ(stats().reclaimed_at_open, 0u);
    EXPECT_EQ(stats().transient_allocations, 1u);
    EXPECT_EQ(fmrt_is_transient(rt_, at(off)), 1);
    close_heap();
    open_rw();
    EXPECT_EQ(stats().reclaimed_at_open, 1u);
}

TEST_F(Transient, FreeingATransientAllocationClearsItsFlag) {
    // Freed transient slots and spans are reused by durable allocations,
    // which must be durable (and survive reopen).
    struct Kept {
        uint64_t offset, bytes, seed;
    };
    std::vector<Kept> kept;
    size_t reused = 0;
    for (size_t size : {size_t{64}, size_t{640}, size_t{256 * KiB}}) {
        std::vector<void *> ts;
        for (int i = 0; i < 50; ++i) {
            ts.push_back(fmrt_alloc(rt_, size, 0, FMRT_ALLOC_TRANSIENT));
            ASSERT_NE(ts.back(), nullptr);
        }
        std::vector<uint64_t> freed;
        for (void *p : ts) {
            freed.push_back(offset(p));
            ASSERT_FMRT_OK(fmrt_free(rt_, p));
        }
        for (int i = 0; i < 50; ++i) {
            void *p = alloc_pattern(size, size + i);
            ASSERT_NE(p, nullptr);
            EXPECT_EQ(fmrt_is_transient(rt_, p), 0) << "size " << size << " #" << i;
            if (std::find(freed.begin(), freed.end(), offset(p)) != freed.end()) ++reused;
            kept.push_back({offset(p), size, size + i});
        }
    }
    EXPECT_GT(reused, 0u) << "no freed transient slot was reused: the test proves little";
    EXPECT_EQ(stats().transient_allocations, 0u);
    reopen();
    EXPECT_EQ(stats().reclaimed_at_open, 0u) << "freed transients are not reclaimed again";
    EXPECT_EQ(stats().live_allocations, kept.size());
    for (const auto &k : kept) {
        EXPECT_GE(fmrt_usable_size(rt_, at(k.offset)), k.bytes) << "at " << k.offset;
        EXPECT_TRUE(HasPattern(at(k.offset), k.bytes, k.seed)) << "at " << k.offset;
    }
}

TEST_F(Transient, ReallocOfATransientAllocationKeepsItTransient) {
    void *p = fmrt_alloc(rt_, 32, 0, FMRT_ALLOC_TRANSIENT);
    ASSERT_NE(p, nullptr);
    fill_pattern(p, 32, 5);
    void *q = fmrt_realloc(rt_, p, 100000);
    ASSERT_NE(q, nullptr);
    EXPECT_TRUE(HasPattern(q, 32, 5));
    // fmrt.h does not say; a realloc that dropped the flag would leak a
    // temporary past a crash, so the flag is expected to follow the data.
    EXPECT_EQ(fmrt_is_transient(rt_, q), 1);
}

TEST_F(Transient, PuttingATransientAllocationInTheCatalogMakesItDurable) {
    void *small = fmrt_alloc(rt_, 100, 0, FMRT_ALLOC_TRANSIENT);
    void *large = fmrt_alloc(rt_, 2 * MiB, 0, FMRT_ALLOC_TRANSIENT);
    ASSERT_NE(small, nullptr);
    ASSERT_NE(large, nullptr);
    fill_pattern(small, 100, 1);
    fill_pattern(large, 2 * MiB, 2);
    ASSERT_FMRT_OK(put("small", small, 100));
    ASSERT_FMRT_OK(put("x", nullptr, 0));
    ASSERT_FMRT_OK(put("x", large, 2 * MiB, 0, "", FMRT_PUT_REPLACE));
    EXPECT_EQ(fmrt_is_transient(rt_, small), 0);
    EXPECT_EQ(fmrt_is_transient(rt_, large), 0) << "a replace also makes it durable";
    EXPECT_EQ(stats().transient_allocations, 0u);
    reopen();
    EXPECT_EQ(stats().reclaimed_at_open, 0u);
    fmrt_entry e;
    ASSERT_FMRT_OK(get("small", &e));
    EXPECT_TRUE(HasPattern(e.ptr, 100, 1));
    ASSERT_FMRT_OK(get("x", &e));
    EXPECT_TRUE(HasPattern(e.ptr, 2 * MiB, 2));
    // Removing the name does not make it transient again.
    ASSERT_FMRT_OK(fmrt_catalog_remove(rt_, "small", 0));
    EXPECT_EQ(fmrt_is_transient(rt_, at(e.offset)), 0);
}

TEST_F(Transient, AFailedPutLeavesTheAllocationTransient) {
    void *p = fmrt_alloc(rt_, 100, 0, FMRT_ALLOC_TRANSIENT);
    ASSERT_NE(p, nullptr);
    ASSERT_FMRT_OK(put("taken", nullptr, 0));
    EXPECT_STATUS(put("taken", p, 100), FMRT_EEXISTS);
    EXPECT_STATUS(put("", p, 100), FMRT_EINVAL);
    EXPECT_STATUS(put("too-big", p, 1 * MiB), FMRT_EINVAL);
    EXPECT_EQ(fmrt_is_transient(rt_, p), 1);
}

// ---- crashes -------------------------------------------------------------------------

TEST_F(TransientAcrossProcesses, TransientAllocationsOfAKilledProcessAreReclaimedAtReopen) {
    void *keep = alloc_pattern(4096, 7);
    ASSERT_FMRT_OK(put("keep", keep, 4096));
    close_heap();
    constexpr int kSmall = 300, kLarge = 5;
    ChildStatus st = run_in_child([&] {
        fmrt_runtime *rt = nullptr;
        fmrt_options o = make_options();
        if (fmrt_runtime_open(&rt, path_.c_str(), &o) != FMRT_OK) return child_fail(1, "open");
        for (int i = 0; i < kSmall; ++i) {
            void *p = fmrt_alloc(rt, 16 + 8 * (i % 50), 0, FMRT_ALLOC_TRANSIENT);
            if (p == nullptr) return child_fail(2, "alloc small");
            std::memset(p, 0xEE, 16);
        }
        for (int i = 0; i < kLarge; ++i) {
            void *p = fmrt_alloc(rt, 300 * KiB, 0, FMRT_ALLOC_TRANSIENT | FMRT_ALLOC_ZERO);
            if (p == nullptr) return child_fail(3, "alloc large");
        }
        if (fmrt_runtime_sync(rt) != FMRT_OK) return child_fail(4, "sync");
        kill(getpid(), SIGKILL);
        return 5;
    });
    ASSERT_FALSE(st.exited) << st;
    ASSERT_EQ(st.signal, SIGKILL);

    // The file as the child left it: transient allocations still there.
    fmrt_report before = verify_path_of(path_);
    EXPECT_EQ(before.transient_allocations, static_cast<uint64_t>(kSmall + kLarge)) << describe(before);
    EXPECT_EQ(before.clean, 0);

    open_rw();
    fmrt_stats s = stats();
    EXPECT_EQ(s.clean_last_close, 0);
    EXPECT_GT(s.reclaimed_at_open, 0u);
    EXPECT_EQ(s.reclaimed_at_open, static_cast<uint64_t>(kSmall + kLarge));
    EXPECT_EQ(s.transient_allocations, 0u);
    fmrt_report r = verify_of(rt_);
    EXPECT_EQ(r.problems, 0u) << describe(r);
    EXPECT_EQ(r.transient_allocations, 0u);
    EXPECT_EQ(r.large_allocations, 0u) << describe(r);
    fmrt_entry e;
    ASSERT_FMRT_OK(get("keep", &e));
    EXPECT_TRUE(HasPattern(e.ptr, 4096, 7));
    close_heap();
    fmrt_report after = verify_path_of(path_);
    EXPECT_EQ(after.problems, 0u) << describe(after);
    EXPECT_EQ(after.clean, 1);
    EXPECT_EQ(after.transient_allocations, 0u);
}

TEST_F(TransientAcrossProcesses, KillDuringCatalogWorkLeavesNoTransientAllocations) {
    close_heap();
    // The child keeps putting, replacing and renaming until it is killed
    // from outside, at an arbitrary instant.
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    pid_t pid = start_child([&] {
        close(ready[0]);
        fmrt_runtime *rt = nullptr;
        fmrt_options o = make_options();
        if (fmrt_runtime_open(&rt, path_.c_str(), &o) != FMRT_OK) return child_fail(1, "open");
        for (uint64_t i = 0;; ++i) {
            void *p = fmrt_alloc(rt, 64 + i % 4000, 0, FMRT_ALLOC_TRANSIENT);
            if (p == nullptr) return child_fail(2, "alloc");
            std::string name = "n" + std::to_string(i % 500);
            if (fmrt_catalog_put(rt, name.c_str(), p, 64, 0, nullptr, 0, FMRT_PUT_REPLACE | FMRT_PUT_FREE_REPLACED) !=
                FMRT_OK)
                return child_fail(3, "put");
            std::string to = "m" + std::to_string(i % 300);
            int rc = fmrt_catalog_rename(rt, name.c_str(), to.c_str(), FMRT_PUT_REPLACE | FMRT_PUT_FREE_REPLACED);
            if (rc != FMRT_OK) return child_fail(4, "rename");
            if (i == 2000 && write(ready[1], "x", 1) != 1) return child_fail(5, "pipe");
        }
    });
    ASSERT_GT(pid, 0);
    close(ready[1]);
    char c;
    ASSERT_EQ(read(ready[0], &c, 1), 1) << "the child did not get going";
    close(ready[0]);
    usleep(20000);
    kill(pid, SIGKILL);
    ChildStatus st = wait_child(pid);
    ASSERT_FALSE(st.exited) << st;

    open_rw();
    fmrt_stats s = stats();
    EXPECT_EQ(s.transient_allocations, 0u);
    EXPECT_EQ(s.clean_last_close, 0);
    fmrt_report r = verify_of(rt_);
    EXPECT_EQ(r.problems, 0u) << describe(r);
    EXPECT_EQ(r.damaged_records, 0u);
    EXPECT_EQ(r.transient_allocations, 0u);
    EXPECT_EQ(r.catalog_entries, count_of(rt_));
    const std::vector<std::string> names = names_in_order(rt_);
    for (const auto &n : names) {
        fmrt_entry e;
        ASSERT_FMRT_OK(get(n, &e));
        EXPECT_NE(e.ptr, nullptr) << n;
        EXPECT_EQ(fmrt_is_transient(rt_, e.ptr), 0) << n;
    }
    // A reclaiming repair frees nothing named.
    repair_with_reclaim();
    EXPECT_EQ(names_in_order(rt_), names);
}

}  // namespace
}  // namespace fmrt_catalog_test
