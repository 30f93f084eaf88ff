// Fault injection: a scripted workload (create a heap, grow it several
// times, put, rename, replace and remove catalog entries, sync, close,
// reopen, more of the same) is run once clean to count its injectable OS
// calls, N; then once for every n in 1..N with the n-th call made to fail.
// Each failure must come back as an error status (never a crash, a SIGBUS
// or a silent success), and the file left behind must open, verify with no
// problems and hold every entry committed before the failure.
//
// Injectable calls (platform.h): create_temp, link_into_place,
// create_unlinked, reserve_space (posix_fallocate), sync_file (fsync),
// map_file (mmap), map_anonymous and flush_mapping (msync).  The library
// makes no ftruncate call at all: the file grows only by posix_fallocate
// (reserve_space), so "the n-th ftruncate fails" is covered by the
// fallocate failures.
//
// Links the internal library for fmrt::os::set_fault_countdown, but drives
// the heap through the public fmrt_* functions it also contains.  Each run
// is a child process (this binary run again), so a crash is reported as
// such, with its n.
#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>

#include <cinttypes>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "integrity_util.h"
#include "platform.h"

// ---- A full disk: every reservation from the n-th on fails -------------------------
//
// The library's own injection fails one call; growth then retries a smaller
// reservation (pages.cc), which absorbs a single failure.  A disk that stays
// full is modelled here instead: this definition of posix_fallocate64 (what
// posix_fallocate is with 64-bit file offsets, as Meson builds) takes
// precedence over the C library's for the internal library linked into
// this executable.

namespace {
std::atomic<long> g_reservations{0};  // posix_fallocate calls made
std::atomic<long> g_full_from{0};     // the first one to fail with ENOSPC (0: none)
}  // namespace

extern "C" int posix_fallocate64(int fd, off_t offset, off_t len) {
    using Fn = int (*)(int, off_t, off_t);
    static const Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "posix_fallocate64"));
    const long k = g_reservations.fetch_add(1) + 1;
    const long from = g_full_from.load();
    if (from > 0 && k >= from) return ENOSPC;
    return real != nullptr ? real(fd, offset, len) : ENOSYS;
}

namespace {

using namespace fmrt_integrity;

struct Entry {
    uint64_t seed = 0;
    uint64_t size = 0;
    bool operator==(const Entry &o) const { return seed == o.seed && size == o.size; }
};
using Model = std::map<std::string, Entry>;

constexpr uint32_t kType = 0xFA017;

// What one run of the workload did, as the child reports it.
struct Outcome {
    bool finished = false;  // every call succeeded
    int failed_step = -1;   // index of the call that failed
    int rc = 0;             // its status
    std::string call;       // which call
    std::string detail;     // fmrt_error_message() right after it failed (or at the end)
    long calls = 0;         // injectable OS calls made
    long reservations = 0;  // posix_fallocate calls made
    int close_rc = 0;       // closing the handle left open after the failure
    bool status_missing = false;  // a NULL came back with fmrt_last_status() == FMRT_OK
    Model committed;        // entries as committed calls left them
    Model before, after;    // the names the failed call touched, before and after it
};

// ---- The workload (runs in the child) -----------------------------------------------

class Workload {
public:
    explicit Workload(std::string path) : path_(std::move(path)) {}

    // Runs until the first failing call; the outcome says which.
    Outcome run() {
        script();
        if (!out_.finished) {
            fmrt::os::set_fault_countdown(0);
            out_.calls = fault_calls_at_failure_;
            if (rt_ != nullptr) out_.close_rc = fmrt_runtime_close(rt_);
            rt_ = nullptr;
        } else {
            out_.calls = fmrt::os::fault_calls();
            out_.detail = fmrt_error_message();  // names a fault a retry absorbed, if any
        }
        out_.committed = model_;
        out_.reservations = g_reservations.load();
        return out_;
    }

private:
    // The scripted sequence; each step returns false once a call failed.
    void script() {
        // Phase 1: a new heap, grown several times.
        if (!open_heap(FMRT_OPEN_CREATE)) return;
        const uint64_t sizes[] = {100, 3000, 70000, 300000, 17, 900000};
        for (int i = 0; i < 80; ++i) {
            if (!put("a" + std::to_string(i), sizes[i % 6], 0)) return;
        }
        // An unnamed block that forces growth, then freed.
        void *big = alloc(2 * MiB, "fmrt_malloc (2 MiB)");
        if (big == nullptr || !ok(fmrt_free(rt_, big), "fmrt_free")) return;
        for (int i = 0; i < 10; ++i) {
            if (!rename("a" + std::to_string(i), "r" + std::to_string(i), 0)) return;
        }
        if (!rename("a10", "a11", FMRT_PUT_REPLACE | FMRT_PUT_FREE_REPLACED)) return;
        for (int i = 20; i < 30; ++i) {
            if (!remove("a" + std::to_string(i), FMRT_REMOVE_FREE)) return;
        }
        for (int i = 30; i < 35; ++i) {
            if (!put("a" + std::to_string(i), 5000 + i, FMRT_PUT_REPLACE | FMRT_PUT_FREE_REPLACED)) return;
        }
        // A block grown by realloc (in place or moved) and then named.
        void *p = alloc(100000, "fmrt_malloc (100000)");
        if (p == nullptr) return;
        void *q = fmrt_realloc(rt_, p, 1536 * KiB);
        if (!check_ptr(q, "fmrt_realloc (1.5 MiB)")) return;
        if (!put_existing("grown", q, 1536 * KiB)) return;
        void *t = fmrt_alloc(rt_, 4096, 0, FMRT_ALLOC_TRANSIENT);
        if (!check_ptr(t, "fmrt_alloc (transient)")) return;
        if (!ok(fmrt_runtime_sync(rt_), "fmrt_runtime_sync")) return;
        if (!close_heap()) return;

        // Phase 2: the same file again.
        if (!open_heap(0)) return;
        for (int i = 0; i < 40; ++i) {
            if (!put("b" + std::to_string(i), sizes[(i + 3) % 6] * 2, 0)) return;
        }
        for (int i = 0; i < 5; ++i) {
            if (!rename("b" + std::to_string(i), "a" + std::to_string(40 + i),
                        FMRT_PUT_REPLACE | FMRT_PUT_FREE_REPLACED)) {
                return;
            }
        }
        for (int i = 50; i < 60; ++i) {
            if (!remove("a" + std::to_string(i), FMRT_REMOVE_FREE)) return;
        }
        void *big2 = alloc(6 * MiB, "fmrt_malloc (6 MiB)");
        if (big2 == nullptr || !ok(fmrt_free(rt_, big2), "fmrt_free")) return;
        if (!ok(fmrt_runtime_sync(rt_), "fmrt_runtime_sync")) return;
        for (int i = 5; i < 10; ++i) {
            if (!put("b" + std::to_string(i), 123 + i, FMRT_PUT_REPLACE | FMRT_PUT_FREE_REPLACED)) return;
        }
        if (!close_heap()) return;
        out_.finished = true;
    }

    bool fail_step(const std::string &call, int rc) {
        fault_calls_at_failure_ = fmrt::os::fault_calls();
        out_.failed_step = step_;
        out_.rc = rc;
        out_.call = call;
        out_.detail = fmrt_error_message();
        return false;
    }

    bool ok(int rc, const std::string &call) {
        ++step_;
        return rc == FMRT_OK ? true : fail_step(call, rc);
    }

    // An allocation's result: NULL must come with a failure status.
    bool check_ptr(void *p, const std::string &call) {
        ++step_;
        if (p != nullptr) return true;
        int rc = fmrt_last_status();
        if (rc == FMRT_OK) out_.status_missing = true;
        return fail_step(call, rc);
    }

    void *alloc(size_t n, const std::string &call) {
        void *p = fmrt_malloc(rt_, n);
        return check_ptr(p, call) ? p : nullptr;
    }

    bool open_heap(unsigned flags) {
        fmrt_options o = FMRT_OPTIONS_INIT;
        o.flags = flags;
        o.initial_size = 64 * KiB;
        o.max_size = 256 * MiB;
        int rc = fmrt_runtime_open(&rt_, path_.c_str(), &o);
        if (rc != FMRT_OK) rt_ = nullptr;
        return ok(rc, flags ? "fmrt_runtime_open (create)" : "fmrt_runtime_open (existing)");
    }

    bool close_heap() {
        fmrt_runtime *rt = rt_;
        rt_ = nullptr;  // released even when the final sync fails
        return ok(fmrt_runtime_close(rt), "fmrt_runtime_close");
    }

    // The failed call may or may not have happened: remember both states
    // of the names it touches.
    void note_uncertain(const std::vector<std::string> &names, const Model &after) {
        for (const auto &n : names) {
            auto it = model_.find(n);
            if (it != model_.end()) out_.before[n] = it->second;
            auto jt = after.find(n);
            if (jt != after.end()) out_.after[n] = jt->second;
        }
    }

    bool put_existing(const std::string &name, void *p, uint64_t size, unsigned flags = 0) {
        const uint64_t seed = entry_seed(name, ++version_);
        fill_pattern(p, size, seed);
        int rc = fmrt_catalog_put(rt_, name.c_str(), p, size, kType, &seed, sizeof seed, flags);
        Model after = model_;
        after[name] = Entry{seed, size};
        if (rc != FMRT_OK) note_uncertain({name}, after);
        if (!ok(rc, "fmrt_catalog_put " + name)) return false;
        model_ = after;
        return true;
    }

    bool put(const std::string &name, uint64_t size, unsigned flags) {
        void *p = alloc(size, "fmrt_malloc for " + name);
        return p != nullptr && put_existing(name, p, size, flags);
    }

    bool rename(const std::string &from, const std::string &to, unsigned flags) {
        int rc = fmrt_catalog_rename(rt_, from.c_str(), to.c_str(), flags);
        Model after = model_;
        after[to] = after[from];
        after.erase(from);
        if (rc != FMRT_OK) note_uncertain({from, to}, after);
        if (!ok(rc, "fmrt_catalog_rename " + from + " " + to)) return false;
        model_ = after;
        return true;
    }

    bool remove(const std::string &name, unsigned flags) {
        int rc = fmrt_catalog_remove(rt_, name.c_str(), flags);
        Model after = model_;
        after.erase(name);
        if (rc != FMRT_OK) note_uncertain({name}, after);
        if (!ok(rc, "fmrt_catalog_remove " + name)) return false;
        model_ = after;
        return true;
    }

    std::string path_;
    fmrt_runtime *rt_ = nullptr;
    Model model_;
    uint64_t version_ = 0;
    int step_ = 0;
    long fault_calls_at_failure_ = 0;
    Outcome out_;
};

// ---- Outcome over a pipe -------------------------------------------------------------

std::string serialize(const Outcome &o) {
    std::string s;
    s += fields_line({"finished", std::to_string(o.finished)});
    s += fields_line({"step", std::to_string(o.failed_step)});
    s += fields_line({"rc", std::to_string(o.rc)});
    s += fields_line({"call", o.call});
    s += fields_line({"detail", o.detail});
    s += fields_line({"calls", std::to_string(o.calls)});
    s += fields_line({"reservations", std::to_string(o.reservations)});
    s += fields_line({"close", std::to_string(o.close_rc)});
    s += fields_line({"nostatus", std::to_string(o.status_missing)});
    auto model = [&](const char *tag, const Model &m) {
        for (const auto &kv : m)
            s += fields_line({tag, kv.first, std::to_string(kv.second.seed), std::to_string(kv.second.size)});
    };
    model("entry", o.committed);
    model("before", o.before);
    model("after", o.after);
    return s;
}

Outcome deserialize(const std::string &text) {
    Outcome o;
    for (const auto &f : parse_fields(text)) {
        if (f.size() < 2) continue;
        const std::string &k = f[0];
        if (k == "finished") o.finished = f[1] == "1";
        else if (k == "step") o.failed_step = std::stoi(f[1]);
        else if (k == "rc") o.rc = std::stoi(f[1]);
        else if (k == "call") o.call = f[1];
        else if (k == "detail") o.detail = f[1];
        else if (k == "calls") o.calls = std::stol(f[1]);
        else if (k == "reservations") o.reservations = std::stol(f[1]);
        else if (k == "close") o.close_rc = std::stoi(f[1]);
        else if (k == "nostatus") o.status_missing = f[1] == "1";
        else if (f.size() == 4) {
            Entry e{std::stoull(f[2]), std::stoull(f[3])};
            if (k == "entry") o.committed[f[1]] = e;
            else if (k == "before") o.before[f[1]] = e;
            else if (k == "after") o.after[f[1]] = e;
        }
    }
    return o;
}

enum class Failing { kInjectedCall, kReservationsFrom };

// The workload program: "fd how n path" in FMRT_FAULTS_WORKLOAD (how: 0
// the n-th injectable call fails, 1 every reservation from the n-th on).
// A program of its own, so the checking process shares nothing with it.
int workload_main(const std::string &args) {
    std::vector<std::string> a = split_words(args);
    if (a.size() != 4) return 99;
    const bool injected = a[1] == "0";
    const long n = std::stol(a[2]);
    fmrt::os::set_fault_countdown(injected ? n : 0);
    g_reservations = 0;
    g_full_from = injected ? 0 : n;
    std::string text = serialize(Workload(a[3]).run());
    return write_all(std::stoi(a[0]), text.data(), text.size()) ? 0 : 1;
}
FMRT_CHILD_MAIN("FMRT_FAULTS_WORKLOAD", workload_main)

// Runs the workload with the n-th injectable call failing, or with every
// reservation from the n-th on failing (n 0: nothing fails).  *st says how
// the child ended.
Outcome run_workload(const std::string &path, Failing how, long n, ChildStatus *st) {
    const std::string args = std::string(how == Failing::kInjectedCall ? "0 " : "1 ") + std::to_string(n) + " " + path;
    return deserialize(run_self("FMRT_FAULTS_WORKLOAD", args, st, 60000));
}

// The kind of OS call an injected fault's detail names.
std::string fault_kind(const std::string &detail) {
    static const char *kinds[][2] = {
        {"reserve disk space", "fallocate"}, {"msync", "msync"}, {"fsync", "fsync"},
        {"mmap (anonymous)", "mmap-anonymous"}, {"mmap", "mmap"}, {"create file", "create-temp"},
        {"link", "link"}, {"create ", "create-unlinked"},
    };
    if (detail.find("injected fault") == std::string::npos) return "";
    for (auto &k : kinds)
        if (detail.find(k[0]) != std::string::npos) return k[1];
    return "other";
}

std::string describe_entry(const Entry &e) {
    return "{seed " + std::to_string(e.seed) + ", size " + std::to_string(e.size) + "}";
}

// The file a run left: it opens, verifies, and holds what was committed.
void check_file(const std::string &path, const Outcome &o, const std::string &where, bool *took_effect = nullptr) {
    HangGuard guard(60, "faults: checking the file a failed run left");
    fmrt_report rep = FMRT_REPORT_INIT;
    ASSERT_FMRT_OK(fmrt_verify_path(&rep, path.c_str())) << where;
    EXPECT_EQ(rep.problems, 0u) << where << ": fmrt_verify_path: " << describe_report(rep);

    fmrt_runtime *rt = nullptr;
    fmrt_options opts = FMRT_OPTIONS_INIT;
    opts.flags = 0;
    ASSERT_FMRT_OK(fmrt_runtime_open(&rt, path.c_str(), &opts)) << where;
    rep = FMRT_REPORT_INIT;
    EXPECT_FMRT_OK(fmrt_runtime_verify(&rep, rt)) << where;
    EXPECT_EQ(rep.problems, 0u) << where << ": fmrt_runtime_verify: " << describe_report(rep);

    Model found;
    std::map<std::string, std::string> errors;
    fmrt_entry e = FMRT_ENTRY_INIT;
    std::string after;
    while (fmrt_catalog_next(&e, rt, found.empty() && errors.empty() ? nullptr : after.c_str()) == FMRT_OK) {
        after.assign(e.name, e.name_len);
        uint64_t seed = 0;
        if (e.meta_len != sizeof seed || e.type != kType) {
            errors[after] = "bad metadata or type";
            continue;
        }
        std::memcpy(&seed, e.meta, sizeof seed);
        found[after] = Entry{seed, e.size};
        size_t bad = pattern_mismatch(e.ptr, e.size, seed);
        if (e.ptr == nullptr || bad != e.size) errors[after] = "data differs at byte " + std::to_string(bad);
    }
    for (const auto &kv : errors) ADD_FAILURE() << where << ": entry " << kv.first << ": " << kv.second;

    std::set<std::string> involved;
    for (const auto &kv : o.before) involved.insert(kv.first);
    for (const auto &kv : o.after) involved.insert(kv.first);
    for (const auto &kv : o.committed) {
        if (involved.count(kv.first)) continue;
        auto it = found.find(kv.first);
        if (it == found.end()) ADD_FAILURE() << where << ": committed entry " << kv.first << " is missing";
        else if (!(it->second == kv.second))
            ADD_FAILURE() << where << ": entry " << kv.first << " is " << describe_entry(it->second) << ", committed as "
                          << describe_entry(kv.second);
    }
    Model now;
    for (const auto &kv : found) {
        if (involved.count(kv.first)) now[kv.first] = kv.second;
        else if (!o.committed.count(kv.first)) ADD_FAILURE() << where << ": entry " << kv.first << " was never committed";
    }
    // The failing call itself: before or after, as a whole.  (Involved
    // names in `o.committed` hold the before state.)
    EXPECT_TRUE(now == o.before || now == o.after) << where << ": the failed " << o.call << " is half done";
    if (took_effect != nullptr) *took_effect = now != o.before && now == o.after;
    EXPECT_FMRT_OK(fmrt_runtime_close(rt)) << where;
}

std::vector<std::string> directory_names(const std::string &dir) {
    std::vector<std::string> v;
    std::error_code ec;
    for (const auto &e : std::filesystem::directory_iterator(dir, ec)) v.push_back(e.path().filename().string());
    return v;
}

// Counts over the runs of one test.
struct Tally {
    int errors = 0, absorbed = 0, files_checked = 0, no_file = 0, close_errors = 0;
    int failed_call_took_effect = 0;  // an error came back, yet the change is in the file
    std::map<std::string, int> by_kind;
};

// The clean run: finishes, leaves a file that checks, and says how many
// injectable calls and reservations it made.
void clean_run(Outcome *out) {
    TempDir dir;
    const std::string path = dir.file("faults.heap");
    ChildStatus st;
    Outcome base = run_workload(path, Failing::kInjectedCall, 0, &st);
    ASSERT_TRUE(st.exited && st.code == 0) << "the clean run " << describe(st);
    ASSERT_TRUE(base.finished) << "the clean run failed at step " << base.failed_step << " (" << base.call
                               << "): " << status_name(base.rc) << ": " << base.detail;
    ASSERT_NO_FATAL_FAILURE(check_file(path, base, "clean run"));
    // 80 a*, 10 renamed, a10 renamed over a11, 10 removed, "grown", 40 b*
    // of which 5 renamed over a40..a44, a50..a59 removed.
    EXPECT_EQ(base.committed.size(), 80u - 1u - 10u + 1u + 40u - 5u - 10u) << "entries after the clean run";
    *out = base;
}

// One failing run: how it ended, what it returned, the file it left.
void failing_run(Failing how, long n, long total, Tally *t) {
    TempDir dir;
    const std::string path = dir.file("faults.heap");
    const std::string where = (how == Failing::kInjectedCall ? "fault at injectable call " : "disk full from reservation ") +
                              std::to_string(n) + " of " + std::to_string(total);
    ChildStatus st;
    Outcome o = run_workload(path, how, n, &st);
    ASSERT_TRUE(st.exited && st.code == 0) << where << ": the workload " << describe(st);
    EXPECT_FALSE(o.status_missing) << where << ": " << o.call << " returned NULL with fmrt_last_status() == FMRT_OK";
    const std::string kind = fault_kind(o.detail);
    if (o.finished) {
        ++t->absorbed;
        // The only failure a call may absorb: growth asks for a generous
        // step first and retries with exactly what it needs (pages.cc).  A
        // disk that stays full leaves nothing to absorb.
        EXPECT_EQ(how, Failing::kInjectedCall) << where << ": the workload finished on a full disk";
        EXPECT_EQ(kind, "fallocate") << where
                                     << ": the workload finished although the fault hit; the last detail was: " << o.detail;
    } else {
        ++t->errors;
        EXPECT_NE(o.rc, FMRT_OK) << where;
        if (how == Failing::kInjectedCall) {
            EXPECT_NE(kind, "") << where << ": " << o.call << " failed with " << status_name(o.rc)
                                << ", but the detail does not name the injected fault: " << o.detail;
            t->by_kind[kind.empty() ? "unnamed" : kind]++;
        } else {
            EXPECT_EQ(o.rc, FMRT_ENOMEM) << where << ": " << o.call << ": " << o.detail;
            t->by_kind[o.call.substr(0, o.call.find(' '))]++;
        }
        if (o.close_rc != FMRT_OK) ++t->close_errors;
    }
    std::vector<std::string> names = directory_names(dir.path());
    if (!path_exists(path)) {
        ++t->no_file;
        EXPECT_TRUE(o.committed.empty()) << where << ": the heap file vanished after entries were committed";
        EXPECT_TRUE(names.empty()) << where << ": a temporary file was left behind: " << names.front();
        return;
    }
    EXPECT_EQ(names.size(), 1u) << where << ": files besides the heap were left behind";
    ++t->files_checked;
    bool took_effect = false;
    ASSERT_NO_FATAL_FAILURE(check_file(path, o, where + " (" + o.call + ")", &took_effect));
    if (took_effect) ++t->failed_call_took_effect;
}

void print_tally(const char *what, long total, const Tally &t) {
    std::printf("faults: %s: %ld fault points: %d errors returned, %d absorbed by a retry; %d files checked, %d runs "
                "left no file; %d closes after a failure reported an error; %d failed calls had taken effect\n",
                what, total, t.errors, t.absorbed, t.files_checked, t.no_file, t.close_errors,
                t.failed_call_took_effect);
    for (const auto &kv : t.by_kind) std::printf("faults:   failed: %-28s %d\n", kv.first.c_str(), kv.second);
}

TEST(Faults, EveryInjectedOsFailureGivesAnErrorAndLeavesAFileThatVerifies) {
    Outcome base;
    ASSERT_NO_FATAL_FAILURE(clean_run(&base));
    const long total = base.calls;
    std::printf("faults: the workload makes %ld injectable OS calls\n", total);
    ASSERT_GE(total, 20) << "the workload should reach many OS calls (creation, growths, syncs, reopen)";
    Tally t;
    for (long n = 1; n <= total && !::testing::Test::HasFailure(); ++n) {
        ASSERT_NO_FATAL_FAILURE(failing_run(Failing::kInjectedCall, n, total, &t));
    }
    print_tally("one call fails", total, t);
    EXPECT_EQ(t.errors + t.absorbed, total);
    // Every kind of call the workload makes was made to fail at least once.
    for (const char *k : {"create-temp", "link", "fallocate", "mmap", "mmap-anonymous", "msync", "fsync"}) {
        EXPECT_TRUE(t.by_kind.count(k) || (std::string(k) == "fallocate" && t.absorbed > 0))
            << "no injected " << k << " failure was seen";
    }
}

TEST(Faults, DiskFullFromEveryReservationOnGivesAnErrorAndLeavesAFileThatVerifies) {
    Outcome base;
    ASSERT_NO_FATAL_FAILURE(clean_run(&base));
    const long total = base.reservations;
    std::printf("faults: the workload makes %ld reservations (posix_fallocate)\n", total);
    ASSERT_GE(total, 5) << "the workload should grow the file several times";
    Tally t;
    for (long n = 1; n <= total && !::testing::Test::HasFailure(); ++n) {
        ASSERT_NO_FATAL_FAILURE(failing_run(Failing::kReservationsFrom, n, total, &t));
    }
    print_tally("disk full", total, t);
    EXPECT_EQ(t.errors, total);
}

}  // namespace
