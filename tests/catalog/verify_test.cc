// fmrt_runtime_verify and fmrt_verify_path: exact counts on healthy heaps,
// damaged and dangling catalog records found in a runtime and in a file,
// and the status codes of the path form.
#include "catalog_util.h"

namespace fmrt_catalog_test {
namespace {

class Verify : public HeapTest {};
class VerifyAcrossProcesses : public HeapTest {};

TEST_F(Verify, FreshHeapHasNoProblemsAndNothingCounted) {
    fmrt_report r = verify_of(rt_);
    EXPECT_EQ(r.problems, 0u) << describe(r);
    EXPECT_EQ(r.repairs, 0u);
    EXPECT_EQ(r.small_allocations, 0u);
    EXPECT_EQ(r.large_allocations, 0u);
    EXPECT_EQ(r.catalog_entries, 0u);
    EXPECT_EQ(r.damaged_records, 0u);
    EXPECT_EQ(r.transient_allocations, 0u);
    EXPECT_EQ(r.unreachable_allocations, 0u);
    EXPECT_EQ(r.unreachable_bytes, 0u);
    EXPECT_EQ(r.file_bytes, file_size_on_disk(path_));
    EXPECT_GT(r.heap_bytes, 0u);
    EXPECT_LE(r.heap_bytes + 8192, r.file_bytes);
    EXPECT_GE(r.spans, 1u);
    EXPECT_GE(r.free_spans, 1u);
    EXPECT_EQ(r.free_bytes, r.heap_bytes) << "all of a fresh heap is free";
}

TEST_F(Verify, HealthyRuntimeHasNoProblemsAndExactCounts) {
    struct A {
        void *p;
        bool large;
        bool transient;
    };
    std::vector<A> all;
    for (size_t size : {size_t{1}, size_t{16}, size_t{100}, size_t{1000}, size_t{60000}}) {
        for (int k = 0; k < 2; ++k) all.push_back({alloc_pattern(size, size), false, false});
    }
    for (size_t size : {size_t{64 * KiB + 1}, size_t{1 * MiB}, size_t{3 * MiB}}) all.push_back({alloc_pattern(size, size), true, false});
    all.push_back({fmrt_alloc(rt_, 50, 0, FMRT_ALLOC_TRANSIENT), false, true});
    all.push_back({fmrt_alloc(rt_, 5000, 0, FMRT_ALLOC_TRANSIENT), false, true});
    all.push_back({fmrt_alloc(rt_, 2 * MiB, 0, FMRT_ALLOC_TRANSIENT), true, true});
    uint64_t small = 0, large = 0, transient = 0, durable = 0, small_bytes = 0, large_bytes = 0, durable_bytes = 0;
    for (const A &a : all) {
        ASSERT_NE(a.p, nullptr);
        const uint64_t usable = fmrt_usable_size(rt_, a.p);
        (a.large ? large : small)++;
        (a.large ? large_bytes : small_bytes) += usable;
        if (a.transient) ++transient;
        else {
            ++durable;
            durable_bytes += usable;
        }
    }
    fmrt_report r = verify_of(rt_);
    EXPECT_EQ(r.problems, 0u) << describe(r);
    EXPECT_EQ(r.small_allocations, small) << describe(r);
    EXPECT_EQ(r.large_allocations, large) << describe(r);
    EXPECT_EQ(r.small_bytes, small_bytes);
    EXPECT_EQ(r.large_bytes, large_bytes);
    EXPECT_EQ(r.transient_allocations, transient);
    EXPECT_EQ(r.catalog_entries, 0u);
    EXPECT_EQ(r.unreachable_allocations, durable) << "nothing is named yet";
    EXPECT_EQ(r.unreachable_bytes, durable_bytes);
    EXPECT_GE(r.runs, 1u);

    // Name four durable allocations (two small, two large) and an entry
    // without one.  Catalog storage is reachable, so only the unnamed
    // durable allocations count as unreachable.
    ASSERT_FMRT_OK(put("s0", all[0].p, 1));
    ASSERT_FMRT_OK(put("s1", all[6].p, 1000));
    ASSERT_FMRT_OK(put("l0", all[10].p, 64 * KiB + 1));
    ASSERT_FMRT_OK(put("l1", all[11].p, 1 * MiB));
    ASSERT_FMRT_OK(put("none", nullptr, 0));
    r = verify_of(rt_);
    EXPECT_EQ(r.problems, 0u) << describe(r);
    EXPECT_EQ(r.catalog_entries, 5u);
    EXPECT_EQ(r.damaged_records, 0u);
    EXPECT_EQ(r.unreachable_allocations, durable - 4) << describe(r);
    EXPECT_EQ(r.transient_allocations, transient);
    EXPECT_EQ(r.large_allocations, large) << "catalog storage for five short names is small";
    EXPECT_GE(r.small_allocations, small + 5) << "each entry's record is an allocation";

    // Frees are counted at once (a slot in a thread cache is not live).
    ASSERT_FMRT_OK(fmrt_free(rt_, all[1].p));
    ASSERT_FMRT_OK(fmrt_free(rt_, all[12].p));
    ASSERT_FMRT_OK(fmrt_free(rt_, all[13].p));  // transient small
    fmrt_report r2 = verify_of(rt_);
    EXPECT_EQ(r2.problems, 0u) << describe(r2);
    EXPECT_EQ(r2.small_allocations, r.small_allocations - 2);
    EXPECT_EQ(r2.large_allocations, r.large_allocations - 1);
    EXPECT_EQ(r2.transient_allocations, transient - 1);
    EXPECT_EQ(r2.unreachable_allocations, durable - 4 - 2);
}

TEST_F(Verify, VerifyAgreesWithStats) {
    for (int i = 0; i < 200; ++i) ASSERT_NE(alloc_pattern(16 + i * 37, i), nullptr);
    for (int i = 0; i < 10; ++i) ASSERT_NE(fmrt_alloc(rt_, 100 * KiB * (i + 1), 0, i % 2 ? FMRT_ALLOC_TRANSIENT : 0), nullptr);
    ASSERT_FMRT_OK(put("x", nullptr, 0));
    fmrt_report r = verify_of(rt_);
    fmrt_stats s = stats();
    EXPECT_EQ(r.problems, 0u) << describe(r);
    EXPECT_EQ(r.small_allocations + r.large_allocations, s.live_allocations);
    EXPECT_EQ(r.transient_allocations, s.transient_allocations);
    EXPECT_EQ(r.catalog_entries, s.catalog_entries);
    EXPECT_EQ(r.file_bytes, s.mapped_bytes);
}

TEST_F(Verify, VerifyPathOfAClosedFileMatchesTheRuntime) {
    for (int i = 0; i < 100; ++i) ASSERT_NE(alloc_pattern(8 + i * 13, i), nullptr);
    void *big = alloc_pattern(2 * MiB, 1);
    ASSERT_FMRT_OK(put("big", big, 2 * MiB));
    ASSERT_NE(fmrt_alloc(rt_, 100, 0, FMRT_ALLOC_TRANSIENT), nullptr);
    fmrt_report live = verify_of(rt_);
    ASSERT_EQ(live.problems, 0u) << describe(live);
    close_heap();

    fmrt_report r = verify_path_of(path_);
    EXPECT_EQ(r.problems, 0u) << describe(r);
    EXPECT_EQ(r.clean, 1);
    EXPECT_EQ(r.small_allocations, live.small_allocations);
    EXPECT_EQ(r.large_allocations, live.large_allocations);
    EXPECT_EQ(r.small_bytes, live.small_bytes);
    EXPECT_EQ(r.large_bytes, live.large_bytes);
    EXPECT_EQ(r.catalog_entries, 1u);
    EXPECT_EQ(r.transient_allocations, 1u) << "a clean close leaves transients for the next open";
    EXPECT_EQ(r.unreachable_allocations, 100u);
    EXPECT_EQ(r.file_bytes, file_size_on_disk(path_));
}

// One superblock copy failing its check (a power cut while it was written)
// is reported with the copy it is, counted as a repair, not a problem, and
// repair rewrites it.  A caller of report version 1 never sees the field.
TEST_F(Verify, ADamagedSuperblockCopyIsNamedAndRepaired) {
    void *p = alloc_pattern(1000, 3);
    ASSERT_FMRT_OK(put("a", p, 1000));
    close_heap();
    for (int copy = 0; copy < 2; ++copy) {
        SCOPED_TRACE("copy " + std::to_string(copy));
        std::string bytes = fmrt_test::read_file(path_);
        bytes[copy * 4096 + 40] ^= 0x10;  // inside the checksummed fields
        fmrt_test::write_file(path_, bytes);

        fmrt_report r = verify_path_of(path_);
        EXPECT_EQ(r.problems, 0u) << describe(r);
        EXPECT_EQ(r.superblock_damaged, 1u << copy);
        EXPECT_GE(r.repairs, 1u);
        fmrt_report v1 = FMRT_REPORT_INIT;
        v1.version = 1;
        v1.superblock_damaged = 77;  // not part of version 1: left alone
        ASSERT_FMRT_OK(fmrt_verify_path(&v1, path_.c_str()));
        EXPECT_EQ(v1.superblock_damaged, 77u);
        EXPECT_EQ(v1.version, 1u);
        EXPECT_EQ(v1.repairs, r.repairs);

        fmrt_report dry = repair_of(path_, 0);
        EXPECT_EQ(dry.superblock_damaged, 1u << copy);
        fmrt_report applied = repair_of(path_, FMRT_REPAIR_APPLY);
        EXPECT_EQ(applied.superblock_damaged, 1u << copy) << "what repair found";
        fmrt_report after = verify_path_of(path_);
        EXPECT_EQ(after.superblock_damaged, 0u);
        EXPECT_EQ(after.problems, 0u) << describe(after);
        EXPECT_EQ(after.repairs, 0u) << describe(after);
    }
    fmrt_runtime *rt = nullptr;
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt, path_.c_str(), nullptr));
    fmrt_entry e = FMRT_ENTRY_INIT;
    ASSERT_FMRT_OK(fmrt_catalog_get(&e, rt, "a"));
    EXPECT_TRUE(HasPattern(e.ptr, 1000, 3));
    EXPECT_EQ(verify_of(rt).superblock_damaged, 0u);
    ASSERT_FMRT_OK(fmrt_runtime_close(rt));
}

TEST_F(Verify, VerifyPathNeverWrites) {
    ASSERT_FMRT_OK(put("a", alloc_pattern(100, 1), 100));
    close_heap();
    FileSnapshot before = FileSnapshot::of(path_);
    verify_path_of(path_);
    EXPECT_TRUE(Unchanged(before, path_));
}

TEST_F(Verify, VerifyPathOfAFileOpenReadWriteFailsWithEbusy) {
    fmrt_report r = FMRT_REPORT_INIT;
    EXPECT_STATUS(fmrt_verify_path(&r, path_.c_str()), FMRT_EBUSY);
    EXPECT_STATUS(fmrt_repair_path(&r, path_.c_str(), 0), FMRT_EBUSY);
    EXPECT_STATUS(fmrt_repair_path(&r, path_.c_str(), FMRT_REPAIR_APPLY), FMRT_EBUSY);
    // The runtime is unaffected.
    EXPECT_FMRT_OK(put("still-works", nullptr, 0));
}

TEST_F(Verify, VerifyPathOfAFileOpenReadOnlyWorksButRepairIsBusy) {
    close_heap();
    open_readonly();
    fmrt_report r = FMRT_REPORT_INIT;
    EXPECT_FMRT_OK(fmrt_verify_path(&r, path_.c_str())) << "a shared lock beside a reader";
    EXPECT_EQ(r.problems, 0u) << describe(r);
    r = FMRT_REPORT_INIT;
    EXPECT_STATUS(fmrt_repair_path(&r, path_.c_str(), FMRT_REPAIR_APPLY), FMRT_EBUSY) << "repair opens read-write";
}

TEST_F(Verify, RepairDryRunWorksBesideAReaderButApplyingIsBusy) {
    // fmrt.h: a dry run takes a shared lock, as fmrt_verify_path; applying
    // takes the exclusive one.
    close_heap();
    open_readonly();
    const std::string before = fmrt_test::read_file(path_);
    fmrt_report r = FMRT_REPORT_INIT;
    EXPECT_STATUS(fmrt_repair_path(&r, path_.c_str(), 0), FMRT_OK);
    EXPECT_EQ(r.problems, 0u);
    EXPECT_EQ(fmrt_test::read_file(path_), before) << "a dry run wrote to the file";
    EXPECT_STATUS(fmrt_repair_path(&r, path_.c_str(), FMRT_REPAIR_APPLY), FMRT_EBUSY);
}

TEST_F(VerifyAcrossProcesses, VerifyPathOfAFileOpenInAnotherProcessFailsWithEbusy) {
    ChildStatus st = run_in_child([&] {
        fmrt_report r = FMRT_REPORT_INIT;
        int rc = fmrt_verify_path(&r, path_.c_str());
        if (rc != FMRT_EBUSY) return child_fail(1, "verify_path: " + status_name(rc));
        rc = fmrt_repair_path(&r, path_.c_str(), FMRT_REPAIR_APPLY);
        if (rc != FMRT_EBUSY) return child_fail(2, "repair_path: " + status_name(rc));
        return 0;
    });
    EXPECT_TRUE(ExitedWith(st, 0));
}

TEST_F(Verify, VerifyPathStatusCodes) {
    close_heap();
    fmrt_report r = FMRT_REPORT_INIT;
    EXPECT_STATUS(fmrt_verify_path(&r, dir_.file("missing").c_str()), FMRT_ENOTFOUND);
    write_file(dir_.file("empty"), "");
    EXPECT_STATUS(fmrt_verify_path(&r, dir_.file("empty").c_str()), FMRT_EFORMAT);
    write_file(dir_.file("text"), std::string(20000, 'x'));
    EXPECT_STATUS(fmrt_verify_path(&r, dir_.file("text").c_str()), FMRT_EFORMAT);
    EXPECT_STATUS(fmrt_repair_path(&r, dir_.file("text").c_str(), FMRT_REPAIR_APPLY), FMRT_EFORMAT);
    EXPECT_EQ(read_file(dir_.file("text")), std::string(20000, 'x')) << "repair left a foreign file alone";
    EXPECT_STATUS(fmrt_repair_path(&r, dir_.file("missing").c_str(), FMRT_REPAIR_APPLY), FMRT_ENOTFOUND);
    EXPECT_FALSE(path_exists(dir_.file("missing"))) << "repair does not create files";
}

TEST_F(Verify, NullArgumentsAndUnknownVersionsFailWithEinval) {
    fmrt_report r = FMRT_REPORT_INIT;
    EXPECT_STATUS(fmrt_runtime_verify(nullptr, rt_), FMRT_EINVAL);
    EXPECT_STATUS(fmrt_runtime_verify(&r, nullptr), FMRT_EINVAL);
    EXPECT_STATUS(fmrt_verify_path(nullptr, path_.c_str()), FMRT_EINVAL);
    EXPECT_STATUS(fmrt_verify_path(&r, nullptr), FMRT_EINVAL);
    EXPECT_STATUS(fmrt_repair_path(nullptr, path_.c_str(), 0), FMRT_EINVAL);
    EXPECT_STATUS(fmrt_repair_path(&r, nullptr, 0), FMRT_EINVAL);
    for (unsigned v : {0u, FMRT_REPORT_VERSION + 1u}) {
        fmrt_report bad = FMRT_REPORT_INIT;
        bad.version = v;
        EXPECT_STATUS(fmrt_runtime_verify(&bad, rt_), FMRT_EINVAL) << "version " << v;
    }
}

TEST_F(Verify, ReadOnlyRuntimeCanBeVerified) {
    ASSERT_FMRT_OK(put("a", alloc_pattern(10, 1), 10));
    close_heap();
    open_readonly();
    fmrt_report r = verify_of(rt_);
    EXPECT_EQ(r.problems, 0u) << describe(r);
    EXPECT_EQ(r.catalog_entries, 1u);
}

// ---- damage --------------------------------------------------------------------

// Flips one bit of the stored name of entry `name`, in place in the mapped
// file, and returns the file offset of the byte changed.
uint64_t damage_record(fmrt_runtime *rt, const char *name) {
    fmrt_entry e = FMRT_ENTRY_INIT;
    EXPECT_FMRT_OK(fmrt_catalog_get(&e, rt, name));
    if (e.name == nullptr) return 0;
    char *bytes = const_cast<char *>(e.name);
    bytes[0] ^= 0x01;  // stays valid ASCII: only the checksum can notice
    return fmrt_ptr_to_offset(rt, e.name);
}

// The problem of `r` that lies at the record holding the name byte at
// `name_offset` (at most one page before it), or NULL.
const fmrt_problem *problem_near(const fmrt_report &r, uint64_t name_offset) {
    for (uint64_t i = 0; i < r.problems && i < FMRT_REPORT_PROBLEMS; ++i)
        if (r.first[i].offset < name_offset && name_offset - r.first[i].offset <= 4096) return &r.first[i];
    return nullptr;
}

TEST_F(Verify, DamagedRecordIsReportedWithItsOffset) {
    for (const char *n : {"a", "b", "c"}) ASSERT_FMRT_OK(put(n, alloc_pattern(100, n[0]), 100, 0, "meta"));
    const uint64_t name_off = damage_record(rt_, "b");
    ASSERT_NE(name_off, 0u);

    fmrt_report r = verify_of(rt_);
    EXPECT_GE(r.problems, 1u);
    EXPECT_EQ(r.damaged_records, 1u) << describe(r);
    EXPECT_EQ(r.catalog_entries, 2u) << describe(r);
    const fmrt_problem *p = problem_near(r, name_off);
    ASSERT_NE(p, nullptr) << "no problem at the record of 'b' (name at " << name_off << "): " << describe(r);
    EXPECT_EQ(p->code, FMRT_EFORMAT);
    EXPECT_GT(std::strlen(p->what), 0u);
    EXPECT_GT(fmrt_usable_size(rt_, at(p->offset)), 0u) << "the offset is the record's allocation";
    const uint64_t record_off = p->offset;

    // The file says the same after close.
    close_heap();
    fmrt_report f = verify_path_of(path_);
    EXPECT_GE(f.problems, 1u);
    EXPECT_EQ(f.damaged_records, 1u) << describe(f);
    EXPECT_EQ(f.catalog_entries, 2u);
    const fmrt_problem *fp = problem_near(f, name_off);
    ASSERT_NE(fp, nullptr) << describe(f);
    EXPECT_EQ(fp->offset, record_off);
}

TEST_F(Verify, DamagedRecordIsNeverUsedAfterReopen) {
    for (const char *n : {"a", "b", "c"}) ASSERT_FMRT_OK(put(n, alloc_pattern(100, n[0]), 100));
    damage_record(rt_, "b");
    reopen();
    fmrt_entry e;
    EXPECT_STATUS(get("b", &e), FMRT_ENOTFOUND);
    EXPECT_STATUS(get("a", &e), FMRT_OK);
    // 'b' with its low bit flipped reads 'c': the damaged record must not
    // shadow the real "c".
    ASSERT_FMRT_OK(get("c", &e));
    EXPECT_TRUE(HasPattern(e.ptr, 100, 'c'));
    EXPECT_EQ(names_in_order(rt_), (std::vector<std::string>{"a", "c"}));
    EXPECT_EQ(count_of(rt_), 2u);
    EXPECT_EQ(stats().catalog_entries, 2u);
    fmrt_report r = verify_of(rt_);
    EXPECT_EQ(r.damaged_records, 1u) << "still reported until repaired: " << describe(r);
    // The catalog keeps working around it.
    ASSERT_FMRT_OK(put("b", nullptr, 0));
    ASSERT_FMRT_OK(put("d", nullptr, 0));
    EXPECT_EQ(names_in_order(rt_), (std::vector<std::string>{"a", "b", "c", "d"}));
}

TEST_F(Verify, FreeingANamedAllocationMakesItsRecordDangling) {
    void *p = alloc_pattern(64, 1);
    ASSERT_FMRT_OK(put("a", p, 64));
    ASSERT_FMRT_OK(put("b", alloc_pattern(64, 2), 64));
    ASSERT_FMRT_OK(fmrt_free(rt_, p));
    fmrt_report r = verify_of(rt_);
    EXPECT_GE(r.problems, 1u) << describe(r);
    EXPECT_EQ(r.damaged_records, 0u) << "the record itself is intact";
    bool dangling = false;
    for (uint64_t i = 0; i < r.problems && i < FMRT_REPORT_PROBLEMS; ++i) dangling |= r.first[i].code == FMRT_EINVAL;
    EXPECT_TRUE(dangling) << "a record naming no live allocation is FMRT_EINVAL: " << describe(r);
}

TEST_F(Verify, ProblemListHoldsAtMostFmrtReportProblemsButCountsAll) {
    for (int i = 0; i < 40; ++i) ASSERT_FMRT_OK(put("n" + std::to_string(i), alloc_pattern(32, i), 32));
    for (int i = 0; i < 40; ++i) damage_record(rt_, ("n" + std::to_string(i)).c_str());
    fmrt_report r = verify_of(rt_);
    EXPECT_EQ(r.damaged_records, 40u) << describe(r);
    EXPECT_GE(r.problems, 40u);
    for (int i = 0; i < FMRT_REPORT_PROBLEMS; ++i) {
        EXPECT_NE(r.first[i].offset, 0u) << i;
        EXPECT_EQ(r.first[i].code, FMRT_EFORMAT) << i;
        EXPECT_NE(std::memchr(r.first[i].what, '\0', sizeof r.first[i].what), nullptr) << "NUL-terminated";
    }
}

TEST_F(VerifyAcrossProcesses, AfterAKilledWriterFreedEverythingStatsAndBothVerifiesAgree) {
    ASSERT_FMRT_OK(put("keep", alloc_pattern(100, 1), 100));
    ASSERT_FMRT_OK(put("toggle", nullptr, 0));
    close_heap();
    const fmrt_report before = verify_path_of(path_);
    ASSERT_EQ(before.unreachable_allocations, 0u);
    ChildStatus st = run_in_child([&] { return child_frees_everything_and_dies(path_); });
    ASSERT_FALSE(st.exited) << st;

    const fmrt_report file = verify_path_of(path_);
    open_rw();
    const fmrt_report live = verify_of(rt_);
    const fmrt_stats s = stats();
    // One file, three views of how many allocations are live.
    EXPECT_EQ(file.small_allocations, live.small_allocations) << "verify_path: " << describe(file)
                                                             << "\nruntime verify: " << describe(live);
    EXPECT_EQ(file.unreachable_allocations, live.unreachable_allocations);
    EXPECT_EQ(s.live_allocations, live.small_allocations + live.large_allocations)
        << "stats.live_allocations " << s.live_allocations << "; runtime verify: " << describe(live);
    // And the child freed everything it allocated (its renames replaced a
    // record by a record).
    EXPECT_EQ(s.live_allocations, before.small_allocations + before.large_allocations);
    EXPECT_EQ(live.unreachable_allocations, 0u) << describe(live);
}

}  // namespace
}  // namespace fmrt_catalog_test
