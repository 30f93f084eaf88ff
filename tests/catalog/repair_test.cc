// fmrt_repair_path: dry runs that write nothing, dropping damaged and
// dangling catalog records, freeing transient leftovers, reclaiming
// unreachable allocations, and leaving a healthy file as it was.
#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "catalog_util.h"

namespace fmrt_catalog_test {
namespace {

class Repair : public HeapTest {
protected:
    struct Named {
        std::string name;
        uint64_t offset, bytes, seed;
    };

    // Three named allocations a, b, c; returns them.
    std::vector<Named> put_abc() {
        std::vector<Named> out;
        for (const char *n : {"a", "b", "c"}) {
            void *p = alloc_pattern(300, n[0]);
            EXPECT_FMRT_OK(put(n, p, 300, n[0], std::string("meta-") + n));
            out.push_back({n, offset(p), 300, static_cast<uint64_t>(n[0])});
        }
        return out;
    }

    // Flips one bit of entry `name`'s stored name, in the mapped file.
    void damage(const char *name) {
        fmrt_entry e;
        ASSERT_FMRT_OK(get(name, &e));
        const_cast<char *>(e.name)[0] ^= 0x01;
    }

    void expect_named(const Named &n) {
        fmrt_entry e;
        ASSERT_FMRT_OK(get(n.name, &e)) << n.name;
        EXPECT_EQ(e.offset, n.offset) << n.name;
        EXPECT_EQ(meta_of(e), "meta-" + n.name);
        EXPECT_TRUE(HasPattern(e.ptr, n.bytes, n.seed)) << n.name;
    }
};

TEST_F(Repair, DryRunOfADamagedFileReportsRepairsAndChangesNothing) {
    put_abc();
    damage("b");
    close_heap();
    FileSnapshot before = FileSnapshot::of(path_);
    for (unsigned flags : {0u, unsigned{FMRT_REPAIR_RECLAIM}}) {
        fmrt_report r = repair_of(path_, flags);
        EXPECT_GE(r.repairs, 1u) << describe(r);
        EXPECT_GE(r.problems, 1u);
        EXPECT_EQ(r.damaged_records, 1u) << describe(r);
        EXPECT_TRUE(Unchanged(before, path_)) << "dry run with flags " << flags;
    }
    fmrt_report v = verify_path_of(path_);
    EXPECT_EQ(v.damaged_records, 1u) << "still damaged after dry runs";
}

TEST_F(Repair, ApplyDropsTheDamagedEntryAndKeepsTheOthers) {
    std::vector<Named> named = put_abc();
    damage("b");
    close_heap();
    fmrt_report r = repair_of(path_, FMRT_REPAIR_APPLY);
    EXPECT_GE(r.repairs, 1u) << describe(r);
    EXPECT_EQ(r.damaged_records, 1u) << "the report says what was found";

    fmrt_report v = verify_path_of(path_);
    EXPECT_EQ(v.problems, 0u) << describe(v);
    EXPECT_EQ(v.damaged_records, 0u);
    EXPECT_EQ(v.catalog_entries, 2u);

    open_rw();
    fmrt_entry e;
    EXPECT_STATUS(get("b", &e), FMRT_ENOTFOUND);
    expect_named(named[0]);
    expect_named(named[2]);
    EXPECT_EQ(names_in_order(rt_), (std::vector<std::string>{"a", "c"}));
    // b's allocation lost its name but, without RECLAIM, not its memory.
    EXPECT_GT(fmrt_usable_size(rt_, at(named[1].offset)), 0u);
    EXPECT_TRUE(HasPattern(at(named[1].offset), 300, 'b'));
    fmrt_report rv = verify_of(rt_);
    EXPECT_EQ(rv.problems, 0u) << describe(rv);
    EXPECT_GE(rv.unreachable_allocations, 1u) << describe(rv);

    // Reclaim then frees it, and only it.
    close_heap();
    fmrt_report rr = repair_of(path_, FMRT_REPAIR_APPLY | FMRT_REPAIR_RECLAIM);
    EXPECT_GE(rr.repairs, 1u) << describe(rr);
    fmrt_report after = verify_path_of(path_);
    EXPECT_EQ(after.problems, 0u) << describe(after);
    EXPECT_EQ(after.unreachable_allocations, 0u) << describe(after);
    EXPECT_EQ(after.catalog_entries, 2u);
    open_rw();
    expect_named(named[0]);
    expect_named(named[2]);
    EXPECT_EQ(fmrt_usable_size(rt_, at(named[1].offset)), 0u);
}

TEST_F(Repair, ApplyDropsARecordThatNamesAFreedAllocation) {
    std::vector<Named> named = put_abc();
    fmrt_entry e;
    ASSERT_FMRT_OK(get("a", &e));
    ASSERT_FMRT_OK(fmrt_free(rt_, e.ptr));
    close_heap();
    fmrt_report v = verify_path_of(path_);
    EXPECT_GE(v.problems, 1u) << describe(v);
    fmrt_report r = repair_of(path_, FMRT_REPAIR_APPLY);
    EXPECT_GE(r.repairs, 1u) << describe(r);
    fmrt_report after = verify_path_of(path_);
    EXPECT_EQ(after.problems, 0u) << describe(after);
    EXPECT_EQ(after.catalog_entries, 2u);
    open_rw();
    EXPECT_STATUS(get("a", &e), FMRT_ENOTFOUND);
    expect_named(named[1]);
    expect_named(named[2]);
}

// Reads a little-endian u64 of the file image (docs/format.md).
uint64_t u64_at(const std::string &img, uint64_t off) {
    uint64_t v = 0;
    std::memcpy(&v, img.data() + off, sizeof v);
    return v;
}

TEST_F(Repair, ARecordNoSlotNamesIsReportedAndRepairIndexesItAgain) {
    // A power cut between syncs can keep a table page older than a record's
    // (docs/format.md, "Power loss"): the record is valid and durable, and
    // no slot names it.  Here b's slot is emptied by hand.
    std::vector<Named> named = put_abc();
    close_heap();
    {
        const std::string img = read_file(path_);
        // The superblock copy with the higher generation is in force.
        const uint64_t sb = u64_at(img, 24) >= u64_at(img, 4096 + 24) ? 0 : 4096;
        const uint64_t root = u64_at(img, sb + 88), capacity = u64_at(img, root + 8);
        uint64_t slot_word = 0;
        for (uint64_t i = 0; i < capacity; ++i) {
            const uint64_t rec = u64_at(img, root + 32 + 8 * i);
            if (rec != 0 && img.compare(rec + 64, 2, std::string("b\0", 2)) == 0) slot_word = root + 32 + 8 * i;
        }
        ASSERT_NE(slot_word, 0u) << "b's slot not found";
        const uint64_t zero = 0;
        int fd = ::open(path_.c_str(), O_WRONLY);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(::pwrite(fd, &zero, sizeof zero, static_cast<off_t>(slot_word)), 8);
        ::close(fd);
    }
    fmrt_report v = verify_path_of(path_);
    EXPECT_EQ(v.problems, 1u) << describe(v);
    EXPECT_EQ(v.catalog_entries, 2u);
    ASSERT_GE(v.problems, 1u);
    EXPECT_NE(std::string(v.first[0].what).find("('b') is in no catalog slot"), std::string::npos) << v.first[0].what;

    fmrt_report r = repair_of(path_, FMRT_REPAIR_APPLY);
    EXPECT_GE(r.repairs, 1u) << describe(r);
    fmrt_report after = verify_path_of(path_);
    EXPECT_EQ(after.problems, 0u) << describe(after);
    EXPECT_EQ(after.catalog_entries, 3u);
    EXPECT_EQ(after.unreachable_allocations, 0u) << "the replaced table is given back";
    open_rw();
    for (const Named &n : named) expect_named(n);
    EXPECT_EQ(names_in_order(rt_), (std::vector<std::string>{"a", "b", "c"}));
    // The rebuilt catalog works as any other.
    void *p = alloc_pattern(100, 'd');
    ASSERT_FMRT_OK(put("d", p, 100, 'd', "meta-d"));
    close_heap();
    EXPECT_EQ(verify_path_of(path_).problems, 0u);
}

TEST_F(Repair, ADanglingEntryNeverCostsTheHealthySpanThatCoversItsPlace) {
    // Two names for one block; removing one with FMRT_REMOVE_FREE leaves the
    // other dangling (the API allows it).  Large blocks then cover the freed
    // place.  Verify reports the dangling entry and nothing else, and repair
    // drops it and keeps every large block and its entry.
    void *p = fmrt_malloc(rt_, 16000);
    ASSERT_NE(p, nullptr);
    const uint64_t poff = offset(p);
    ASSERT_FMRT_OK(put("a", p, 100, 1, "m"));
    ASSERT_FMRT_OK(put("b", p, 100, 1, "m"));
    ASSERT_FMRT_OK(fmrt_catalog_remove(rt_, "a", FMRT_REMOVE_FREE));
    reopen();
    std::vector<Named> big;
    bool covered = false;
    for (int i = 0; i < 64 && !covered; ++i) {
        const std::string name = "big" + std::to_string(i);
        void *q = alloc_pattern(100 * 1024, 1000 + i);
        ASSERT_NE(q, nullptr);
        ASSERT_FMRT_OK(put(name.c_str(), q, 100 * 1024, 1, "meta-" + name));
        big.push_back({name, offset(q), 100 * 1024, static_cast<uint64_t>(1000 + i)});
        covered = offset(q) - 4096 <= poff && poff < offset(q) + 100 * 1024;
    }
    ASSERT_TRUE(covered) << "no large block covered the freed place";
    close_heap();
    fmrt_report v = verify_path_of(path_);
    EXPECT_EQ(v.problems, 1u) << describe(v);
    ASSERT_GE(v.problems, 1u);
    EXPECT_EQ(v.first[0].code, FMRT_EINVAL) << v.first[0].what;
    EXPECT_EQ(v.large_allocations, big.size());
    ASSERT_GE(repair_of(path_, FMRT_REPAIR_APPLY).repairs, 1u);
    fmrt_report after = verify_path_of(path_);
    EXPECT_EQ(after.problems, 0u) << describe(after);
    EXPECT_EQ(after.catalog_entries, big.size());
    open_rw();
    for (const Named &n : big) expect_named(n);
}

TEST_F(Repair, AKilledWriterWithADanglingEntryLeavesAFileThatOpens) {
    // The first read-write open after a crash checks the file's structure;
    // a dangling entry, which callers can make, is not structure.
    close_heap();
    ChildStatus st = run_in_child([&] {
        fmrt_runtime *rt = nullptr;
        fmrt_options o = make_options();
        if (fmrt_runtime_open(&rt, path_.c_str(), &o) != FMRT_OK) return child_fail(1, "open");
        void *p = fmrt_malloc(rt, 300);
        if (p == nullptr) return child_fail(2, "malloc");
        if (fmrt_catalog_put(rt, "kept", p, 300, 1, nullptr, 0, 0) != FMRT_OK) return child_fail(3, "put");
        void *q = fmrt_malloc(rt, 300);
        if (q == nullptr || fmrt_catalog_put(rt, "dangling", q, 300, 1, nullptr, 0, 0) != FMRT_OK)
            return child_fail(4, "put dangling");
        if (fmrt_free(rt, q) != FMRT_OK) return child_fail(5, "free");
        _exit(0);  // no close: the file stays marked open
    });
    ASSERT_TRUE(ExitedWith(st, 0)) << st;
    fmrt_report v = verify_path_of(path_);
    EXPECT_EQ(v.clean, 0u);
    EXPECT_EQ(v.problems, 1u) << describe(v);
    open_rw();
    fmrt_entry e;
    EXPECT_FMRT_OK(get("kept", &e));
}

TEST_F(Repair, ReclaimFreesUnreachableAllocationsAndKeepsNamedOnes) {
    std::vector<Named> named = put_abc();
    std::vector<uint64_t> unnamed;
    for (size_t size : {size_t{16}, size_t{100}, size_t{5000}, size_t{100 * KiB}, size_t{1 * MiB}})
        unnamed.push_back(offset(alloc_pattern(size, size)));
    close_heap();
    fmrt_report before = verify_path_of(path_);
    ASSERT_EQ(before.problems, 0u) << describe(before);
    ASSERT_EQ(before.unreachable_allocations, unnamed.size());

    FileSnapshot snap = FileSnapshot::of(path_);
    fmrt_report dry = repair_of(path_, FMRT_REPAIR_RECLAIM);
    EXPECT_EQ(dry.repairs, unnamed.size()) << describe(dry);
    EXPECT_TRUE(Unchanged(snap, path_));

    fmrt_report r = repair_of(path_, FMRT_REPAIR_APPLY | FMRT_REPAIR_RECLAIM);
    EXPECT_EQ(r.repairs, unnamed.size()) << describe(r);
    fmrt_report after = verify_path_of(path_);
    EXPECT_EQ(after.problems, 0u) << describe(after);
    EXPECT_EQ(after.unreachable_allocations, 0u);
    EXPECT_EQ(after.unreachable_bytes, 0u);
    EXPECT_EQ(after.catalog_entries, 3u);
    EXPECT_EQ(after.large_allocations, before.large_allocations - 2);

    open_rw();
    for (const Named &n : named) expect_named(n);
    for (uint64_t off : unnamed) EXPECT_EQ(fmrt_usable_size(rt_, at(off)), 0u) << "at " << off;
    fmrt_report rv = verify_of(rt_);
    EXPECT_EQ(rv.problems, 0u) << describe(rv);
    EXPECT_EQ(rv.unreachable_allocations, 0u);
}

TEST_F(Repair, ApplyFreesTransientAllocationsLeftInTheFile) {
    std::vector<Named> named = put_abc();
    for (int i = 0; i < 3; ++i) ASSERT_NE(fmrt_alloc(rt_, i == 2 ? 1 * MiB : 64, 0, FMRT_ALLOC_TRANSIENT), nullptr);
    close_heap();
    fmrt_report before = verify_path_of(path_);
    ASSERT_EQ(before.transient_allocations, 3u);
    EXPECT_EQ(before.problems, 0u) << "transients left by a close are not a problem: " << describe(before);

    fmrt_report r = repair_of(path_, FMRT_REPAIR_APPLY);
    EXPECT_EQ(r.repairs, 3u) << describe(r);
    fmrt_report after = verify_path_of(path_);
    EXPECT_EQ(after.transient_allocations, 0u) << describe(after);
    EXPECT_EQ(after.problems, 0u);
    open_rw();
    EXPECT_EQ(stats().reclaimed_at_open, 0u) << "repair already freed them";
    for (const Named &n : named) expect_named(n);
}

TEST_F(Repair, RepairOfAHealthyFileMakesNoRepairsAndChangesNothing) {
    std::vector<Named> named = put_abc();
    const uint64_t kept = offset(alloc_pattern(777, 9));  // unreachable, but kept without RECLAIM
    ASSERT_FMRT_OK(put("empty", nullptr, 0, 1, "m"));
    close_heap();
    fmrt_report before = verify_path_of(path_);
    ASSERT_EQ(before.problems, 0u) << describe(before);

    FileSnapshot snap = FileSnapshot::of(path_);
    fmrt_report dry = repair_of(path_, 0);
    EXPECT_EQ(dry.repairs, 0u) << describe(dry);
    EXPECT_EQ(dry.problems, 0u);
    EXPECT_TRUE(Unchanged(snap, path_));

    fmrt_report r = repair_of(path_, FMRT_REPAIR_APPLY);
    EXPECT_EQ(r.repairs, 0u) << describe(r);
    EXPECT_EQ(r.problems, 0u);

    fmrt_report after = verify_path_of(path_);
    EXPECT_EQ(after.problems, 0u) << describe(after);
    EXPECT_EQ(after.catalog_entries, before.catalog_entries);
    EXPECT_EQ(after.small_allocations, before.small_allocations);
    EXPECT_EQ(after.large_allocations, before.large_allocations);
    EXPECT_EQ(after.unreachable_allocations, before.unreachable_allocations);
    EXPECT_EQ(after.file_bytes, before.file_bytes);
    EXPECT_EQ(after.heap_bytes, before.heap_bytes);
    EXPECT_EQ(after.free_bytes, before.free_bytes);

    open_rw();
    for (const Named &n : named) expect_named(n);
    EXPECT_TRUE(HasPattern(at(kept), 777, 9));
    EXPECT_TRUE(has("empty"));
    EXPECT_EQ(count_of(rt_), 4u);
}

TEST_F(Repair, RepairAfterAKilledWriterLeavesAHealthyFile) {
    std::vector<Named> named = put_abc();
    close_heap();
    ChildStatus st = run_in_child([&] {
        fmrt_runtime *rt = nullptr;
        fmrt_options o = make_options();
        if (fmrt_runtime_open(&rt, path_.c_str(), &o) != FMRT_OK) return child_fail(1, "open");
        for (int i = 0; i < 200; ++i) {
            void *p = fmrt_alloc(rt, 32 + i, 0, FMRT_ALLOC_TRANSIENT);
            if (p == nullptr) return child_fail(2, "alloc");
            if (i % 2 == 0) {
                std::string n = "child" + std::to_string(i);
                if (fmrt_catalog_put(rt, n.c_str(), p, 32, 0, nullptr, 0, 0) != FMRT_OK) return child_fail(3, "put");
            }
        }
        kill(getpid(), SIGKILL);
        return 4;
    });
    ASSERT_FALSE(st.exited) << st;
    fmrt_report v = verify_path_of(path_);
    EXPECT_EQ(v.clean, 0);
    EXPECT_EQ(v.transient_allocations, 100u) << describe(v);
    fmrt_report r = repair_of(path_, FMRT_REPAIR_APPLY);
    EXPECT_GE(r.repairs, 100u) << describe(r);
    fmrt_report after = verify_path_of(path_);
    EXPECT_EQ(after.problems, 0u) << describe(after);
    EXPECT_EQ(after.transient_allocations, 0u);
    EXPECT_EQ(after.catalog_entries, 103u);
    open_rw();
    for (const Named &n : named) expect_named(n);
    EXPECT_EQ(count_of(rt_), 103u);
}

TEST_F(Repair, ReclaimFreesWhatAKilledWritersThreadCacheHeld) {
    std::vector<Named> named = put_abc();
    ASSERT_FMRT_OK(put("toggle", nullptr, 0));
    close_heap();
    const fmrt_report before = verify_path_of(path_);
    ChildStatus st = run_in_child([&] { return child_frees_everything_and_dies(path_); });
    ASSERT_FALSE(st.exited) << st;
    fmrt_report killed = verify_path_of(path_);
    RecordProperty("unreachable_after_kill", static_cast<int>(killed.unreachable_allocations));

    // Whatever the kill left (docs/format.md: "a kill can only leak cached
    // slots"), a repair that reports reclaiming it must have done so.
    fmrt_report r = repair_of(path_, FMRT_REPAIR_APPLY | FMRT_REPAIR_RECLAIM);
    fmrt_report after = verify_path_of(path_);
    EXPECT_EQ(after.problems, 0u) << describe(after);
    EXPECT_EQ(after.unreachable_allocations, 0u)
        << "the repair reported " << r.repairs << " repairs; before it: " << describe(killed)
        << "\nafter it: " << describe(after);
    EXPECT_EQ(after.small_allocations, before.small_allocations) << describe(after);
    open_rw();
    for (const Named &n : named) expect_named(n);
}

}  // namespace
}  // namespace fmrt_catalog_test
