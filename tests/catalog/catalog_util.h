// Helpers shared by the catalog, transient and verify/repair tests: a test
// fixture that owns one heap file and its runtime, entry and report getters,
// and readable descriptions of reports for failure messages.
//
// These tests include only the public header (through ../api/test_util.h)
// and link only the shipped library.
#ifndef FMRT_CATALOG_UTIL_H
#define FMRT_CATALOG_UTIL_H

#include <time.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "../api/test_util.h"

namespace fmrt_catalog_test {

using namespace fmrt_test;

// `s` with every byte outside printable ASCII written as \xNN.  gtest
// copies failure messages into its XML report unescaped, and Meson cannot
// parse a report holding invalid UTF-8 (which the library's detail messages
// hold when they quote a refused name).
inline std::string printable(const std::string &s) {
    std::string out;
    for (unsigned char c : s) {
        if (c >= 0x20 && c < 0x7F && c != '\\') {
            out += static_cast<char>(c);
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02X", c);
            out += buf;
        }
    }
    return out;
}

// StatusIs of test_util.h with the detail message made printable; the
// status macros below use it.
inline ::testing::AssertionResult StatusIsPrintable(int rc, int code) {
    if (rc == code) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "got " << status_name(rc) << ", expected " << status_name(code)
                                         << " (detail: \"" << printable(fmrt_error_message()) << "\")";
}

#undef EXPECT_STATUS
#undef ASSERT_STATUS
#define EXPECT_STATUS(expr, code) EXPECT_TRUE(::fmrt_catalog_test::StatusIsPrintable((expr), (code))) << #expr
#define ASSERT_STATUS(expr, code) ASSERT_TRUE(::fmrt_catalog_test::StatusIsPrintable((expr), (code))) << #expr

inline uint64_t now_unix_ns() {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// Byte-wise (unsigned) name order, the order fmrt_catalog_next promises.
inline bool bytewise_less(const std::string &a, const std::string &b) {
    const size_t n = std::min(a.size(), b.size());
    int c = std::memcmp(a.data(), b.data(), n);
    return c != 0 ? c < 0 : a.size() < b.size();
}

inline std::string name_of(const fmrt_entry &e) { return std::string(e.name, e.name_len); }

inline std::string meta_of(const fmrt_entry &e) {
    return e.meta_len == 0 ? std::string() : std::string(static_cast<const char *>(e.meta), e.meta_len);
}

// Every problem of a report, one per line, for failure messages.
inline std::string describe(const fmrt_report &r) {
    std::ostringstream os;
    os << "problems=" << r.problems << " repairs=" << r.repairs << " damaged_records=" << r.damaged_records
       << " catalog_entries=" << r.catalog_entries << " small=" << r.small_allocations
       << " large=" << r.large_allocations << " transient=" << r.transient_allocations
       << " unreachable=" << r.unreachable_allocations << " clean=" << r.clean;
    for (uint64_t i = 0; i < r.problems && i < FMRT_REPORT_PROBLEMS; ++i)
        os << "\n  problem at " << r.first[i].offset << " (" << status_name(r.first[i].code) << "): " << r.first[i].what;
    return os.str();
}

inline fmrt_report verify_of(fmrt_runtime *rt) {
    fmrt_report r = FMRT_REPORT_INIT;
    int rc = fmrt_runtime_verify(&r, rt);
    EXPECT_EQ(status_name(rc), status_name(FMRT_OK)) << "fmrt_runtime_verify: " << fmrt_error_message();
    return r;
}

inline fmrt_report verify_path_of(const std::string &path) {
    fmrt_report r = FMRT_REPORT_INIT;
    int rc = fmrt_verify_path(&r, path.c_str());
    EXPECT_EQ(status_name(rc), status_name(FMRT_OK)) << "fmrt_verify_path: " << fmrt_error_message();
    return r;
}

inline fmrt_report repair_of(const std::string &path, unsigned flags) {
    fmrt_report r = FMRT_REPORT_INIT;
    int rc = fmrt_repair_path(&r, path.c_str(), flags);
    EXPECT_EQ(status_name(rc), status_name(FMRT_OK)) << "fmrt_repair_path: " << fmrt_error_message();
    return r;
}

// Names in iteration order (fmrt_catalog_next from NULL to the end).
inline std::vector<std::string> names_in_order(fmrt_runtime *rt) {
    std::vector<std::string> names;
    fmrt_entry e = FMRT_ENTRY_INIT;
    int rc = fmrt_catalog_next(&e, rt, nullptr);
    while (rc == FMRT_OK) {
        names.push_back(name_of(e));
        std::string after = names.back();
        rc = fmrt_catalog_next(&e, rt, after.c_str());
    }
    EXPECT_EQ(status_name(rc), status_name(FMRT_ENOTFOUND)) << "iteration ended with " << fmrt_error_message();
    return names;
}

inline uint64_t count_of(fmrt_runtime *rt) {
    uint64_t n = UINT64_MAX;
    int rc = fmrt_catalog_count(&n, rt);
    EXPECT_EQ(status_name(rc), status_name(FMRT_OK)) << "fmrt_catalog_count: " << fmrt_error_message();
    return n;
}

// The body of a child process (run_in_child) that opens the heap at
// `path`, allocates and frees 300 small blocks, renames its entry "toggle"
// (put if missing) back and forth 500 times, and kills itself: it leaves
// no allocation of its own behind, but its thread caches are full.
inline int child_frees_everything_and_dies(const std::string &path) {
    fmrt_runtime *rt = nullptr;
    fmrt_options o = make_options();
    if (fmrt_runtime_open(&rt, path.c_str(), &o) != FMRT_OK) return child_fail(1, "open");
    std::vector<void *> ps;
    for (int i = 0; i < 300; ++i) {
        ps.push_back(fmrt_malloc(rt, 64));
        if (ps.back() == nullptr) return child_fail(2, "malloc");
    }
    for (void *p : ps) {
        if (fmrt_free(rt, p) != FMRT_OK) return child_fail(3, "free");
    }
    fmrt_entry e = FMRT_ENTRY_INIT;
    if (fmrt_catalog_get(&e, rt, "toggle") != FMRT_OK &&
        fmrt_catalog_put(rt, "toggle", nullptr, 0, 0, nullptr, 0, 0) != FMRT_OK)
        return child_fail(4, "put");
    for (int i = 0; i < 500; ++i) {
        const char *from = i % 2 ? "toggled" : "toggle", *to = i % 2 ? "toggle" : "toggled";
        if (fmrt_catalog_rename(rt, from, to, 0) != FMRT_OK) return child_fail(5, "rename");
    }
    kill(getpid(), SIGKILL);
    return 6;
}

// A fixture owning one persistent heap file in a fresh directory, opened
// read-write in SetUp.  reopen() closes and opens it again (the pointers
// change; offsets do not).
class HeapTest : public ::testing::Test {
protected:
    void SetUp() override {
        path_ = dir_.file("heap.fmrt");
        open_rw();
    }
    void TearDown() override {
        if (rt_ != nullptr) {
            EXPECT_FMRT_OK(fmrt_runtime_close(rt_));
        }
        rt_ = nullptr;
    }

    void open_rw() {
        fmrt_options o = make_options();
        ASSERT_FMRT_OK(fmrt_runtime_open(&rt_, path_.c_str(), &o));
    }
    void open_readonly() {
        fmrt_options o = readonly_options();
        ASSERT_FMRT_OK(fmrt_runtime_open(&rt_, path_.c_str(), &o));
    }
    void close_heap() {
        ASSERT_NE(rt_, nullptr);
        ASSERT_FMRT_OK(fmrt_runtime_close(rt_));
        rt_ = nullptr;
    }
    void reopen() {
        close_heap();
        open_rw();
    }

    // For the tests that kill a writer: closes the heap, repairs it with
    // APPLY | RECLAIM (which must keep everything named), checks the file is
    // healthy and opens the heap again.  Whether a kill leaks the slots the
    // writer's thread caches held is tested on its own (Repair and Verify
    // tests "...AKilledWriter..."), not here.
    void repair_with_reclaim() {
        close_heap();
        repair_of(path_, FMRT_REPAIR_APPLY | FMRT_REPAIR_RECLAIM);
        fmrt_report after = verify_path_of(path_);
        EXPECT_EQ(after.problems, 0u) << describe(after);
        EXPECT_EQ(after.transient_allocations, 0u) << describe(after);
        open_rw();
    }

    // A durable allocation of `size` bytes holding the pattern of `seed`.
    void *alloc_pattern(size_t size, uint64_t seed) {
        void *p = fmrt_malloc(rt_, size);
        EXPECT_NE(p, nullptr) << "fmrt_malloc(" << size << "): " << fmrt_error_message();
        if (p != nullptr) fill_pattern(p, size, seed);
        return p;
    }

    int put(const std::string &name, void *p, uint64_t size, uint32_t type = 0, const std::string &meta = "",
            unsigned flags = 0) {
        return fmrt_catalog_put(rt_, name.c_str(), p, size, type, meta.empty() ? nullptr : meta.data(),
                                meta.size(), flags);
    }
    int get(const std::string &name, fmrt_entry *e) {
        *e = FMRT_ENTRY_INIT;
        return fmrt_catalog_get(e, rt_, name.c_str());
    }
    bool has(const std::string &name) {
        fmrt_entry e;
        return get(name, &e) == FMRT_OK;
    }
    // The allocation is live (not freed): fmrt_usable_size says so.
    bool live(const void *p) { return fmrt_usable_size(rt_, p) > 0; }
    uint64_t offset(const void *p) { return fmrt_ptr_to_offset(rt_, p); }
    void *at(uint64_t off) { return fmrt_offset_to_ptr(rt_, off); }
    fmrt_stats stats() { return stats_of(rt_); }

    TempDir dir_;
    std::string path_;
    fmrt_runtime *rt_ = nullptr;
};

}  // namespace fmrt_catalog_test

#endif  // FMRT_CATALOG_UTIL_H
