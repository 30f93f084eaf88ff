// Persistence: what one runtime writes, a later runtime on the same file
// reads back byte for byte, in this process (Persistence) and in another
// process (PersistenceAcrossProcesses, suite 'process').  The data is a
// linked structure that stores offsets, never pointers; its root offset is
// kept in a side file next to the heap.
#include "test_util.h"

#include <map>

using namespace fmrt_test;

namespace {

constexpr uint64_t kRootMagic = 0x544f4f522d54524dull;

// The structure stored in the heap: a root, then a list of nodes, each
// owning a data block filled with the pattern of its seed.
struct Root {
    uint64_t magic;
    uint64_t count;
    uint64_t head;  // offset of the first Node, 0 when empty
};
struct Node {
    uint64_t next;  // offset of the next Node, 0 at the end
    uint64_t data;  // offset of the data block
    uint64_t size;  // bytes in the data block
    uint64_t seed;  // its pattern
};

size_t data_size(Rng &rng, size_t i) {
    if (i == 7) return 3 * MiB + 123;  // one large block
    if (rng.chance(0.05)) return rng.between(4097, 300 * KiB);
    return rng.between(0, 600);
}

// Builds a Root and `count` nodes; "" on success, else what went wrong.
// The root offset goes to *root_off.
std::string build(fmrt_runtime *rt, size_t count, uint64_t seed, uint64_t *root_off) {
    Rng rng(seed);
    Root *root = static_cast<Root *>(fmrt_malloc(rt, sizeof(Root)));
    if (root == nullptr) return std::string("malloc root: ") + fmrt_error_message();
    root->magic = kRootMagic;
    root->count = 0;
    root->head = 0;
    uint64_t *link = &root->head;
    for (size_t i = 0; i < count; ++i) {
        Node *n = static_cast<Node *>(fmrt_calloc(rt, 1, sizeof(Node)));
        if (n == nullptr) return std::string("calloc node: ") + fmrt_error_message();
        n->size = data_size(rng, i);
        n->seed = seed * 1000003 + i;
        void *d = fmrt_malloc(rt, n->size);
        if (d == nullptr) return std::string("malloc data: ") + fmrt_error_message();
        fill_pattern(d, n->size, n->seed);
        n->data = fmrt_ptr_to_offset(rt, d);
        *link = fmrt_ptr_to_offset(rt, n);
        link = &n->next;
        root->count++;
    }
    *root_off = fmrt_ptr_to_offset(rt, root);
    return "";
}

// Walks the structure and checks every byte; the seeds seen go to *seeds.
std::string verify(fmrt_runtime *rt, uint64_t root_off, size_t count, std::vector<uint64_t> *seeds = nullptr) {
    const Root *root = static_cast<const Root *>(fmrt_offset_to_ptr(rt, root_off));
    if (root == nullptr) return "root offset " + std::to_string(root_off) + " is outside the file";
    if (root->magic != kRootMagic) return "root magic damaged";
    if (root->count != count)
        return "root count " + std::to_string(root->count) + ", expected " + std::to_string(count);
    if (fmrt_usable_size(rt, root) < sizeof(Root)) return "root is not a live allocation";
    uint64_t off = root->head;
    size_t seen = 0;
    while (off != 0) {
        const Node *n = static_cast<const Node *>(fmrt_offset_to_ptr(rt, off));
        if (n == nullptr) return "node offset outside the file";
        if (fmrt_usable_size(rt, n) < sizeof(Node)) return "node " + std::to_string(seen) + " is not live";
        const void *d = fmrt_offset_to_ptr(rt, n->data);
        if (d == nullptr) return "data offset outside the file";
        if (fmrt_usable_size(rt, d) < n->size) return "data block " + std::to_string(seen) + " is not live";
        std::string e = pattern_error(d, n->size, n->seed);
        if (!e.empty()) return "data block " + std::to_string(seen) + ": " + e;
        if (seeds != nullptr) seeds->push_back(n->seed);
        off = n->next;
        if (++seen > count) return "list longer than its count";
    }
    if (seen != count) return "list has " + std::to_string(seen) + " nodes, expected " + std::to_string(count);
    return "";
}

// Number of live allocations the structure owns.
uint64_t allocations_of(size_t count) { return 1 + 2 * count; }

class Persistence : public ::testing::Test {
protected:
    std::string heap() const { return dir_.file("heap"); }
    std::string side() const { return dir_.file("root"); }
    TempDir dir_;
};

class PersistenceAcrossProcesses : public Persistence {};

TEST_F(Persistence, ReopenFindsEveryAllocationWithItsBytes) {
    fmrt_runtime *rt = nullptr;
    fmrt_options o = make_options();
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt, heap().c_str(), &o));
    uint64_t root = 0;
    ASSERT_EQ(build(rt, 500, 1, &root), "");
    ASSERT_FMRT_OK(fmrt_runtime_close(rt));

    for (unsigned flags : {0u, unsigned(FMRT_OPEN_READONLY)}) {
        fmrt_options ro = make_options(0, 0, flags);
        ASSERT_FMRT_OK(fmrt_runtime_open(&rt, heap().c_str(), &ro));
        EXPECT_EQ(verify(rt, root, 500), "") << "flags " << flags;
        EXPECT_EQ(stats_of(rt).live_allocations, allocations_of(500));
        ASSERT_FMRT_OK(fmrt_runtime_close(rt));
    }
}

TEST_F(Persistence, FreesAndNewAllocationsPersistOverManyReopens) {
    fmrt_options o = make_options();
    // Model: offset -> (size, seed).
    std::map<uint64_t, std::pair<size_t, uint64_t>> live;
    Rng rng(11);
    for (int cycle = 0; cycle < 8; ++cycle) {
        fmrt_runtime *rt = nullptr;
        ASSERT_FMRT_OK(fmrt_runtime_open(&rt, heap().c_str(), &o));
        // Everything from earlier cycles is there.
        for (const auto &[off, v] : live) {
            void *p = fmrt_offset_to_ptr(rt, off);
            ASSERT_GE(fmrt_usable_size(rt, p), v.first) << "cycle " << cycle;
            ASSERT_TRUE(HasPattern(p, v.first, v.second)) << "cycle " << cycle << " offset " << off;
        }
        ASSERT_EQ(stats_of(rt).live_allocations, live.size()) << "cycle " << cycle;
        // Free about a third, add some.
        std::vector<uint64_t> freed;
        for (auto it = live.begin(); it != live.end();) {
            if (rng.chance(0.33)) {
                ASSERT_EQ(fmrt_free(rt, fmrt_offset_to_ptr(rt, it->first)), 0);
                freed.push_back(it->first);
                it = live.erase(it);
            } else {
                ++it;
            }
        }
        for (int i = 0; i < 200; ++i) {
            size_t size = rng.chance(0.97) ? rng.between(1, 800) : rng.between(801, MiB);
            uint64_t seed = rng.next();
            void *p = fmrt_malloc(rt, size);
            ASSERT_NE(p, nullptr);
            fill_pattern(p, size, seed);
            live[fmrt_ptr_to_offset(rt, p)] = {size, seed};
        }
        ASSERT_FMRT_OK(fmrt_runtime_close(rt));
    }
    fmrt_runtime *rt = nullptr;
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt, heap().c_str(), &o));
    for (const auto &[off, v] : live) ASSERT_TRUE(HasPattern(fmrt_offset_to_ptr(rt, off), v.first, v.second));
    EXPECT_EQ(stats_of(rt).live_allocations, live.size());
    ASSERT_FMRT_OK(fmrt_runtime_close(rt));
}

TEST_F(Persistence, SyncedHeapCanBeReadByAReaderAfterTheWriterCloses) {
    fmrt_runtime *rt = nullptr;
    fmrt_options o = make_options();
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt, heap().c_str(), &o));
    uint64_t root = 0;
    ASSERT_EQ(build(rt, 50, 2, &root), "");
    ASSERT_FMRT_OK(fmrt_runtime_sync(rt));
    ASSERT_FMRT_OK(fmrt_runtime_sync(rt));  // twice is fine
    ASSERT_FMRT_OK(fmrt_runtime_close(rt));
    fmrt_options ro = readonly_options();
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt, heap().c_str(), &ro));
    EXPECT_EQ(verify(rt, root, 50), "");
    ASSERT_FMRT_OK(fmrt_runtime_close(rt));
}

TEST_F(PersistenceAcrossProcesses, ChildReadsEveryByteTheParentWrote) {
    fmrt_runtime *rt = nullptr;
    fmrt_options o = make_options();
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt, heap().c_str(), &o));
    uint64_t root = 0;
    ASSERT_EQ(build(rt, 400, 3, &root), "");
    write_numbers(side(), {root, 400});
    ASSERT_FMRT_OK(fmrt_runtime_close(rt));

    for (unsigned flags : {0u, unsigned(FMRT_OPEN_READONLY)}) {
        ChildStatus st = run_in_child([&] {
            std::vector<uint64_t> nums = read_numbers(side());
            if (nums.size() != 2) return child_fail(2, "side file");
            fmrt_runtime *crt = nullptr;
            fmrt_options co = make_options(0, 0, flags);  // no CREATE: the file must be there
            int rc = fmrt_runtime_open(&crt, heap().c_str(), &co);
            if (rc != FMRT_OK) return child_fail(3, std::string("open: ") + fmrt_error_message());
            std::string e = verify(crt, nums[0], nums[1]);
            if (!e.empty()) return child_fail(4, e);
            fmrt_stats s = FMRT_STATS_INIT;
            if (fmrt_runtime_stats(&s, crt) != FMRT_OK || s.live_allocations != allocations_of(nums[1]))
                return child_fail(5, "live_allocations " + std::to_string(s.live_allocations));
            if (fmrt_runtime_close(crt) != FMRT_OK) return child_fail(6, "close");
            return 0;
        });
        EXPECT_TRUE(ExitedWith(st, 0)) << "flags " << flags;
    }
}

TEST_F(PersistenceAcrossProcesses, ParentReadsEveryByteTheChildWrote) {
    ChildStatus st = run_in_child([&] {
        fmrt_runtime *rt = nullptr;
        fmrt_options o = make_options();
        if (fmrt_runtime_open(&rt, heap().c_str(), &o) != FMRT_OK)
            return child_fail(2, std::string("open: ") + fmrt_error_message());
        uint64_t root = 0;
        std::string e = build(rt, 400, 4, &root);
        if (!e.empty()) return child_fail(3, e);
        write_numbers(side(), {root, 400});
        if (fmrt_runtime_close(rt) != FMRT_OK) return child_fail(4, "close");
        return 0;
    });
    ASSERT_TRUE(ExitedWith(st, 0));
    std::vector<uint64_t> nums = read_numbers(side());
    ASSERT_EQ(nums.size(), 2u);
    fmrt_runtime *rt = nullptr;
    fmrt_options o = make_options(0, 0, 0);
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt, heap().c_str(), &o));
    EXPECT_EQ(verify(rt, nums[0], nums[1]), "");
    EXPECT_EQ(stats_of(rt).live_allocations, allocations_of(400));
    ASSERT_FMRT_OK(fmrt_runtime_close(rt));
}

TEST_F(PersistenceAcrossProcesses, ChangesMadeByAChildAreSeenByTheParent) {
    fmrt_runtime *rt = nullptr;
    fmrt_options o = make_options();
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt, heap().c_str(), &o));
    uint64_t root = 0;
    ASSERT_EQ(build(rt, 300, 5, &root), "");
    ASSERT_FMRT_OK(fmrt_runtime_close(rt));

    // The child unlinks and frees every other node, grows every remaining
    // data block by realloc, then appends 100 new nodes at the front.
    ChildStatus st = run_in_child([&] {
        fmrt_runtime *crt = nullptr;
        fmrt_options co = make_options(0, 0, 0);
        if (fmrt_runtime_open(&crt, heap().c_str(), &co) != FMRT_OK)
            return child_fail(2, std::string("open: ") + fmrt_error_message());
        Root *r = static_cast<Root *>(fmrt_offset_to_ptr(crt, root));
        uint64_t *link = &r->head;
        size_t i = 0;
        while (*link != 0) {
            Node *n = static_cast<Node *>(fmrt_offset_to_ptr(crt, *link));
            if (i++ % 2 == 0) {
                uint64_t next = n->next;
                if (fmrt_free(crt, fmrt_offset_to_ptr(crt, n->data)) != 0) return child_fail(3, "free data");
                if (fmrt_free(crt, n) != 0) return child_fail(4, "free node");
                *link = next;
                r->count--;
            } else {
                void *d = fmrt_realloc(crt, fmrt_offset_to_ptr(crt, n->data), n->size + 1000);
                if (d == nullptr) return child_fail(5, "realloc");
                n->size += 1000;
                fill_pattern(d, n->size, n->seed);
                n->data = fmrt_ptr_to_offset(crt, d);
                link = &n->next;
            }
        }
        for (int k = 0; k < 100; ++k) {
            Node *n = static_cast<Node *>(fmrt_malloc(crt, sizeof(Node)));
            if (n == nullptr) return child_fail(6, "malloc node");
            n->size = 100 + k;
            n->seed = 900000 + k;
            void *d = fmrt_malloc(crt, n->size);
            if (d == nullptr) return child_fail(7, "malloc data");
            fill_pattern(d, n->size, n->seed);
            n->data = fmrt_ptr_to_offset(crt, d);
            n->next = r->head;
            r->head = fmrt_ptr_to_offset(crt, n);
            r->count++;
        }
        if (fmrt_runtime_close(crt) != FMRT_OK) return child_fail(8, "close");
        return 0;
    });
    ASSERT_TRUE(ExitedWith(st, 0));

    ASSERT_FMRT_OK(fmrt_runtime_open(&rt, heap().c_str(), &o));
    std::vector<uint64_t> seeds;
    EXPECT_EQ(verify(rt, root, 150 + 100, &seeds), "");
    ASSERT_EQ(seeds.size(), 250u);
    for (int k = 0; k < 100; ++k) EXPECT_EQ(seeds[k], 900000u + 99 - k);
    for (size_t k = 0; k < 150; ++k) EXPECT_EQ(seeds[100 + k], 5u * 1000003 + 2 * k + 1);
    EXPECT_EQ(stats_of(rt).live_allocations, allocations_of(250));
    ASSERT_FMRT_OK(fmrt_runtime_close(rt));
}

TEST_F(PersistenceAcrossProcesses, WriterKilledInTheMiddleOfWorkLeavesAnOpenableHeapWithItsData) {
    fmrt_runtime *rt = nullptr;
    fmrt_options o = make_options();
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt, heap().c_str(), &o));
    uint64_t root = 0;
    ASSERT_EQ(build(rt, 200, 6, &root), "");
    ASSERT_FMRT_OK(fmrt_runtime_close(rt));

    for (int round = 0; round < 6; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        int ready[2];
        ASSERT_EQ(pipe(ready), 0);
        std::fflush(stdout);
        std::fflush(stderr);
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            // Churn blocks of its own (never the structure) until killed.
            close(ready[0]);
            fmrt_runtime *crt = nullptr;
            fmrt_options co = make_options(0, 0, 0);
            if (fmrt_runtime_open(&crt, heap().c_str(), &co) != FMRT_OK) _exit(2);
            Rng rng(round);
            std::vector<void *> mine;
            for (uint64_t op = 0;; ++op) {
                // At most ~500 blocks live: what the kill leaks stays small.
                if (mine.empty() || (mine.size() < 500 && rng.chance(0.55))) {
                    size_t size = rng.chance(0.95) ? rng.between(1, 700) : rng.between(701, 80 * KiB);
                    void *p = fmrt_malloc(crt, size);
                    if (p == nullptr) _exit(3);
                    std::memset(p, 0xCC, size);
                    mine.push_back(p);
                } else if (rng.chance(0.3)) {
                    size_t i = rng.below(mine.size());
                    void *q = fmrt_realloc(crt, mine[i], rng.between(1, 20 * KiB));
                    if (q == nullptr) _exit(4);
                    mine[i] = q;
                } else {
                    size_t i = rng.below(mine.size());
                    if (fmrt_free(crt, mine[i]) != 0) _exit(5);
                    mine[i] = mine.back();
                    mine.pop_back();
                }
                if (op % 5000 == 4999 && rng.chance(0.5)) fmrt_runtime_sync(crt);
                if (op == 2000 && write(ready[1], "r", 1) != 1) _exit(6);
            }
        }
        close(ready[1]);
        char c = 0;
        ASSERT_EQ(read(ready[0], &c, 1), 1) << "the child did not get going";
        close(ready[0]);
        usleep(1000 * (round * 7 % 40));  // kill at a different moment each round
        ASSERT_EQ(kill(pid, SIGKILL), 0);
        ChildStatus st = wait_child(pid);
        ASSERT_FALSE(st.exited) << "the child stopped by itself: " << st;

        // A reader first (it cannot repair anything), then a writer.
        fmrt_options ro = make_options(0, 0, FMRT_OPEN_READONLY);
        ASSERT_FMRT_OK(fmrt_runtime_open(&rt, heap().c_str(), &ro)) << "read-only, after the writer was killed";
        ASSERT_EQ(verify(rt, root, 200), "");
        ASSERT_FMRT_OK(fmrt_runtime_close(rt));
        ASSERT_FMRT_OK(fmrt_runtime_open(&rt, heap().c_str(), &o)) << "a heap whose writer was killed";
        ASSERT_EQ(verify(rt, root, 200), "");
        // The heap works: new blocks do not land on the structure.
        std::vector<std::pair<void *, size_t>> fresh;
        for (int i = 0; i < 300; ++i) {
            size_t size = 1 + (i * 131) % 3000;
            void *p = fmrt_malloc(rt, size);
            ASSERT_NE(p, nullptr) << fmrt_error_message();
            fill_pattern(p, size, 5000 + i);
            fresh.push_back({p, size});
        }
        ASSERT_EQ(verify(rt, root, 200), "");
        for (size_t i = 0; i < fresh.size(); ++i) {
            ASSERT_TRUE(HasPattern(fresh[i].first, fresh[i].second, 5000 + i));
            ASSERT_EQ(fmrt_free(rt, fresh[i].first), 0);
        }
        ASSERT_FMRT_OK(fmrt_runtime_close(rt));
    }
}

TEST_F(PersistenceAcrossProcesses, ProcessesRacingToCreateOneFileNeverSeeAHalfMadeHeap) {
    constexpr int kWriters = 4, kRounds = 15;
    for (int round = 0; round < kRounds; ++round) {
        std::string path = dir_.file("race" + std::to_string(round));
        std::vector<pid_t> pids;
        // Writers: CREATE, allocate one block, close.  Status as exit code.
        for (int w = 0; w < kWriters; ++w) {
            pids.push_back(start_child([&] {
                fmrt_runtime *rt = nullptr;
                fmrt_options o = make_options();
                int rc = fmrt_runtime_open(&rt, path.c_str(), &o);
                if (rc != FMRT_OK) return status_to_exit(rc);
                void *p = fmrt_malloc(rt, 100);
                if (p == nullptr) return 60;
                fill_pattern(p, 100, 7);
                return fmrt_runtime_close(rt) == FMRT_OK ? 0 : 61;
            }));
        }
        // A reader polling the path: never a half-made heap.
        pids.push_back(start_child([&] {
            for (int i = 0; i < 2000; ++i) {
                fmrt_runtime *rt = nullptr;
                fmrt_options o = make_options(0, 0, FMRT_OPEN_READONLY);
                int rc = fmrt_runtime_open(&rt, path.c_str(), &o);
                if (rc == FMRT_OK) {
                    fmrt_runtime_close(rt);
                    return 0;
                }
                if (rc != FMRT_ENOTFOUND && rc != FMRT_EBUSY) return status_to_exit(rc);
            }
            return 0;
        }));
        int created = 0;
        for (size_t i = 0; i < pids.size(); ++i) {
            ASSERT_GT(pids[i], 0);
            ChildStatus st = wait_child(pids[i]);
            ASSERT_TRUE(st.exited) << st;
            int rc = exit_to_status(st);
            if (i < kWriters) {
                EXPECT_TRUE(rc == FMRT_OK || rc == FMRT_EBUSY) << "writer " << i << ": " << status_name(rc);
                created += rc == FMRT_OK;
            } else {
                EXPECT_EQ(status_name(rc), "FMRT_OK") << "the reader saw a half-made heap or worse";
            }
        }
        EXPECT_GE(created, 1) << "round " << round;
        fmrt_runtime *rt = nullptr;
        fmrt_options o = make_options(0, 0, 0);
        ASSERT_FMRT_OK(fmrt_runtime_open(&rt, path.c_str(), &o));
        EXPECT_EQ(stats_of(rt).live_allocations, uint64_t(created)) << "round " << round;
        ASSERT_FMRT_OK(fmrt_runtime_close(rt));
    }
    // No temporary files left behind: only the heaps.
    EXPECT_EQ(dir_.entries().size(), size_t(kRounds));
}

TEST_F(Persistence, RuntimePathIsThePathGiven) {
    fmrt_runtime *rt = nullptr;
    fmrt_options o = make_options();
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt, heap().c_str(), &o));
    ASSERT_NE(fmrt_runtime_path(rt), nullptr);
    EXPECT_EQ(std::string(fmrt_runtime_path(rt)), heap());
    ASSERT_FMRT_OK(fmrt_runtime_close(rt));
}

}  // namespace
