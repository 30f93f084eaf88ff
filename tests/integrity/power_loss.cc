// Power loss, simulated.  Between two syncs the kernel writes dirty pages
// back in any order, so after a power cut the disk holds, for each page,
// either its content at the last sync or some later content, and the file
// size is one the file had since.  A child process runs a workload on a
// heap, syncs (fmrt_runtime_sync returned 0) and copies the file: snapshot
// S.  It carries on without syncing (puts, replaces, removes, renames,
// allocations, frees, growth), copying the file at a few moments (M1..M3)
// and at the end (C), then leaves without closing.  The parent builds images
// whose every 4 KiB page comes from one of those snapshots at random (zeros
// for a page its snapshot did not have yet), with torn superblock copies
// (half of the 256-byte copy from one snapshot, half from another) and, more
// rarely, pages torn at a 512-byte sector boundary.
//
// What must hold for every image ("data and catalog are consistent as of
// the last completed sync"): it opens with fmrt_runtime_open and verifies
// with no problems -- or, where the library cannot use a mix as it is,
// fmrt_repair_path(FMRT_REPAIR_APPLY) makes it so -- and every entry
// committed before the sync and left alone after it is there, whole.
// Entries changed after the sync may be in either state (a second test:
// any state they had from the sync on, never one made up, and no entry that
// was never committed; their bytes are not promised, as nothing orders data
// before the catalog between syncs -- the count of such entries is printed).
// How each image was made usable (opened clean, opened with problems and
// repaired, refused and repaired) is counted and printed.
//
// Public API only.  FMRT_POWER_WORKLOADS x FMRT_POWER_IMAGES images (default
// 10 x 30); FMRT_TEST_SEED repeats a run (workload w, image i of a run are
// the same with any larger counts).  The first failing image of each kind
// of failure is shrunk to the fewest pages that still fail that way, and
// those pages are described; FMRT_POWER_SAVE_DIR keeps the shrunk images
// and the snapshots as files, FMRT_POWER_SHRINK bounds the tries (100).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "integrity_util.h"
#include "page_mix.h"

namespace {

using namespace fmrt_integrity;

constexpr uint32_t kType = 0x90E7;
constexpr int kNames = 400;                 // "p000" .. "p399"

struct Entry {
    uint64_t seed = 0;
    uint64_t size = 0;
    bool operator==(const Entry &o) const { return seed == o.seed && size == o.size; }
    bool operator<(const Entry &o) const { return seed != o.seed ? seed < o.seed : size < o.size; }
};
using Model = std::map<std::string, Entry>;

std::string describe_entry(const Entry &e) {
    return "{seed " + std::to_string(e.seed) + ", " + std::to_string(e.size) + " bytes}";
}

// ---- The workload (child) --------------------------------------------------------------

// What the child leaves for the parent: snapshot files and this record.
struct Recording {
    std::vector<std::string> snaps;  // S, M1.., C (file contents)
    Model at_sync;                   // the catalog when S was taken
    std::set<std::string> touched;   // names changed after the sync
    // Every state each touched name had after the sync (nullopt: absent).
    std::map<std::string, std::vector<std::optional<Entry>>> history;
    Model at_end;
};

class Workload {
public:
    Workload(uint64_t seed, std::string dir) : rng_(seed), dir_(std::move(dir)), path_(dir_ + "/heap") {}

    // Runs in the child; returns the report for the parent ("" when all
    // went well, else what failed).
    std::string run(std::string *report) {
        fmrt_options o = FMRT_OPTIONS_INIT;
        o.initial_size = 64 * KiB;
        o.max_size = 512 * MiB;
        if (fmrt_runtime_open(&rt_, path_.c_str(), &o) != FMRT_OK) return why("create");
        // Before the sync: a session closed cleanly, then one left open.
        target_ = rng_.between(40, 250);
        if (!steps(rng_.between(100, 300))) return why("before the first close");
        while (!pool_.empty()) {
            if (!free_one()) return why("free before the close");
        }
        if (fmrt_runtime_close(rt_) != FMRT_OK) return why("close");
        o.flags = 0;
        if (fmrt_runtime_open(&rt_, path_.c_str(), &o) != FMRT_OK) return why("reopen");
        if (!steps(rng_.between(50, 250))) return why("before the sync");
        if (fmrt_runtime_sync(rt_) != FMRT_OK) return why("sync");
        if (!snapshot()) return "copying S failed";
        for (const auto &kv : model_) *report += fields_line({"sync", kv.first, u(kv.second.seed), u(kv.second.size)});

        // After it: no more syncs.  Part of the catalog is left alone (the
        // entries the guarantee is about); the rest changes.  The catalog
        // target moves, so some runs grow the slot table (64, 128, 256
        // slots) and some shrink.
        const double frozen_share = rng_.between(20, 80) / 100.0;
        for (const auto &kv : model_)
            if (rng_.chance(frozen_share)) frozen_.insert(kv.first);
        logging_ = report;
        target_ = rng_.between(20, 300);
        const uint64_t n = rng_.between(100, 400);
        std::set<uint64_t> snap_at;
        for (int i = 0; i < 3; ++i) snap_at.insert(rng_.below(n));
        for (uint64_t i = 0; i < n; ++i) {
            if (!steps(1)) return why("after the sync");
            if (snap_at.count(i) && !snapshot()) return "copying a snapshot failed";
        }
        if (!snapshot()) return "copying C failed";
        for (const auto &kv : model_) *report += fields_line({"end", kv.first, u(kv.second.seed), u(kv.second.size)});
        return "";  // no close: the caller _exits
    }

private:
    static std::string u(uint64_t v) { return std::to_string(v); }
    std::string why(const char *what) { return std::string(what) + ": " + fmrt_error_message(); }

    bool snapshot() {
        try {
            write_file(dir_ + "/snap" + std::to_string(snaps_++), read_file(path_));
        } catch (const std::exception &) {
            return false;
        }
        return true;
    }

    size_t data_size() {
        uint64_t r = rng_.below(1000);
        if (r < 750) return rng_.between(1, 1024);
        if (r < 960) return rng_.between(1025, 40 * KiB);
        if (r < 995) return rng_.between(40 * KiB + 1, 400 * KiB);
        return rng_.between(1 * MiB, 2 * MiB);
    }

    // An existing name that may change, or "" when there is none.
    std::string pick_existing() {
        std::vector<const std::string *> v;
        for (const auto &kv : model_)
            if (!frozen_.count(kv.first)) v.push_back(&kv.first);
        return v.empty() ? std::string() : *v[rng_.below(v.size())];
    }

    std::string pick_new() {
        for (int i = 0; i < 8; ++i) {
            char b[8];
            std::snprintf(b, sizeof b, "p%03u", static_cast<unsigned>(rng_.below(kNames)));
            if (!model_.count(b)) return b;
        }
        return "";
    }

    void log_state(const std::string &name) {
        if (logging_ == nullptr) return;
        auto it = model_.find(name);
        if (it == model_.end()) *logging_ += fields_line({"state", name, "-"});
        else *logging_ += fields_line({"state", name, u(it->second.seed), u(it->second.size)});
    }

    bool pool_step() {
        uint64_t r = rng_.below(100);
        if (r < 45 || pool_.empty()) {
            size_t n = rng_.chance(0.04) ? rng_.between(512 * KiB, 3 * MiB) : data_size();
            void *p = rng_.chance(0.3) ? fmrt_alloc(rt_, n, 0, FMRT_ALLOC_TRANSIENT) : fmrt_malloc(rt_, n);
            if (p == nullptr) return false;
            std::memset(p, 0x5A, std::min<size_t>(n, 512));
            pool_.push_back(p);
            return pool_.size() <= 32 || free_one();
        }
        if (r < 70) {
            size_t i = rng_.below(pool_.size());
            void *q = fmrt_realloc(rt_, pool_[i], data_size());
            if (q == nullptr) return false;
            pool_[i] = q;
            return true;
        }
        return free_one();
    }

    bool free_one() {
        size_t i = rng_.below(pool_.size());
        void *p = pool_[i];
        pool_[i] = pool_.back();
        pool_.pop_back();
        return fmrt_free(rt_, p) == FMRT_OK;
    }

    bool put(const std::string &name, unsigned flags) {
        const size_t n = data_size();
        const uint64_t seed = entry_seed(name, ++version_);
        void *p = rng_.chance(0.2) ? fmrt_alloc(rt_, n, 0, FMRT_ALLOC_TRANSIENT) : fmrt_malloc(rt_, n);
        if (p == nullptr) return false;
        fill_pattern(p, n, seed);
        if (fmrt_catalog_put(rt_, name.c_str(), p, n, kType, &seed, sizeof seed, flags) != FMRT_OK) return false;
        model_[name] = Entry{seed, n};
        log_state(name);
        return true;
    }

    bool catalog_step() {
        uint64_t pick = rng_.below(100);
        if (model_.empty()) pick = 0;
        else if (model_.size() > target_) pick = pick < 75 ? 60 : 80;  // removes, renames
        if (pick < 45) {
            std::string name = pick_new();
            return name.empty() || put(name, 0);
        }
        if (pick < 58) {
            std::string name = pick_existing();
            return name.empty() || put(name, FMRT_PUT_REPLACE | (rng_.chance(0.9) ? FMRT_PUT_FREE_REPLACED : 0));
        }
        if (pick < 72) {
            std::string name = pick_existing();
            if (name.empty()) return true;
            if (fmrt_catalog_remove(rt_, name.c_str(), rng_.chance(0.9) ? FMRT_REMOVE_FREE : 0) != FMRT_OK) return false;
            model_.erase(name);
            log_state(name);
            return true;
        }
        std::string from = pick_existing(), to;
        if (from.empty()) return true;
        unsigned flags = 0;
        if (pick < 90) {
            to = pick_new();
            if (to.empty()) return true;
        } else {
            to = pick_existing();
            if (to == from) return true;
            flags = FMRT_PUT_REPLACE | (rng_.chance(0.8) ? FMRT_PUT_FREE_REPLACED : 0);
        }
        if (fmrt_catalog_rename(rt_, from.c_str(), to.c_str(), flags) != FMRT_OK) return false;
        model_[to] = model_[from];
        model_.erase(from);
        log_state(from);
        log_state(to);
        return true;
    }

    bool steps(uint64_t n) {
        for (uint64_t i = 0; i < n; ++i) {
            bool ok = rng_.chance(0.3) ? pool_step() : catalog_step();
            if (!ok) return false;
        }
        return true;
    }

    Rng rng_;
    std::string dir_, path_;
    fmrt_runtime *rt_ = nullptr;
    Model model_;
    uint64_t version_ = 0;
    size_t target_ = 100;
    std::vector<void *> pool_;
    std::set<std::string> frozen_;  // names not to change after the sync
    int snaps_ = 0;
    std::string *logging_ = nullptr;
};

// The workload program: "fd seed dir" in FMRT_POWER_WORKLOAD.  A program of
// its own (not a fork of the test), so the process that checks the images
// shares no per-process state with the one that wrote them.
int workload_main(const std::string &args) {
    std::vector<std::string> a = split_words(args);
    if (a.size() != 3) return 99;
    std::string report;
    std::string err = Workload(std::stoull(a[1]), a[2]).run(&report);
    std::string text = err.empty() ? report + fields_line({"done"}) : fields_line({"failed", err});
    return write_all(std::stoi(a[0]), text.data(), text.size()) ? 0 : 1;
}
FMRT_CHILD_MAIN("FMRT_POWER_WORKLOAD", workload_main)

// Runs one workload and collects what it left.
void run_workload(uint64_t seed, const TempDir &dir, Recording *out) {
    ChildStatus st;
    std::string text = run_self("FMRT_POWER_WORKLOAD", std::to_string(seed) + " " + dir.path(), &st, 120000);
    ASSERT_TRUE(st.exited && st.code == 0) << "workload " << seed << ": the child " << describe(st);
    bool done = false;
    for (const auto &f : parse_fields(text)) {
        if (f[0] == "failed") FAIL() << "workload " << seed << ": " << f[1];
        if (f[0] == "done") done = true;
        if (f[0] == "sync" && f.size() == 4) out->at_sync[f[1]] = Entry{std::stoull(f[2]), std::stoull(f[3])};
        if (f[0] == "end" && f.size() == 4) out->at_end[f[1]] = Entry{std::stoull(f[2]), std::stoull(f[3])};
        if (f[0] == "state" && f.size() >= 3) {
            out->touched.insert(f[1]);
            if (f[2] == "-") out->history[f[1]].push_back(std::nullopt);
            else out->history[f[1]].push_back(Entry{std::stoull(f[2]), std::stoull(f[3])});
        }
    }
    ASSERT_TRUE(done) << "workload " << seed << ": no report from the child";
    for (int i = 0;; ++i) {
        const std::string p = dir.file("snap" + std::to_string(i));
        if (!path_exists(p)) break;
        out->snaps.push_back(read_file(p));
    }
    ASSERT_GE(out->snaps.size(), 2u);
    for (size_t i = 1; i < out->snaps.size(); ++i) {
        ASSERT_GE(out->snaps[i].size(), out->snaps[i - 1].size()) << "a heap file never shrinks";
    }
}

// ---- Checking one image (in a child: a crash is a finding, not the end) ------------------

struct Verdict {
    bool ran = false;          // the check completed (no crash, no hang)
    std::string child;         // how the check's process ended, when it did not complete
    int verify_path_rc = 0;
    uint64_t verify_path_problems = 0;
    std::string verify_path_first;
    int open_rc = 0;
    std::string open_detail;
    uint64_t open_problems = 0;  // fmrt_runtime_verify right after an accepted open
    std::string open_first;
    bool repaired = false;
    int repair_rc = 0;
    std::string repair_detail;
    int reopen_rc = 0;
    std::string reopen_detail;
    uint64_t final_problems = 0;
    std::string final_first;
    uint64_t unchanged = 0;               // entries that must be there
    std::vector<std::string> lost;        // ... and are not, or are damaged
    uint64_t changed_present = 0;
    std::vector<std::string> changed_bad; // present in a state they never had
    std::vector<std::string> changed_stale;  // in a state they had, its bytes not (all) on disk
    std::vector<std::string> unexpected;  // never committed at all

    bool usable() const {
        return ran && (!repaired || (repair_rc == FMRT_OK && reopen_rc == FMRT_OK)) && (repaired || open_rc == FMRT_OK);
    }
    // The guarantee: usable, verifies, entries unchanged since the sync whole.
    bool keeps_synced_state() const { return usable() && final_problems == 0 && lost.empty(); }
    // Entries changed since: each in a state it had (its record: size and
    // data seed), never one made up; none never committed.  Their bytes
    // are not promised: nothing orders data before the catalog between
    // syncs.
    bool changed_in_known_states() const { return usable() && changed_bad.empty() && unexpected.empty(); }
    const char *path() const {
        if (!repaired) return "opened, verified clean";
        return open_rc == FMRT_OK ? "opened with problems, repaired" : "refused, repaired";
    }
};

std::string first_problem(const fmrt_report &r) {
    return r.problems ? std::string(r.first[0].what) : std::string();
}

// In the child: verify_path, open (repair when refused or not clean), then
// the catalog against the run's record.
std::string check_image_in_child(const Recording &r, const std::string &path) {
    std::string out;
    auto put = [&](std::vector<std::string> f) { out += fields_line(f); };
    fmrt_report rep = FMRT_REPORT_INIT;
    int rc = fmrt_verify_path(&rep, path.c_str());
    put({"vp", std::to_string(rc), std::to_string(rep.problems), first_problem(rep)});

    fmrt_runtime *rt = nullptr;
    fmrt_options o = FMRT_OPTIONS_INIT;
    o.flags = 0;
    rc = fmrt_runtime_open(&rt, path.c_str(), &o);
    put({"open", std::to_string(rc), rc == FMRT_OK ? "" : fmrt_error_message()});
    bool repair = rc != FMRT_OK;
    if (rc == FMRT_OK) {
        rep = FMRT_REPORT_INIT;
        fmrt_runtime_verify(&rep, rt);
        put({"openverify", std::to_string(rep.problems), first_problem(rep)});
        if (rep.problems != 0) {
            fmrt_runtime_close(rt);
            rt = nullptr;
            repair = true;
        }
    }
    if (repair) {
        rep = FMRT_REPORT_INIT;
        rc = fmrt_repair_path(&rep, path.c_str(), FMRT_REPAIR_APPLY);
        put({"repair", std::to_string(rc), rc == FMRT_OK ? "" : fmrt_error_message()});
        if (rc != FMRT_OK) return out;
        rc = fmrt_runtime_open(&rt, path.c_str(), &o);
        put({"reopen", std::to_string(rc), rc == FMRT_OK ? "" : fmrt_error_message()});
        if (rc != FMRT_OK) return out;
    }
    rep = FMRT_REPORT_INIT;
    fmrt_runtime_verify(&rep, rt);
    put({"final", std::to_string(rep.problems), first_problem(rep)});

    std::map<std::string, std::pair<Entry, std::string>> found;  // name -> (entry, damage)
    fmrt_entry e = FMRT_ENTRY_INIT;
    std::string after;
    bool first = true;
    while (fmrt_catalog_next(&e, rt, first ? nullptr : after.c_str()) == FMRT_OK) {
        first = false;
        after.assign(e.name, e.name_len);
        Entry got{0, e.size};
        std::string damage;
        if (e.type != kType || e.meta_len != sizeof(uint64_t)) {
            damage = "type or metadata damaged";
        } else {
            std::memcpy(&got.seed, e.meta, sizeof got.seed);
            size_t bad = e.ptr ? pattern_mismatch(e.ptr, e.size, got.seed) : 0;
            if (e.ptr == nullptr || bad != e.size) damage = "data differs from its pattern at byte " + std::to_string(bad);
        }
        found[after] = {got, damage};
    }
    for (const auto &kv : r.at_sync) {
        if (r.touched.count(kv.first)) continue;
        put({"unchanged"});
        auto it = found.find(kv.first);
        if (it == found.end()) put({"lost", kv.first + " " + describe_entry(kv.second) + " is missing"});
        else if (!(it->second.first == kv.second))
            put({"lost", kv.first + " is " + describe_entry(it->second.first) + ", synced as " + describe_entry(kv.second)});
        else if (!it->second.second.empty()) put({"lost", kv.first + ": " + it->second.second});
    }
    for (const auto &kv : found) {
        const std::string &name = kv.first;
        if (!r.touched.count(name)) {
            if (!r.at_sync.count(name)) put({"unexpected", name + " " + describe_entry(kv.second.first)});
            continue;
        }
        put({"changed"});
        // The states it had: at the sync, then each change.
        std::vector<std::optional<Entry>> states;
        auto s = r.at_sync.find(name);
        states.push_back(s == r.at_sync.end() ? std::nullopt : std::optional<Entry>(s->second));
        for (const auto &h : r.history.at(name)) states.push_back(h);
        bool known = std::any_of(states.begin(), states.end(),
                                 [&](const std::optional<Entry> &st) { return st && *st == kv.second.first; });
        if (!known) put({"changedbad", name + " is " + describe_entry(kv.second.first) + ", a state it never had"});
        else if (!kv.second.second.empty())
            put({"changedstale", name + " " + describe_entry(kv.second.first) + ": " + kv.second.second});
    }
    fmrt_runtime_close(rt);
    return out;
}

Verdict check_image(const Recording &r, const std::string &image, const std::string &path) {
    write_file(path, image);
    ChildStatus st;
    std::string text = run_in_child([&] { return check_image_in_child(r, path) + fields_line({"end"}); }, &st, 60000);
    Verdict v;
    for (const auto &f : parse_fields(text)) {
        const std::string &k = f[0];
        auto num = [&](size_t i) { return f.size() > i ? std::stoll(f[i]) : 0; };
        auto str = [&](size_t i) { return f.size() > i ? f[i] : std::string(); };
        if (k == "end") v.ran = true;
        else if (k == "vp") v.verify_path_rc = int(num(1)), v.verify_path_problems = num(2), v.verify_path_first = str(3);
        else if (k == "open") v.open_rc = int(num(1)), v.open_detail = str(2);
        else if (k == "openverify") v.open_problems = num(1), v.open_first = str(2);
        else if (k == "repair") v.repaired = true, v.repair_rc = int(num(1)), v.repair_detail = str(2);
        else if (k == "reopen") v.reopen_rc = int(num(1)), v.reopen_detail = str(2);
        else if (k == "final") v.final_problems = num(1), v.final_first = str(2);
        else if (k == "unchanged") ++v.unchanged;
        else if (k == "lost") v.lost.push_back(str(1));
        else if (k == "changed") ++v.changed_present;
        else if (k == "changedbad") v.changed_bad.push_back(str(1));
        else if (k == "changedstale") v.changed_stale.push_back(str(1));
        else if (k == "unexpected") v.unexpected.push_back(str(1));
    }
    // A child that stopped early (no "end") may still have got far: what
    // it reported stands, the rest is a failure to run.
    if (!(st.exited && st.code == 0)) v.ran = false;
    if (!v.ran) v.child = describe(st);
    return v;
}

std::string describe_verdict(const Verdict &v) {
    std::string s;
    if (!v.ran) s += "the check's process " + v.child + "; ";
    s += "fmrt_verify_path " + status_name(v.verify_path_rc) + " with " + std::to_string(v.verify_path_problems) +
         " problem(s)" + (v.verify_path_first.empty() ? "" : " (first: " + v.verify_path_first + ")");
    s += "; fmrt_runtime_open " + status_name(v.open_rc) + (v.open_detail.empty() ? "" : " (" + v.open_detail + ")");
    if (v.open_rc == FMRT_OK && v.open_problems)
        s += ", then verify found " + std::to_string(v.open_problems) + " (first: " + v.open_first + ")";
    if (v.repaired) {
        s += "; fmrt_repair_path " + status_name(v.repair_rc) + (v.repair_detail.empty() ? "" : " (" + v.repair_detail + ")");
        if (v.repair_rc == FMRT_OK)
            s += "; open after repair " + status_name(v.reopen_rc) +
                 (v.reopen_detail.empty() ? "" : " (" + v.reopen_detail + ")");
    }
    if (v.usable()) {
        s += "; final verify: " + std::to_string(v.final_problems) + " problem(s)" +
             (v.final_first.empty() ? "" : " (first: " + v.final_first + ")");
        s += "; " + std::to_string(v.lost.size()) + " of " + std::to_string(v.unchanged) + " unchanged entries lost";
        for (size_t i = 0; i < v.lost.size() && i < 4; ++i) s += "\n    lost: " + v.lost[i];
        for (size_t i = 0; i < v.changed_bad.size() && i < 4; ++i) s += "\n    changed entry: " + v.changed_bad[i];
        if (!v.changed_stale.empty())
            s += "\n    (" + std::to_string(v.changed_stale.size()) +
                 " entries changed after the sync hold bytes not yet written back, e.g. " + v.changed_stale[0] + ")";
        for (size_t i = 0; i < v.unexpected.size() && i < 4; ++i) s += "\n    never committed: " + v.unexpected[i];
    }
    return s;
}

// ---- The runs ----------------------------------------------------------------------------

struct Image {
    uint64_t workload;  // index in Campaign::runs
    int index;
    uint64_t image_seed;
    Mix mix;
    Verdict verdict;
};

// A property every image must have, and what was found against it.
struct Property {
    const char *what = "";
    std::function<bool(const Verdict &)> holds;
    int failures = 0;
    std::vector<std::string> messages;  // the first failing images
    std::map<std::string, int> kinds;   // kinds of failure seen, and how often
};

struct Campaign {
    uint64_t seed = 0;
    std::vector<Image> images;
    std::map<std::string, int> paths;
    std::string setup_error;
    std::vector<Property> properties;
    std::map<std::string, std::string> shrunk;  // kind of failure -> shrunk reproduction
};

constexpr size_t kMaxShrunkKinds = 10;

Campaign &campaign() {
    static Campaign c;
    return c;
}

// What kind of failure a verdict shows: the statuses and the detail texts
// without their numbers.
std::string failure_kind(const Verdict &v) {
    auto words = [](const std::string &t) {
        std::string out;
        size_t colon = t.rfind(": ");  // drop the path prefix "/dev/shm/...: "
        for (char ch : colon == std::string::npos || t[0] != '/' ? t : t.substr(colon + 2))
            if (!(ch >= '0' && ch <= '9')) out += ch;
        return out;
    };
    if (!v.ran) return "the check " + v.child;
    std::string k = "open " + status_name(v.open_rc) + (v.open_detail.empty() ? "" : " (" + words(v.open_detail) + ")");
    if (v.open_rc == FMRT_OK && v.open_problems) k += " with problems (" + words(v.open_first) + ")";
    if (v.repaired) {
        k += ", repair " + status_name(v.repair_rc);
        if (v.repair_rc == FMRT_OK) k += ", reopen " + status_name(v.reopen_rc);
    }
    if (v.usable() && v.final_problems) k += ", problems after repair (" + words(v.final_first) + ")";
    if (!v.lost.empty()) k += ", synced entries lost";
    if (!v.changed_bad.empty()) k += ", changed entries in a state they never had";
    if (!v.unexpected.empty()) k += ", entries never committed";
    return k;
}

// Shrinks a failing image, keeping its kind of failure, and describes what
// is left; with FMRT_POWER_SAVE_DIR set, the shrunk image and the workload's
// snapshots are kept there as files.
std::string shrink_and_describe(const Campaign &c, const Recording &r, const Image &im, const std::string &path) {
    const std::string kind = failure_kind(im.verdict);
    const int budget = static_cast<int>(env_count("FMRT_POWER_SHRINK", 100));
    Mix small = shrink(
        r.snaps, im.mix,
        [&](const std::string &img) {
            Verdict v = check_image(r, img, path);
            return !v.keeps_synced_state() || !v.changed_in_known_states() ? failure_kind(v) == kind : false;
        },
        budget);
    const std::string image = build_image(r.snaps, small);
    Verdict v = check_image(r, image, path);
    std::string pages;
    for (uint64_t p : deviating_pages(r.snaps, small)) pages += "\n    " + describe_page(r.snaps, small, p);
    std::string saved;
    const char *dir = std::getenv("FMRT_POWER_SAVE_DIR");
    if (dir != nullptr && *dir != '\0') {
        const std::string stem = std::string(dir) + "/power-loss-" + std::to_string(c.seed) + "-w" +
                                 std::to_string(im.workload);
        write_file(stem + "-i" + std::to_string(im.index) + ".heap", image);
        for (size_t k = 0; k < r.snaps.size(); ++k) {
            write_file(stem + "-" + snap_name(r.snaps, static_cast<uint8_t>(k)) + ".heap", r.snaps[k]);
        }
        saved = "\n  saved as " + stem + "-i" + std::to_string(im.index) + ".heap (snapshots: " + stem + "-{S,M*,C}.heap)";
    }
    return "shrunk reproduction (FMRT_TEST_SEED=" + std::to_string(c.seed) + ", workload " +
           std::to_string(im.workload) + ", image " + std::to_string(im.index) + "): all pages as in C (" +
           std::to_string(r.snaps.back().size()) + " bytes; S has " + std::to_string(r.snaps.front().size()) + ", " +
           std::to_string(r.snaps.size()) + " snapshots) except, in a file of " + std::to_string(small.size) +
           " bytes:" + pages + "\n  gives: " + describe_verdict(v) + saved;
}

class PowerLoss : public ::testing::Test {
protected:
    // Runs every workload and checks every image once for all tests; the
    // snapshots of a workload are dropped once its images are checked (a
    // failing image is shrunk at once, while they are at hand).
    static void SetUpTestSuite() {
        Campaign &c = campaign();
        c.seed = test_seed();
        c.properties.resize(2);
        c.properties[0].what = "synced entries";
        c.properties[0].holds = [](const Verdict &v) { return v.keeps_synced_state(); };
        c.properties[1].what = "changed entries";
        c.properties[1].holds = [](const Verdict &v) { return v.changed_in_known_states(); };
        const uint64_t workloads = env_count("FMRT_POWER_WORKLOADS", 10);
        const uint64_t images = env_count("FMRT_POWER_IMAGES", 30);
        std::printf("power-loss: seed %" PRIu64 " (FMRT_TEST_SEED), %" PRIu64 " workloads x %" PRIu64 " images\n", c.seed,
                    workloads, images);
        std::fflush(stdout);
        const uint64_t t0 = monotonic_us();
        TempDir scratch;
        const std::string path = scratch.file("image.heap");
        uint64_t synced = 0, touched = 0, unchanged = 0;
        for (uint64_t w = 0; w < workloads; ++w) {
            const uint64_t wseed = mix64(mix64(c.seed) ^ (w + 1));  // runs of nearby seeds share no workload
            Recording r;
            {
                TempDir dir;
                run_workload(wseed, dir, &r);
            }
            if (::testing::Test::HasFatalFailure()) {
                c.setup_error = "workload " + std::to_string(w) + " failed";
                return;
            }
            synced += r.at_sync.size();
            touched += r.touched.size();
            for (const auto &kv : r.at_sync) unchanged += !r.touched.count(kv.first);
            for (uint64_t i = 0; i < images; ++i) {
                Image im;
                im.workload = w;
                im.index = static_cast<int>(i);
                im.image_seed = mix64(wseed ^ (i + 1));
                im.mix = make_mix(r.snaps, im.image_seed, im.index);
                im.verdict = check_image(r, build_image(r.snaps, im.mix), path);
                c.paths[im.verdict.usable() ? im.verdict.path() : "unusable (refused after repair, or crashed)"]++;
                for (Property &prop : c.properties) {
                    if (prop.holds(im.verdict)) continue;
                    if (++prop.failures <= 10) {
                        prop.messages.push_back(std::string(prop.what) + ": FMRT_TEST_SEED=" + std::to_string(c.seed) +
                                                " workload " + std::to_string(w) + " image " + std::to_string(i) +
                                                ": " + describe_verdict(im.verdict));
                    }
                    const std::string kind = failure_kind(im.verdict);
                    prop.kinds[kind]++;
                    if (c.shrunk.size() < kMaxShrunkKinds && !c.shrunk.count(kind)) {
                        c.shrunk[kind] = shrink_and_describe(c, r, im, path);
                    }
                }
                im.mix = Mix{};  // only the verdict is kept
                c.images.push_back(std::move(im));
            }
        }
        std::printf("power-loss: %zu images in %.1f s; %" PRIu64 " entries synced, %" PRIu64
                    " of them left alone after the sync (checked in every image); %" PRIu64
                    " names changed after the sync\n",
                    c.images.size(), (monotonic_us() - t0) / 1e6, synced, unchanged, touched);
        for (const auto &kv : c.paths) std::printf("power-loss:   %-44s %d\n", kv.first.c_str(), kv.second);
        std::fflush(stdout);
    }

    // Fails the test for every image without the property; reports the
    // shrunk reproduction of each kind of failure.
    static void expect_all(const char *what) {
        Campaign &c = campaign();
        ASSERT_TRUE(c.setup_error.empty()) << c.setup_error;
        ASSERT_FALSE(c.images.empty());
        for (const Property &prop : c.properties) {
            if (std::string(prop.what) != what) continue;
            for (const auto &m : prop.messages) ADD_FAILURE() << m;
            std::printf("power-loss: %s: %d of %zu images fail\n", what, prop.failures, c.images.size());
            for (const auto &kv : prop.kinds) {
                std::printf("power-loss:   %4d x %s\n", kv.second, kv.first.c_str());
                auto it = c.shrunk.find(kv.first);
                if (it != c.shrunk.end()) ADD_FAILURE() << what << ": \"" << kv.first << "\"\n  " << it->second;
            }
            EXPECT_EQ(prop.failures, 0);
        }
    }
};

TEST_F(PowerLoss, EntriesUnchangedSinceTheLastSyncSurviveAnyMixOfPages) {
    expect_all("synced entries");
    // The controls: all-S (a cut right after the sync) and all-C (like a
    // kill) open as they are.
    for (const Image &im : campaign().images) {
        if (im.index >= kControlImages) continue;
        EXPECT_FALSE(im.verdict.repaired) << "workload " << im.workload << (im.index ? " all-C" : " all-S")
                                          << " image needed a repair: " << describe_verdict(im.verdict);
    }
}

TEST_F(PowerLoss, EntriesChangedSinceTheLastSyncAreInAStateTheyHad) {
    expect_all("changed entries");
    uint64_t present = 0, stale = 0;
    int images = 0;
    for (const Image &im : campaign().images) {
        present += im.verdict.changed_present;
        stale += im.verdict.changed_stale.size();
        images += !im.verdict.changed_stale.empty();
    }
    std::printf("power-loss: changed entries found: %" PRIu64 "; with bytes not written back (allowed): %" PRIu64
                " in %d images\n",
                present, stale, images);
}

}  // namespace
