// Kill torture: a child process runs a random mix of allocations and catalog
// changes on one heap file until the parent SIGKILLs it at a random moment;
// the parent then checks the file it left behind against its own log of the
// catalog changes that completed.
//
// The promise under test (fmrt.h, docs/format.md): death at any instant
// leaves a file that opens, verifies with no problems, and holds every
// committed entry with its bytes; the one catalog call in flight at the kill
// is either done or not done, never half done; allocations in flight at
// most leak (verify counts them unreachable, which is not a problem).
//
// Public API only (linked with the shipped library).  The number of kills is
// FMRT_TORTURE_KILLS (default 1000); FMRT_TEST_SEED repeats a run.
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "integrity_util.h"

namespace {

using namespace fmrt_integrity;

// ---- The child's log, one fixed-size record per write (atomic on a pipe) ----

enum RecordKind : uint32_t {
    kStarted = 1,  // the child is running (most kill delays count from here)
    kOpened = 2,   // the child's fmrt_runtime_open returned
    kIntent = 3,   // a catalog call is about to start
    kCommit = 4,   // ... and returned 0
    kFailed = 5,   // a call failed that must not: the child stops
};

enum CatalogOp : uint32_t {
    kPutNew = 1,         // put of a name that does not exist
    kPutReplace = 2,     // put with FMRT_PUT_REPLACE over an existing name
    kRemove = 3,         // remove
    kRename = 4,         // rename to a name that does not exist
    kRenameReplace = 5,  // rename with FMRT_PUT_REPLACE over an existing name
};

const char *op_name(uint32_t op) {
    switch (op) {
    case kPutNew: return "put";
    case kPutReplace: return "put-replace";
    case kRemove: return "remove";
    case kRename: return "rename";
    case kRenameReplace: return "rename-replace";
    default: return "?";
    }
}

struct LogRecord {
    uint32_t kind;
    uint32_t op;
    uint64_t version;  // of the data put (puts), 0 otherwise
    uint64_t size;     // bytes named (puts)
    uint64_t seed;     // pattern seed of the data (puts)
    int32_t rc;        // kFailed: the status
    uint32_t null_alloc;  // puts: the entry names no allocation
    char name[24];
    char name2[24];    // renames: the new name
    char detail[160];  // kFailed: what failed
};
static_assert(sizeof(LogRecord) < PIPE_BUF, "a record must be written atomically");

// What each entry's metadata blob holds, so a record can be matched to the
// data it names.
struct EntryMeta {
    uint64_t version;
    uint64_t seed;
};
constexpr uint32_t kEntryType = 0x70127;

constexpr int kNameSpace = 300;   // names are "e000" .. "e299"
constexpr size_t kMaxNames = 200; // the child removes when above its target
constexpr size_t kPoolMax = 24;   // unnamed allocations a child keeps

std::string name_of(uint64_t i) {
    char b[8];
    std::snprintf(b, sizeof b, "e%03u", static_cast<unsigned>(i));
    return b;
}

fmrt_options heap_options(unsigned flags) {
    fmrt_options o = FMRT_OPTIONS_INIT;
    o.flags = flags;
    o.initial_size = 64 * KiB;  // rounded up to the minimum: the file grows early and often
    o.max_size = 1024 * MiB;
    return o;
}

// ---- Child ---------------------------------------------------------------------

class Child {
public:
    Child(int fd, uint64_t seed, uint64_t version_base) : fd_(fd), rng_(seed), version_(version_base) {}

    int run(const std::string &path) {
        send(LogRecord{kStarted, 0, 0, 0, 0, 0, 0, {}, {}, {}});
        fmrt_options o = heap_options(0);
        int rc = fmrt_runtime_open(&rt_, path.c_str(), &o);
        if (rc != FMRT_OK) return failed(rc, "open");
        send(LogRecord{kOpened, 0, 0, 0, 0, 0, 0, {}, {}, {}});
        fmrt_entry e = FMRT_ENTRY_INIT;
        const char *after = nullptr;
        std::string last;
        while (fmrt_catalog_next(&e, rt_, after) == FMRT_OK) {
            last = e.name;
            names_.insert(last);
            after = last.c_str();
        }
        target_ = rng_.between(20, kMaxNames);
        for (;;) {
            int code = rng_.chance(0.25) ? pool_step() : catalog_step();
            if (code != 0) return code;
        }
    }

private:
    int failed(int rc, const char *what) {
        LogRecord r{kFailed, 0, 0, 0, 0, rc, 0, {}, {}, {}};
        std::snprintf(r.detail, sizeof r.detail, "%s: %s (%s)", what, status_name(rc).c_str(), fmrt_error_message());
        send(r);
        return 20;
    }

    void send(const LogRecord &r) { write_all(fd_, &r, sizeof r); }

    // Sizes of unnamed allocations: mostly small; a few large ones (freed
    // at the next pool step) make the file grow.
    size_t pool_size() {
        uint64_t r = rng_.below(100);
        if (r < 70) return rng_.between(1, 1024);
        if (r < 93) return rng_.between(1025, 32 * KiB);
        if (r < 98) return rng_.between(32 * KiB + 1, 512 * KiB);
        return rng_.between(1 * MiB, 4 * MiB);
    }

    // Sizes of named data.
    size_t entry_size() {
        uint64_t r = rng_.below(1000);
        if (r < 800) return rng_.between(1, 1024);
        if (r < 970) return rng_.between(1025, 32 * KiB);
        if (r < 995) return rng_.between(32 * KiB + 1, 512 * KiB);
        return rng_.between(1 * MiB, 3 * MiB);
    }

    void *pool_take() {
        if (pool_.empty()) return nullptr;
        size_t i = rng_.below(pool_.size());
        void *p = pool_[i];
        pool_[i] = pool_.back();
        pool_.pop_back();
        return p;
    }

    int pool_step() {
        // A large block lives for one step only.
        if (big_ != nullptr) {
            if (fmrt_free(rt_, big_) != FMRT_OK) return failed(fmrt_last_status(), "free (large)");
            big_ = nullptr;
        }
        uint64_t r = rng_.below(100);
        if (r < 1) {
            int rc = fmrt_runtime_sync(rt_);
            return rc == FMRT_OK ? 0 : failed(rc, "sync");
        }
        if (r < 40 || pool_.empty()) {
            size_t n = pool_size();
            const bool transient = rng_.chance(0.3);
            void *p = transient ? fmrt_alloc(rt_, n, 0, FMRT_ALLOC_TRANSIENT) : fmrt_malloc(rt_, n);
            if (p == nullptr) return failed(fmrt_last_status(), transient ? "fmrt_alloc (transient)" : "fmrt_malloc");
            std::memset(p, 0xA5, std::min<size_t>(n, 256));
            if (n >= 1 * MiB) big_ = p;
            else pool_.push_back(p);
            if (pool_.size() > kPoolMax) {
                if (fmrt_free(rt_, pool_take()) != FMRT_OK) return failed(fmrt_last_status(), "free");
            }
            return 0;
        }
        if (r < 70) {
            void *p = pool_take();
            size_t n = pool_size();
            void *q = fmrt_realloc(rt_, p, n);
            if (q == nullptr) return failed(fmrt_last_status(), "fmrt_realloc");
            if (n >= 1 * MiB) big_ = q;
            else pool_.push_back(q);
            return 0;
        }
        if (fmrt_free(rt_, pool_take()) != FMRT_OK) return failed(fmrt_last_status(), "free");
        return 0;
    }

    std::string pick_existing() {
        auto it = names_.begin();
        std::advance(it, static_cast<long>(rng_.below(names_.size())));
        return *it;
    }

    // A name not in the catalog, or "" when a few tries found none.
    std::string pick_new() {
        for (int i = 0; i < 8; ++i) {
            std::string n = name_of(rng_.below(kNameSpace));
            if (!names_.count(n)) return n;
        }
        return "";
    }

    // Data for `name` at a fresh version, by one of the allocation paths,
    // pattern written before it is named.  NULL with *out_size 0 for an
    // entry without an allocation.
    void *make_data(const std::string &name, LogRecord *r) {
        r->version = ++version_;
        r->size = entry_size();
        r->seed = entry_seed(name, r->version);
        const size_t n = r->size;
        void *p = nullptr;
        uint64_t how = rng_.below(100);
        if (how < 4) {
            r->size = 0;
            r->seed = 0;
            r->null_alloc = 1;
            return nullptr;
        } else if (how < 50) {
            p = fmrt_malloc(rt_, n);
        } else if (how < 70) {
            p = fmrt_alloc(rt_, n, 0, FMRT_ALLOC_TRANSIENT);  // the put makes it durable
        } else if (how < 85) {
            p = fmrt_realloc(rt_, pool_take(), n);
        } else if (how < 95) {
            p = fmrt_calloc(rt_, 1, n);
        } else {
            p = fmrt_aligned_alloc(rt_, 4096, n);
        }
        if (p != nullptr) fill_pattern(p, n, r->seed);
        return p;
    }

    int catalog_step() {
        LogRecord r{kIntent, 0, 0, 0, 0, 0, 0, {}, {}, {}};
        std::string name, name2;
        uint64_t pick = rng_.below(100);
        if (names_.empty()) pick = 0;
        if (names_.size() > target_) pick = pick < 80 ? 60 : 80;  // mostly removes, some renames
        if (names_.size() >= kMaxNames && pick < 45) pick = 60;
        unsigned flags = 0;
        void *p = nullptr;
        if (pick < 35) {
            name = pick_new();
            if (name.empty()) return 0;
            r.op = kPutNew;
        } else if (pick < 55) {
            name = pick_existing();
            r.op = kPutReplace;
            flags = FMRT_PUT_REPLACE | (rng_.chance(0.85) ? FMRT_PUT_FREE_REPLACED : 0);
        } else if (pick < 75) {
            name = pick_existing();
            r.op = kRemove;
            flags = rng_.chance(0.85) ? FMRT_REMOVE_FREE : 0;
        } else if (pick < 90) {
            name = pick_existing();
            name2 = pick_new();
            if (name2.empty()) return 0;
            r.op = kRename;
            flags = rng_.chance(0.3) ? FMRT_PUT_REPLACE : 0;  // allowed, nothing to replace
        } else {
            if (names_.size() < 2) return 0;
            name = pick_existing();
            do {
                name2 = pick_existing();
            } while (name2 == name);
            r.op = kRenameReplace;
            flags = FMRT_PUT_REPLACE | (rng_.chance(0.8) ? FMRT_PUT_FREE_REPLACED : 0);
        }
        if (r.op == kPutNew || r.op == kPutReplace) {
            p = make_data(name, &r);
            if (p == nullptr && !r.null_alloc) return failed(fmrt_last_status(), "allocation for a put");
        }
        std::snprintf(r.name, sizeof r.name, "%s", name.c_str());
        std::snprintf(r.name2, sizeof r.name2, "%s", name2.c_str());
        send(r);
        int rc;
        switch (r.op) {
        case kPutNew:
        case kPutReplace: {
            EntryMeta m{r.version, r.seed};
            rc = fmrt_catalog_put(rt_, name.c_str(), p, r.size, kEntryType, &m, sizeof m, flags);
            break;
        }
        case kRemove: rc = fmrt_catalog_remove(rt_, name.c_str(), flags); break;
        default: rc = fmrt_catalog_rename(rt_, name.c_str(), name2.c_str(), flags); break;
        }
        if (rc != FMRT_OK) return failed(rc, op_name(r.op));
        r.kind = kCommit;
        send(r);
        if (r.op == kRemove || r.op == kRename || r.op == kRenameReplace) names_.erase(name);
        if (r.op == kRename || r.op == kRenameReplace) names_.insert(name2);
        if (r.op == kPutNew) names_.insert(name);
        return 0;
    }

    int fd_;
    Rng rng_;
    uint64_t version_;
    fmrt_runtime *rt_ = nullptr;
    std::set<std::string> names_;
    size_t target_ = kMaxNames;
    std::vector<void *> pool_;
    void *big_ = nullptr;
};

// The child program: "fd seed version_base path" in FMRT_TORTURE_CHILD.
int child_main(const std::string &args) {
    std::vector<std::string> a = split_words(args);
    if (a.size() != 4) return 99;
    Child c(std::stoi(a[0]), std::stoull(a[1]), std::stoull(a[2]));
    return c.run(a[3]);
}
FMRT_CHILD_MAIN("FMRT_TORTURE_CHILD", child_main)

// ---- Parent: the model and the checks -------------------------------------------

struct Expected {
    uint64_t version = 0;
    uint64_t size = 0;
    uint64_t seed = 0;
    bool null_alloc = false;
    bool operator==(const Expected &o) const {
        return version == o.version && size == o.size && seed == o.seed && null_alloc == o.null_alloc;
    }
};
using Model = std::map<std::string, Expected>;

std::string describe_expected(const Expected &e) {
    char b[120];
    std::snprintf(b, sizeof b, "{version %" PRIu64 ", size %" PRIu64 "%s}", e.version, e.size,
                  e.null_alloc ? ", no allocation" : "");
    return b;
}

// Applies a completed change to the model.
void apply_change(Model *m, const LogRecord &r) {
    const std::string name(r.name), name2(r.name2);
    switch (r.op) {
    case kPutNew:
    case kPutReplace: (*m)[name] = Expected{r.version, r.size, r.seed, r.null_alloc != 0}; break;
    case kRemove: m->erase(name); break;
    default: {
        auto it = m->find(name);
        if (it == m->end()) return;  // the check reports the missing source
        Expected e = it->second;
        m->erase(it);
        (*m)[name2] = e;
    }
    }
}

// One entry as found in the reopened file; "" in `error` when its record
// and bytes are whole.
struct Found {
    Expected e;
    std::string error;
};

Found read_entry(const fmrt_entry &e) {
    Found f;
    f.e.size = e.size;
    f.e.null_alloc = e.ptr == nullptr;
    if (e.type != kEntryType) f.error = "type tag " + std::to_string(e.type);
    if (e.meta_len != sizeof(EntryMeta) || e.meta == nullptr) {
        f.error = "metadata of " + std::to_string(e.meta_len) + " bytes";
        return f;
    }
    EntryMeta m;
    std::memcpy(&m, e.meta, sizeof m);
    f.e.version = m.version;
    f.e.seed = f.e.null_alloc ? 0 : m.seed;
    if (!f.e.null_alloc) {
        size_t bad = pattern_mismatch(e.ptr, e.size, m.seed);
        if (bad != e.size) f.error = "data differs from its pattern at byte " + std::to_string(bad);
    }
    return f;
}

struct Totals {
    uint64_t kills = 0;
    uint64_t kills_before_open = 0;  // the child had not finished opening
    uint64_t committed_ops = 0;
    uint64_t in_flight = 0;
    uint64_t in_flight_done = 0;     // the in-flight change had happened
    uint64_t entries_checked = 0;
    uint64_t bytes_checked = 0;
    uint64_t max_file_size = 0;
    uint64_t unreachable_seen = 0;   // largest leak verify reported
    uint64_t fresh_files = 0;
    uint64_t reclaims = 0;
    uint64_t reclaimed_transients = 0;
};

class Torture {
public:
    Torture(uint64_t seed, uint64_t kills) : seed_(seed), kills_(kills), rng_(seed) {}

    void run() {
        path_ = dir_.file("torture.heap");
        uint64_t epoch_left = 0;
        for (uint64_t i = 0; i < kills_; ++i) {
            iteration_ = i;
            if (epoch_left == 0) {
                ASSERT_NO_FATAL_FAILURE(fresh_file());
                epoch_left = rng_.between(20, 80);
            }
            --epoch_left;
            ASSERT_NO_FATAL_FAILURE(one_kill());
            if (::testing::Test::HasFailure()) return;
        }
    }

    const Totals &totals() const { return t_; }

private:
    std::string where() const {
        return "seed " + std::to_string(seed_) + " (FMRT_TEST_SEED), kill " + std::to_string(iteration_ + 1) + " of " +
               std::to_string(kills_);
    }

    void fresh_file() {
        unlink(path_.c_str());
        fmrt_runtime *rt = nullptr;
        fmrt_options o = heap_options(FMRT_OPEN_CREATE);
        ASSERT_FMRT_OK(fmrt_runtime_open(&rt, path_.c_str(), &o)) << where();
        ASSERT_FMRT_OK(fmrt_runtime_close(rt)) << where();
        model_.clear();
        ++t_.fresh_files;
    }

    // Waits (up to 10 s) until the child's first record arrives.
    static void drain_until_record(int fd, std::string *log) {
        const uint64_t deadline = monotonic_us() + 10 * 1000000;
        while (log->size() < sizeof(LogRecord) && monotonic_us() < deadline) {
            drain_until(fd, log, std::min(deadline, monotonic_us() + 1000));
        }
    }

    void one_kill() {
        int fds[2];
        ASSERT_EQ(pipe(fds), 0) << std::strerror(errno);
        fcntl(fds[0], F_SETFD, FD_CLOEXEC);
        // A pipe that holds a whole run's log lets the parent sleep until
        // the kill instead of waking for every record; where the size
        // cannot be raised it drains while it waits.
        const bool roomy = fcntl(fds[0], F_SETPIPE_SZ, 1 << 20) >= (1 << 20);
        fcntl(fds[0], F_SETFL, O_NONBLOCK);
        const uint64_t child_seed = mix64(seed_ ^ mix64(iteration_ + 1));
        const uint64_t version_base = (iteration_ + 1) << 24;  // versions never repeat across children
        pid_t pid = spawn_self("FMRT_TORTURE_CHILD", std::to_string(fds[1]) + " " + std::to_string(child_seed) + " " +
                                                         std::to_string(version_base) + " " + path_);
        ASSERT_GT(pid, 0) << "fork: " << std::strerror(errno);
        close(fds[1]);

        // The moment of the kill.  Mostly counted from the child's first
        // record (so exec and loading do not eat the delay): sometimes at
        // once or within the first millisecond, mostly 1-15 ms.  One kill in
        // eight is counted from the fork instead, to land in the child's
        // start-up and its open (which reclaims and rewrites).
        std::string log;
        uint64_t r = rng_.below(100), delay_us;
        if (r < 12) {
            delay_us = rng_.below(4000);
            sleep_us(delay_us);
            delay_us = 0;
        } else {
            drain_until_record(fds[0], &log);
            if (r < 16) delay_us = 0;
            else if (r < 24) delay_us = rng_.below(300);
            else if (r < 30) delay_us = rng_.between(300, 1000);
            else delay_us = rng_.between(1000, 15000);
        }
        if (roomy) sleep_us(delay_us);
        else drain_until(fds[0], &log, monotonic_us() + delay_us);
        ChildStatus st = kill_child(pid);
        fcntl(fds[0], F_SETFL, 0);
        while (drain_fd(fds[0], &log)) {
        }
        close(fds[0]);
        ++t_.kills;

        // Replay the log: completed changes into the model, the one begun
        // and not completed (if any) is in flight.
        ASSERT_EQ(log.size() % sizeof(LogRecord), 0u) << where();
        bool opened = false, have_intent = false;
        LogRecord intent{};
        for (size_t off = 0; off < log.size(); off += sizeof(LogRecord)) {
            LogRecord rec;
            std::memcpy(&rec, log.data() + off, sizeof rec);
            switch (rec.kind) {
            case kStarted: break;
            case kOpened: opened = true; break;
            case kIntent:
                ASSERT_FALSE(have_intent) << where() << ": two changes began without completing";
                intent = rec;
                have_intent = true;
                break;
            case kCommit:
                ASSERT_TRUE(have_intent && std::strcmp(rec.name, intent.name) == 0 && rec.op == intent.op)
                    << where() << ": a completion without its start";
                ++t_.committed_ops;
                ASSERT_NO_FATAL_FAILURE(check_source_exists(rec));
                apply_change(&model_, rec);
                have_intent = false;
                break;
            case kFailed: FAIL() << where() << ": the child failed: " << rec.detail; return;
            default: FAIL() << where() << ": garbage in the child's log"; return;
            }
        }
        ASSERT_FALSE(st.exited) << where() << ": the child " << describe(st) << " before it was killed";
        if (!opened) ++t_.kills_before_open;
        if (have_intent) ++t_.in_flight;
        ASSERT_NO_FATAL_FAILURE(check_file(have_intent ? &intent : nullptr));
    }

    // A logged rename or replace must concern an entry the model holds (a
    // mismatch here is a bug of this test's log, not of the library).
    void check_source_exists(const LogRecord &rec) {
        if (rec.op == kPutNew) {
            ASSERT_EQ(model_.count(rec.name), 0u) << where() << ": put of an existing name " << rec.name;
        } else {
            ASSERT_EQ(model_.count(rec.name), 1u) << where() << ": " << op_name(rec.op) << " of " << rec.name;
        }
    }

    void check_file(const LogRecord *in_flight) {
        HangGuard guard(60, "torture: fmrt_verify_path after a kill");
        const uint64_t size = file_size_of(path_);
        t_.max_file_size = std::max(t_.max_file_size, size);

        // The file as the kill left it, checked before anything writes to it.
        fmrt_report rep = FMRT_REPORT_INIT;
        ASSERT_FMRT_OK(fmrt_verify_path(&rep, path_.c_str())) << where();
        ASSERT_EQ(rep.problems, 0u) << where() << ": fmrt_verify_path right after the kill: " << describe_report(rep);

        HangGuard::set_step("torture: fmrt_runtime_open after a kill");
        fmrt_runtime *rt = nullptr;
        fmrt_options o = heap_options(0);
        ASSERT_FMRT_OK(fmrt_runtime_open(&rt, path_.c_str(), &o)) << where();
        HangGuard::set_step("torture: checks of the reopened heap");
        check_open_runtime(rt, in_flight, true);
        fmrt_stats s = FMRT_STATS_INIT;
        EXPECT_FMRT_OK(fmrt_runtime_stats(&s, rt));
        t_.reclaimed_transients += s.reclaimed_at_open;
        EXPECT_EQ(s.transient_allocations, 0u) << where() << ": transient allocations survived the reopen";
        HangGuard::set_step("torture: fmrt_runtime_close");
        ASSERT_FMRT_OK(fmrt_runtime_close(rt)) << where();
        if (::testing::Test::HasFailure()) return;

        // Leaks of killed children pile up within one file: give them back
        // now and then, and check that repair kept every entry.
        if (leaked_ > 8 * MiB) {
            HangGuard::set_step("torture: fmrt_repair_path (reclaim)");
            fmrt_report rr = FMRT_REPORT_INIT;
            ASSERT_FMRT_OK(fmrt_repair_path(&rr, path_.c_str(), FMRT_REPAIR_APPLY | FMRT_REPAIR_RECLAIM)) << where();
            ++t_.reclaims;
            ASSERT_FMRT_OK(fmrt_runtime_open(&rt, path_.c_str(), &o)) << where();
            check_open_runtime(rt, nullptr, false);
            EXPECT_EQ(leaked_, 0u) << where() << ": unreachable bytes after a reclaiming repair";
            ASSERT_FMRT_OK(fmrt_runtime_close(rt)) << where();
        }
    }

    // Verify, then the catalog against the model.  The names an in-flight
    // change touches must together be as before it or as after it.
    void check_open_runtime(fmrt_runtime *rt, const LogRecord *in_flight, bool count) {
        fmrt_report rep = FMRT_REPORT_INIT;
        ASSERT_FMRT_OK(fmrt_runtime_verify(&rep, rt)) << where();
        ASSERT_EQ(rep.problems, 0u) << where() << ": fmrt_runtime_verify after reopening: " << describe_report(rep);
        EXPECT_EQ(rep.damaged_records, 0u) << where();
        EXPECT_EQ(rep.transient_allocations, 0u) << where();
        leaked_ = rep.unreachable_bytes;
        t_.unreachable_seen = std::max(t_.unreachable_seen, rep.unreachable_bytes);

        std::map<std::string, Found> found;
        fmrt_entry e = FMRT_ENTRY_INIT;
        std::string after;
        while (fmrt_catalog_next(&e, rt, found.empty() ? nullptr : after.c_str()) == FMRT_OK) {
            after.assign(e.name, e.name_len);
            found[after] = read_entry(e);
            if (count) {
                ++t_.entries_checked;
                t_.bytes_checked += e.size;
            }
        }
        uint64_t n = 0;
        ASSERT_FMRT_OK(fmrt_catalog_count(&n, rt));
        EXPECT_EQ(n, found.size()) << where() << ": fmrt_catalog_count disagrees with iteration";
        EXPECT_EQ(rep.catalog_entries, found.size()) << where() << ": verify's entry count";

        std::set<std::string> involved;
        Model before, after_change;
        if (in_flight != nullptr) {
            involved.insert(in_flight->name);
            if (in_flight->name2[0] != '\0') involved.insert(in_flight->name2);
            for (const auto &nm : involved) {
                auto it = model_.find(nm);
                if (it != model_.end()) before[nm] = it->second;
            }
            after_change = before;
            apply_change(&after_change, *in_flight);
        }

        for (const auto &kv : found) {
            if (!kv.second.error.empty()) {
                ADD_FAILURE() << where() << ": entry " << kv.first << ": " << kv.second.error;
            }
        }
        for (const auto &kv : model_) {
            if (involved.count(kv.first)) continue;
            auto it = found.find(kv.first);
            if (it == found.end()) {
                ADD_FAILURE() << where() << ": committed entry " << kv.first << " " << describe_expected(kv.second)
                              << " is missing";
            } else if (!(it->second.e == kv.second)) {
                ADD_FAILURE() << where() << ": entry " << kv.first << " is " << describe_expected(it->second.e)
                              << ", committed as " << describe_expected(kv.second);
            }
        }
        for (const auto &kv : found) {
            if (!model_.count(kv.first) && !involved.count(kv.first)) {
                ADD_FAILURE() << where() << ": entry " << kv.first << " " << describe_expected(kv.second.e)
                              << " was never committed";
            }
        }
        if (in_flight != nullptr) {
            Model now;
            for (const auto &nm : involved) {
                auto it = found.find(nm);
                if (it != found.end()) now[nm] = it->second.e;
            }
            const bool was_before = now == before, was_after = now == after_change;
            if (!was_before && !was_after) {
                std::string s;
                for (const auto &nm : involved) {
                    s += " " + nm + ": found " +
                         (now.count(nm) ? describe_expected(now[nm]) : std::string("absent")) + ", before " +
                         (before.count(nm) ? describe_expected(before[nm]) : std::string("absent")) + ", after " +
                         (after_change.count(nm) ? describe_expected(after_change[nm]) : std::string("absent")) + ";";
                }
                ADD_FAILURE() << where() << ": the " << op_name(in_flight->op)
                              << " in flight at the kill is half done:" << s;
            }
            if (was_after && count) ++t_.in_flight_done;
            model_ = [&] {
                Model m = model_;
                for (const auto &nm : involved) m.erase(nm);
                for (const auto &kv : now) m[kv.first] = kv.second;
                return m;
            }();
        }
    }

    TempDir dir_;
    std::string path_;
    uint64_t seed_, kills_;
    Rng rng_;
    uint64_t iteration_ = 0;
    Model model_;
    uint64_t leaked_ = 0;
    Totals t_;
};

TEST(Torture, KilledAtRandomMomentsTheHeapKeepsEveryCommittedEntry) {
    const uint64_t seed = test_seed();
    const uint64_t kills = env_count("FMRT_TORTURE_KILLS", 1000);
    std::printf("torture: seed %" PRIu64 " (FMRT_TEST_SEED), kills %" PRIu64 " (FMRT_TORTURE_KILLS)\n", seed, kills);
    std::fflush(stdout);
    const uint64_t t0 = monotonic_us();
    Torture t(seed, kills);
    t.run();
    const Totals &s = t.totals();
    std::printf("torture: %" PRIu64 " kills (%" PRIu64 " before the child's open returned) on %" PRIu64
                " fresh files, %.1f s\n"
                "torture: %" PRIu64 " committed catalog changes replayed; %" PRIu64 " entries (%.1f MiB) checked\n"
                "torture: %" PRIu64 " changes in flight at the kill, %" PRIu64 " of them found done\n"
                "torture: largest file %.2f MiB, largest leak %.2f MiB, %" PRIu64 " reclaiming repairs, %" PRIu64
                " transient allocations reclaimed at open\n",
                s.kills, s.kills_before_open, s.fresh_files, (monotonic_us() - t0) / 1e6, s.committed_ops,
                s.entries_checked, s.bytes_checked / double(MiB), s.in_flight, s.in_flight_done,
                s.max_file_size / double(MiB), s.unreachable_seen / double(MiB), s.reclaims, s.reclaimed_transients);
    EXPECT_EQ(s.kills, kills);
    // The run must have exercised what it claims to: changes completed and
    // changes caught in flight.
    if (kills >= 100) {
        EXPECT_GT(s.committed_ops, kills) << "seed " << seed;
        // At least 2% of the kills must land inside a catalog change (about
        // 17-20% do in a plain build; a sanitizer build spends more of each
        // child's life starting up, about 6%).
        EXPECT_GT(s.in_flight, kills / 50) << "seed " << seed;
    }
}

}  // namespace
