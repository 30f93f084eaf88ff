// The catalog in the file: entries survive close and reopen, are seen by
// other processes, survive a writer that is killed, and a catalog of 100k
// names stays correct and ordered.
#include <map>

#include "catalog_util.h"

namespace fmrt_catalog_test {
namespace {

class CatalogPersistence : public HeapTest {};
class CatalogPersistenceAcrossProcesses : public HeapTest {};

struct Expected {
    uint64_t offset;  // 0: no allocation
    uint64_t bytes;   // allocation bytes holding the pattern of `seed`
    uint64_t seed;
    uint64_t size;
    uint32_t type;
    std::string meta;
    uint64_t created;
};

// Puts a varied set of entries, recording what each must read back as.
std::map<std::string, Expected> put_sample(fmrt_runtime *rt) {
    std::map<std::string, Expected> out;
    const std::vector<size_t> sizes = {1, 16, 100, 4096, 70000, 1 * MiB};
    for (size_t i = 0; i < sizes.size(); ++i) {
        void *p = fmrt_malloc(rt, sizes[i]);
        EXPECT_NE(p, nullptr);
        if (p == nullptr) return out;
        fill_pattern(p, sizes[i], 100 + i);
        std::string name = "obj/" + std::to_string(i);
        std::string meta(i * 7, static_cast<char>('a' + i));
        EXPECT_FMRT_OK(fmrt_catalog_put(rt, name.c_str(), p, sizes[i], static_cast<uint32_t>(i),
                                        meta.data(), meta.size(), 0));
        out[name] = Expected{fmrt_ptr_to_offset(rt, p), sizes[i], 100 + i, sizes[i], static_cast<uint32_t>(i), meta, 0};
    }
    EXPECT_FMRT_OK(fmrt_catalog_put(rt, "no-allocation", nullptr, 0, 99, "only meta", 9, 0));
    out["no-allocation"] = Expected{0, 0, 0, 0, 99, "only meta", 0};
    for (auto &kv : out) {
        fmrt_entry e = FMRT_ENTRY_INIT;
        EXPECT_FMRT_OK(fmrt_catalog_get(&e, rt, kv.first.c_str()));
        kv.second.created = e.created_unix_ns;
    }
    return out;
}

// "" when the catalog of rt holds exactly `expected`, else what differs.
std::string check_sample(fmrt_runtime *rt, const std::map<std::string, Expected> &expected) {
    uint64_t n = 0;
    if (fmrt_catalog_count(&n, rt) != FMRT_OK) return "count failed";
    if (n != expected.size()) return "count " + std::to_string(n) + ", expected " + std::to_string(expected.size());
    for (const auto &kv : expected) {
        fmrt_entry e = FMRT_ENTRY_INIT;
        if (fmrt_catalog_get(&e, rt, kv.first.c_str()) != FMRT_OK) return kv.first + ": not found";
        const Expected &x = kv.second;
        if (e.offset != x.offset) return kv.first + ": offset differs";
        if (e.ptr != (x.offset ? fmrt_offset_to_ptr(rt, x.offset) : nullptr)) return kv.first + ": pointer differs";
        if (e.size != x.size || e.type != x.type) return kv.first + ": size or type differs";
        if (meta_of(e) != x.meta) return kv.first + ": meta differs";
        if (e.created_unix_ns != x.created) return kv.first + ": created time differs";
        if (x.offset) {
            std::string err = pattern_error(e.ptr, x.bytes, x.seed);
            if (!err.empty()) return kv.first + ": " + err;
        }
    }
    return "";
}

TEST_F(CatalogPersistence, EntriesSurviveCloseAndReopen) {
    auto expected = put_sample(rt_);
    ASSERT_EQ(check_sample(rt_, expected), "");
    for (int i = 0; i < 3; ++i) {
        reopen();
        ASSERT_EQ(check_sample(rt_, expected), "") << "after reopen " << i;
    }
    close_heap();
    open_readonly();
    EXPECT_EQ(check_sample(rt_, expected), "") << "read-only";
}

TEST_F(CatalogPersistence, ChangesAfterReopenAreKept) {
    auto expected = put_sample(rt_);
    reopen();
    ASSERT_FMRT_OK(fmrt_catalog_remove(rt_, "obj/0", FMRT_REMOVE_FREE));
    expected.erase("obj/0");
    ASSERT_FMRT_OK(fmrt_catalog_rename(rt_, "obj/1", "renamed", 0));
    expected["renamed"] = expected["obj/1"];
    expected.erase("obj/1");
    fmrt_entry e;
    ASSERT_FMRT_OK(get("renamed", &e));
    expected["renamed"].created = e.created_unix_ns;
    reopen();
    EXPECT_EQ(check_sample(rt_, expected), "");
    fmrt_report r = verify_of(rt_);
    EXPECT_EQ(r.problems, 0u) << describe(r);
    EXPECT_EQ(r.catalog_entries, expected.size());
}

TEST_F(CatalogPersistenceAcrossProcesses, ChildSeesTheEntriesTheParentPut) {
    auto expected = put_sample(rt_);
    close_heap();
    ChildStatus st = run_in_child([&] {
        fmrt_runtime *rt = nullptr;
        fmrt_options o = make_options();
        int rc = fmrt_runtime_open(&rt, path_.c_str(), &o);
        if (rc != FMRT_OK) return child_fail(1, "open: " + status_name(rc));
        std::string err = check_sample(rt, expected);
        if (!err.empty()) return child_fail(2, err);
        // And the child's own change, for the parent.
        rc = fmrt_catalog_put(rt, "from-child", nullptr, 0, 7, "child", 5, 0);
        if (rc != FMRT_OK) return child_fail(3, "put: " + status_name(rc));
        if (fmrt_runtime_close(rt) != FMRT_OK) return child_fail(4, "close");
        return 0;
    });
    ASSERT_TRUE(ExitedWith(st, 0));
    open_rw();
    fmrt_entry e;
    ASSERT_FMRT_OK(get("from-child", &e));
    EXPECT_EQ(e.type, 7u);
    EXPECT_EQ(meta_of(e), "child");
    expected["from-child"] = Expected{0, 0, 0, 0, 7, "child", e.created_unix_ns};
    EXPECT_EQ(check_sample(rt_, expected), "");
}

TEST_F(CatalogPersistenceAcrossProcesses, EntriesPutBeforeAKillAreThereAfterReopen) {
    close_heap();
    // The child puts, syncs, changes more without syncing and is killed.
    // The page cache outlives the process, so every committed change is
    // visible to the next open, and the catalog is consistent.
    ChildStatus st = run_in_child([&] {
        fmrt_runtime *rt = nullptr;
        fmrt_options o = make_options();
        if (fmrt_runtime_open(&rt, path_.c_str(), &o) != FMRT_OK) return child_fail(1, "open");
        for (int i = 0; i < 1000; ++i) {
            void *p = fmrt_malloc(rt, 64);
            if (p == nullptr) return child_fail(2, "malloc");
            fill_pattern(p, 64, i);
            std::string name = "k" + std::to_string(i);
            if (fmrt_catalog_put(rt, name.c_str(), p, 64, i, nullptr, 0, 0) != FMRT_OK) return child_fail(3, "put");
            if (i == 499 && fmrt_runtime_sync(rt) != FMRT_OK) return child_fail(4, "sync");
        }
        for (int i = 0; i < 1000; i += 2) {
            std::string name = "k" + std::to_string(i);
            if (fmrt_catalog_remove(rt, name.c_str(), FMRT_REMOVE_FREE) != FMRT_OK) return child_fail(5, "remove");
        }
        kill(getpid(), SIGKILL);
        return 6;
    });
    ASSERT_FALSE(st.exited) << st;
    ASSERT_EQ(st.signal, SIGKILL);
    open_rw();
    EXPECT_EQ(stats().clean_last_close, 0);
    auto check = [&] {
        EXPECT_EQ(count_of(rt_), 500u);
        for (int i = 1; i < 1000; i += 2) {
            fmrt_entry e;
            ASSERT_FMRT_OK(get("k" + std::to_string(i), &e));
            EXPECT_EQ(e.type, static_cast<uint32_t>(i));
            EXPECT_TRUE(HasPattern(e.ptr, 64, i)) << i;
        }
        fmrt_report r = verify_of(rt_);
        EXPECT_EQ(r.problems, 0u) << describe(r);
        EXPECT_EQ(r.catalog_entries, 500u);
        EXPECT_EQ(r.transient_allocations, 0u);
    };
    check();
    repair_with_reclaim();
    check();
}

TEST_F(CatalogPersistenceAcrossProcesses, RenameCutByAKillLeavesExactlyOneOfTheTwoNames) {
    // fmrt.h: "after a crash exactly one of the two names exists".  A child
    // renames one entry back and forth and is killed at varying instants.
    void *p = alloc_pattern(256, 42);
    const uint64_t off = offset(p);
    ASSERT_FMRT_OK(put("ping", p, 256, 9, "the entry"));
    close_heap();
    for (int round = 0; round < 8; ++round) {
        SCOPED_TRACE(round);
        int ready[2];
        ASSERT_EQ(pipe(ready), 0);
        pid_t pid = start_child([&] {
            close(ready[0]);
            fmrt_runtime *rt = nullptr;
            fmrt_options o = make_options();
            if (fmrt_runtime_open(&rt, path_.c_str(), &o) != FMRT_OK) return child_fail(1, "open");
            fmrt_entry e = FMRT_ENTRY_INIT;
            bool at_ping = fmrt_catalog_get(&e, rt, "ping") == FMRT_OK;
            for (uint64_t i = 0;; ++i) {
                if (fmrt_catalog_rename(rt, at_ping ? "ping" : "pong", at_ping ? "pong" : "ping", 0) != FMRT_OK)
                    return child_fail(2, "rename");
                at_ping = !at_ping;
                if (i == 100 && write(ready[1], "x", 1) != 1) return child_fail(3, "pipe");
            }
        });
        ASSERT_GT(pid, 0);
        close(ready[1]);
        char c;
        ASSERT_EQ(read(ready[0], &c, 1), 1);
        close(ready[0]);
        usleep(1000 + 3000 * round);
        kill(pid, SIGKILL);
        ChildStatus st = wait_child(pid);
        ASSERT_FALSE(st.exited) << st;

        open_rw();
        const bool ping = has("ping"), pong = has("pong");
        EXPECT_NE(ping, pong) << "ping " << ping << ", pong " << pong;
        fmrt_entry e;
        ASSERT_FMRT_OK(get(ping ? "ping" : "pong", &e));
        EXPECT_EQ(e.offset, off);
        EXPECT_EQ(e.type, 9u);
        EXPECT_EQ(meta_of(e), "the entry");
        EXPECT_TRUE(HasPattern(e.ptr, 256, 42));
        EXPECT_EQ(count_of(rt_), 1u);
        fmrt_report r = verify_of(rt_);
        EXPECT_EQ(r.problems, 0u) << describe(r);
        EXPECT_EQ(r.transient_allocations, 0u);
        repair_with_reclaim();
        ASSERT_FMRT_OK(get(ping ? "ping" : "pong", &e)) << "a repair with RECLAIM keeps the entry";
        EXPECT_EQ(e.offset, off);
        EXPECT_TRUE(HasPattern(e.ptr, 256, 42));
        close_heap();
    }
}

TEST_F(CatalogPersistenceAcrossProcesses, ReplacingRenameCutByAKillLosesNoAllocation) {
    // The child puts "a" and renames it over "b" (freeing b's allocation),
    // again and again.  Whatever instant the kill hits, the file holds a
    // "b" with intact bytes, nothing dangling and nothing leaked.
    close_heap();
    for (int round = 0; round < 6; ++round) {
        SCOPED_TRACE(round);
        int ready[2];
        ASSERT_EQ(pipe(ready), 0);
        pid_t pid = start_child([&] {
            close(ready[0]);
            fmrt_runtime *rt = nullptr;
            fmrt_options o = make_options();
            if (fmrt_runtime_open(&rt, path_.c_str(), &o) != FMRT_OK) return child_fail(1, "open");
            for (uint64_t i = 0;; ++i) {
                const size_t bytes = 100 + (i % 7) * 3000;
                void *q = fmrt_alloc(rt, bytes, 0, FMRT_ALLOC_TRANSIENT);
                if (q == nullptr) return child_fail(2, "alloc");
                fill_pattern(q, bytes, bytes);
                // "a" survives a kill between the put and the rename.
                if (fmrt_catalog_put(rt, "a", q, bytes, static_cast<uint32_t>(bytes), nullptr, 0,
                                     FMRT_PUT_REPLACE | FMRT_PUT_FREE_REPLACED) != FMRT_OK)
                    return child_fail(3, "put");
                if (fmrt_catalog_rename(rt, "a", "b", FMRT_PUT_REPLACE | FMRT_PUT_FREE_REPLACED) != FMRT_OK)
                    return child_fail(4, "rename");
                if (i == 100 && write(ready[1], "x", 1) != 1) return child_fail(5, "pipe");
            }
        });
        ASSERT_GT(pid, 0);
        close(ready[1]);
        char c;
        ASSERT_EQ(read(ready[0], &c, 1), 1);
        close(ready[0]);
        usleep(1000 + 4000 * round);
        kill(pid, SIGKILL);
        ChildStatus st = wait_child(pid);
        ASSERT_FALSE(st.exited) << st;

        open_rw();
        auto check = [&] {
            for (const char *n : {"a", "b"}) {
                fmrt_entry e;
                if (get(n, &e) != FMRT_OK) {
                    EXPECT_STREQ(n, "a") << "b always exists";
                    continue;
                }
                EXPECT_TRUE(HasPattern(e.ptr, e.size, e.size)) << n;
                EXPECT_EQ(e.type, e.size) << n;
                EXPECT_EQ(fmrt_is_transient(rt_, e.ptr), 0) << n;
            }
            fmrt_report r = verify_of(rt_);
            EXPECT_EQ(r.problems, 0u) << describe(r);
            EXPECT_EQ(r.transient_allocations, 0u);
            EXPECT_EQ(r.catalog_entries, count_of(rt_));
        };
        check();
        repair_with_reclaim();
        check();
        close_heap();
    }
}

// Name i of the large-catalog test: varied lengths and a shared prefix, so
// order is not the order of i.
std::string big_name(uint64_t i) {
    std::string n = "item/" + std::to_string(mix64(i) % 1000) + "/" + std::to_string(i);
    if (i % 7 == 0) n += "/\xE2\x9C\x93";  // ✓
    return n;
}

TEST_F(CatalogPersistence, HundredThousandNamesStayCorrectAndOrdered) {
    constexpr uint64_t kNames = 100000;
    std::vector<uint64_t> offsets(kNames);
    for (uint64_t i = 0; i < kNames; ++i) {
        void *p = fmrt_malloc(rt_, 16);
        ASSERT_NE(p, nullptr) << i;
        std::memcpy(p, &i, sizeof i);
        offsets[i] = offset(p);
        ASSERT_FMRT_OK(fmrt_catalog_put(rt_, big_name(i).c_str(), p, 8, static_cast<uint32_t>(i), &i, sizeof i, 0))
            << i;
    }
    EXPECT_EQ(count_of(rt_), kNames);
    for (uint64_t i = 0; i < kNames; ++i) {
        fmrt_entry e;
        ASSERT_FMRT_OK(get(big_name(i), &e)) << i;
        ASSERT_EQ(e.offset, offsets[i]) << i;
        ASSERT_EQ(e.type, static_cast<uint32_t>(i));
        uint64_t v = 0;
        std::memcpy(&v, e.ptr, sizeof v);
        ASSERT_EQ(v, i);
        ASSERT_EQ(e.meta_len, sizeof i);
        std::memcpy(&v, e.meta, sizeof v);
        ASSERT_EQ(v, i);
    }
    for (uint64_t i = 0; i < kNames; i += 2) ASSERT_FMRT_OK(fmrt_catalog_remove(rt_, big_name(i).c_str(), FMRT_REMOVE_FREE)) << i;
    EXPECT_EQ(count_of(rt_), kNames / 2);

    reopen();
    EXPECT_EQ(count_of(rt_), kNames / 2);
    EXPECT_EQ(stats().catalog_entries, kNames / 2);
    std::vector<std::string> expected;
    for (uint64_t i = 0; i < kNames; ++i) {
        fmrt_entry e;
        if (i % 2 == 0) {
            ASSERT_STATUS(get(big_name(i), &e), FMRT_ENOTFOUND) << i;
            continue;
        }
        ASSERT_FMRT_OK(get(big_name(i), &e)) << i;
        ASSERT_EQ(e.offset, offsets[i]) << i;
        uint64_t v = 0;
        std::memcpy(&v, e.ptr, sizeof v);
        ASSERT_EQ(v, i);
        expected.push_back(big_name(i));
    }
    std::sort(expected.begin(), expected.end(), bytewise_less);
    std::vector<std::string> order = names_in_order(rt_);
    ASSERT_EQ(order.size(), expected.size());
    EXPECT_TRUE(order == expected) << "iteration order differs from byte-wise order";
    fmrt_report r = verify_of(rt_);
    EXPECT_EQ(r.problems, 0u) << describe(r);
    EXPECT_EQ(r.catalog_entries, kNames / 2);
    EXPECT_EQ(r.unreachable_allocations, 0u);
}

}  // namespace
}  // namespace fmrt_catalog_test
