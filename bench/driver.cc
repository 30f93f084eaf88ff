// driver.cc - fmrt-bench, the benchmark program: runs every workload of
// workloads.h on libfmrt and on its peers, each run in a fresh worker
// process (bench-worker-<name>, found next to this executable; see
// worker.cc), and prints one table of millions of operations per second with
// the ratio libfmrt / peer, then the targets of the issue (printed, never
// asserted).  Exit status 1 only when a worker crashed or a workload gave a
// wrong result; 2 on a usage error.  docs/benchmarks.md explains the output.
//
// SPDX-License-Identifier: GPL-2.0-or-later
#include "bench_config.h"
#include "host.h"
#include "spawn.h"
#include "text.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <getopt.h>
#include <sstream>
#include <string>
#include <unistd.h>
#include <utility>
#include <vector>

namespace {

using namespace bench;

// ------------------------------------------------------------ definitions

struct Allocator {
    const char *key;   // --only name; the worker's "allocator" (heap file tag)
    const char *title; // column heading
    const char *exe;   // worker executable next to fmrt-bench
    bool built;        // bench/meson.build found the peer and built its worker
    bool flushing_off; // PMDK: start with PMEM_IS_PMEM_FORCE=1 PMEM_NO_FLUSH=1
};

const Allocator kAllocators[] = {
    {"libfmrt", "libfmrt", "bench-worker-fmrt", BENCH_HAVE_FMRT != 0, false},
    {"glibc", "glibc", "bench-worker-glibc", BENCH_HAVE_GLIBC != 0, false},
    {"jemalloc", "jemalloc", "bench-worker-jemalloc", BENCH_HAVE_JEMALLOC != 0, false},
    {"mimalloc", "mimalloc", "bench-worker-mimalloc", BENCH_HAVE_MIMALLOC != 0, false},
    {"boost", "Boost.IPC", "bench-worker-boost", BENCH_HAVE_BOOST != 0, false},
    {"pmdk", "PMDK", "bench-worker-pmdk", BENCH_HAVE_PMDK != 0, true},
};
constexpr int kNumAllocators = sizeof kAllocators / sizeof kAllocators[0];
constexpr int kFmrt = 0, kGlibc = 1, kBoost = 4, kPmdk = 5;

// Table rows (the workloads of the issue).
enum Row { kPair, kWarm, kCold, kRealloc, kThreads, kNumRows };
const char *const kRowKey[kNumRows] = {"pair", "warm", "cold", "realloc", "threads"};

// Worker runs: one batch run gives both the cold and the warm round.
enum Job { kJobPair, kJobBatch, kJobRealloc, kJobBatch2, kNumJobs };

struct Counts {
    uint64_t pairs = 20000000;
    uint64_t objects = 1000000; // per thread
    uint64_t realloc_limit = 1ull << 30;
    double realloc_cap = 10; // seconds
};

// The runs of one workload on one allocator.
struct Cell {
    std::vector<Result> runs;
    bool failed = false;
    bool has() const { return !failed && !runs.empty(); }
    // The median run by rate (for an even count, the slower middle run).
    Result median() const {
        std::vector<Result> v = runs;
        std::sort(v.begin(), v.end(), [](const Result &a, const Result &b) { return a.rate() < b.rate(); });
        return v[(v.size() - 1) / 2];
    }
    bool any_capped() const {
        return std::any_of(runs.begin(), runs.end(), [](const Result &r) { return r.capped; });
    }
};

// Prints a line without its trailing blanks.
void print_line(std::string line) {
    line.erase(line.find_last_not_of(' ') + 1);
    std::printf("%s\n", line.c_str());
}

// ----------------------------------------------------------------- options

struct Options {
    bool quick = false;
    std::string dir;
    int repeat = 0;  // 0: the default (3, or 1 with --quick)
    double cap = -1; // realloc time cap; <= 0: the default
    bool use_alloc[kNumAllocators];
    bool use_row[kNumRows];
};

[[noreturn]] void usage(int status) {
    std::fprintf(status == 0 ? stdout : stderr,
                 "usage: fmrt-bench [--quick] [--only=LIST] [--dir=DIR] [--repeat=N] [--cap=SECONDS]\n"
                 "\n"
                 "Runs the same allocation workloads on libfmrt and its peers (glibc, jemalloc,\n"
                 "mimalloc, Boost.Interprocess, PMDK), each run in a fresh worker process, and\n"
                 "prints millions of operations per second and libfmrt / peer.\n"
                 "\n"
                 "  --quick         scaled-down counts for a smoke run (default --repeat=1)\n"
                 "  --only=LIST     comma-separated allocators (libfmrt or fmrt, glibc, jemalloc,\n"
                 "                  mimalloc, boost, pmdk) and/or workloads (pair, warm, cold,\n"
                 "                  realloc, threads); default all\n"
                 "  --dir=DIR       directory for heap files (default /dev/shm when present,\n"
                 "                  else $TMPDIR or /tmp)\n"
                 "  --repeat=N      run each figure N times and report the median (default 3)\n"
                 "  --cap=SECONDS   time cap of one realloc run (default 10; 2 with --quick)\n"
                 "  --help          this text\n");
    std::exit(status);
}

void parse_only(const char *list_text, Options *o) {
    bool alloc[kNumAllocators] = {}, row[kNumRows] = {};
    bool any_alloc = false, any_row = false;
    std::stringstream list(list_text);
    std::string item;
    while (std::getline(list, item, ',')) {
        if (item.empty()) continue;
        if (item == "fmrt") item = "libfmrt";
        bool known = false;
        for (int a = 0; a < kNumAllocators; ++a)
            if (item == kAllocators[a].key) alloc[a] = any_alloc = known = true;
        for (int r = 0; r < kNumRows; ++r)
            if (item == kRowKey[r]) row[r] = any_row = known = true;
        if (!known) {
            std::fprintf(stderr, "fmrt-bench: --only: unknown name '%s'\n", item.c_str());
            usage(2);
        }
    }
    if (any_alloc) std::copy(alloc, alloc + kNumAllocators, o->use_alloc);
    if (any_row) std::copy(row, row + kNumRows, o->use_row);
}

Options parse_options(int argc, char **argv) {
    Options o;
    std::fill(o.use_alloc, o.use_alloc + kNumAllocators, true);
    std::fill(o.use_row, o.use_row + kNumRows, true);
    static const struct option longopts[] = {
        {"quick", no_argument, nullptr, 'q'},     {"only", required_argument, nullptr, 'o'},
        {"dir", required_argument, nullptr, 'd'}, {"repeat", required_argument, nullptr, 'r'},
        {"cap", required_argument, nullptr, 'c'}, {"help", no_argument, nullptr, 'h'},
        {nullptr, 0, nullptr, 0}};
    int c;
    char *end = nullptr;
    while ((c = getopt_long(argc, argv, "", longopts, nullptr)) != -1) {
        switch (c) {
        case 'q': o.quick = true; break;
        case 'o': parse_only(optarg, &o); break;
        case 'd': o.dir = optarg; break;
        case 'r': {
            const long v = std::strtol(optarg, &end, 10);
            if (end == optarg || *end != '\0' || v < 1 || v > 1000) {
                std::fprintf(stderr, "fmrt-bench: --repeat wants a number from 1 to 1000\n");
                usage(2);
            }
            o.repeat = static_cast<int>(v);
            break;
        }
        case 'c':
            o.cap = std::strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(o.cap > 0)) {
                std::fprintf(stderr, "fmrt-bench: --cap wants a positive number of seconds\n");
                usage(2);
            }
            break;
        case 'h': usage(0);
        default: usage(2);
        }
    }
    if (optind != argc) usage(2);
    if (o.dir.empty()) o.dir = default_dir();
    if (!is_writable_dir(o.dir)) {
        std::fprintf(stderr, "fmrt-bench: --dir %s is not a writable directory\n", o.dir.c_str());
        std::exit(2);
    }
    if (o.repeat == 0) o.repeat = o.quick ? 1 : 3;
    return o;
}

// ------------------------------------------------------------- one bench

class Bench {
public:
    Bench(const Options &opt, int argc, char **argv);
    void print_header() const;
    void probe_allocators();
    void run_all();
    void print_table() const;
    void print_targets() const;
    void print_load() const;
    // Lists the failures; true when there were any.
    bool print_failures() const;

private:
    void run_job(Job j, int a, int rep);
    double rate(int r, int a) const { return cells_[r][a].median().rate(); }
    // libfmrt / peer, NaN when either is missing.
    double ratio(int r, int a) const {
        return cells_[r][a].has() && cells_[r][kFmrt].has() ? rate(r, kFmrt) / rate(r, a) : NAN;
    }
    std::string row_label(int r) const;

    Options opt_;
    Counts n_;
    std::string command_;
    std::string here_; // directory of the workers
    bool runnable_[kNumAllocators] = {};
    std::string status_[kNumAllocators]; // why not runnable
    Cell cells_[kNumRows][kNumAllocators];
    std::vector<std::string> failures_;
    int done_ = 0, total_ = 0;
    int single_runs_ = 0, starved_runs_ = 0; // long single-threaded runs; those with < 90% of a CPU
    double load_start_ = -1, load_end_ = -1;
};

Bench::Bench(const Options &opt, int argc, char **argv) : opt_(opt), here_(self_dir()) {
    if (opt_.quick) {
        n_.pairs = 200000;
        n_.objects = 20000;
        n_.realloc_limit = 16ull << 20;
        n_.realloc_cap = 2;
    }
    if (opt_.cap > 0) n_.realloc_cap = opt_.cap;
    for (int i = 0; i < argc; ++i) command_ += (i ? " " : "") + shell_quote(argv[i]);
    load_start_ = load_average();
}

void Bench::print_header() const {
    std::printf("fmrt-bench: libfmrt against volatile and persistent allocators\n");
    std::printf("command:  %s\n", command_.c_str());
    std::printf("date:     %s\n", utc_now().c_str());
    std::printf("machine:  %s\n", machine_text().c_str());
    std::printf("build:    %s, compiler %s\n", BENCH_BUILDTYPE, __VERSION__);
    if (std::strcmp(BENCH_SANITIZE, "none") != 0)
        std::printf("          sanitizer %s: figures are meaningless; glibc and jemalloc are not built\n"
                    "          (the sanitizer replaces malloc)\n",
                    BENCH_SANITIZE);
    std::printf("load:     1-minute load average %.2f at start; fmrt-bench runs at %s\n", load_start_,
                priority_text().c_str());
    std::printf("heap dir: %s (%s): heap files of libfmrt, Boost.Interprocess and PMDK\n", opt_.dir.c_str(),
                fs_type(opt_.dir).c_str());
    std::printf("runs:     every figure is the median of %d run%s, each in a fresh process on a fresh heap\n",
                opt_.repeat, opt_.repeat == 1 ? "" : "s");
    std::printf("counts:   pair %s; batch %s objects per thread; realloc 8 KiB to %s (%llu calls), "
                "capped at %g s per run\n",
                count_text(n_.pairs).c_str(), count_text(n_.objects).c_str(), size_text(n_.realloc_limit).c_str(),
                (unsigned long long)(n_.realloc_limit / (8 << 10) - 1), n_.realloc_cap);
    if (opt_.quick) std::printf("          (--quick: scaled-down counts, not comparable with full runs)\n");
}

// Asks every selected worker what it is (--info) and lists the allocators.
void Bench::probe_allocators() {
    std::printf("\nallocators:\n");
    for (int a = 0; a < kNumAllocators; ++a) {
        const Allocator &al = kAllocators[a];
        const std::string exe = here_ + "/" + al.exe;
        if (!al.built) {
            status_[a] = "not built";
        } else if (!opt_.use_alloc[a]) {
            status_[a] = "skipped";
        } else if (access(exe.c_str(), X_OK) != 0) {
            status_[a] = "missing";
            failures_.push_back(fmt("%s: worker %s is missing", al.key, exe.c_str()));
        } else {
            const WorkerOutput w = run_worker(exe, {"--info"}, al.flushing_off, "", al.key);
            if (!w.ok) {
                status_[a] = "FAILED";
                failures_.push_back(fmt("%s --info: %s", al.key, w.failure.c_str()));
            } else {
                runnable_[a] = true;
                auto get = [&w](const char *k) {
                    auto it = w.info.find(k);
                    return it == w.info.end() ? std::string() : it->second;
                };
                std::string line = fmt("  %-9s %-28s %s", al.key, get("version").c_str(), get("library").c_str());
                if (!get("note").empty()) line += "; " + get("note");
                print_line(line);
                continue;
            }
        }
        std::printf("  %-9s %s\n", al.key, status_[a].c_str());
    }
    std::fflush(stdout);
}

// Every job on every allocator, repeats outermost so that slow drifts of
// the machine spread over everyone.  Progress goes to stderr.
void Bench::run_all() {
    bool job[kNumJobs] = {};
    job[kJobPair] = opt_.use_row[kPair];
    job[kJobBatch] = opt_.use_row[kWarm] || opt_.use_row[kCold] || opt_.use_row[kThreads]; // (e) needs (b)
    job[kJobRealloc] = opt_.use_row[kRealloc];
    job[kJobBatch2] = opt_.use_row[kThreads];
    for (int j = 0; j < kNumJobs; ++j)
        for (int a = 0; a < kNumAllocators; ++a) total_ += (job[j] && runnable_[a]) ? opt_.repeat : 0;

    for (int rep = 0; rep < opt_.repeat; ++rep)
        for (int j = 0; j < kNumJobs; ++j)
            if (job[j])
                for (int a = 0; a < kNumAllocators; ++a)
                    if (runnable_[a]) run_job(static_cast<Job>(j), a, rep);
    load_end_ = load_average();
}

void Bench::run_job(Job j, int a, int rep) {
    const Allocator &al = kAllocators[a];
    std::vector<std::string> args{"--dir=" + opt_.dir};
    std::vector<std::pair<std::string, Row>> want; // result name -> row
    const char *what = "";
    switch (j) {
    case kJobPair:
        what = "pair";
        args.push_back("--workload=pair");
        args.push_back(fmt("--count=%llu", (unsigned long long)n_.pairs));
        want = {{"pair", kPair}};
        break;
    case kJobBatch:
        what = "batch";
        args.push_back("--workload=batch");
        args.push_back(fmt("--count=%llu", (unsigned long long)n_.objects));
        want = {{"warm", kWarm}, {"cold", kCold}};
        break;
    case kJobRealloc:
        what = "realloc";
        args.push_back("--workload=realloc");
        args.push_back(fmt("--limit=%llu", (unsigned long long)n_.realloc_limit));
        args.push_back(fmt("--cap=%g", n_.realloc_cap));
        want = {{"realloc", kRealloc}};
        break;
    case kJobBatch2:
        what = "batch, 2 threads";
        args.push_back("--workload=batch");
        args.push_back(fmt("--count=%llu", (unsigned long long)n_.objects));
        args.push_back("--threads=2");
        want = {{"warm", kThreads}};
        break;
    default: return;
    }

    std::fprintf(stderr, "[%d/%d] %-16s %-9s ", ++done_, total_, what, al.key);
    const WorkerOutput w = run_worker(here_ + "/" + al.exe, args, al.flushing_off, opt_.dir, al.key);
    if (j != kJobBatch2 && w.wall >= 0.5) { // shorter runs: start-up noise
        ++single_runs_;
        if (w.cpu / w.wall < 0.9) ++starved_runs_;
    }
    if (!w.ok) {
        std::fprintf(stderr, "%s\n", w.failure.c_str());
        failures_.push_back(fmt("%s, %s, run %d: %s", al.key, what, rep + 1, w.failure.c_str()));
        for (const auto &wr : want) cells_[wr.second][a].failed = true;
        return;
    }
    for (const auto &wr : want) {
        auto it = w.results.find(wr.first);
        if (it == w.results.end()) {
            failures_.push_back(fmt("%s, %s, run %d: no '%s' result", al.key, what, rep + 1, wr.first.c_str()));
            cells_[wr.second][a].failed = true;
            continue;
        }
        cells_[wr.second][a].runs.push_back(it->second);
        std::fprintf(stderr, "%s %s M/s%s  ", wr.first.c_str(), sig3(it->second.rate() / 1e6).c_str(),
                     it->second.capped ? " (capped)" : "");
    }
    std::fprintf(stderr, "(%.0f%% of a CPU)\n", w.wall > 0 ? 100 * w.cpu / w.wall : 0.0);
}

std::string Bench::row_label(int r) const {
    switch (r) {
    case kPair: return "(a) malloc(64)+free pair";
    case kWarm: return "(b) warm batch, " + count_text(n_.objects) + " objects";
    case kCold: return "(c) cold batch, " + count_text(n_.objects) + " objects";
    case kRealloc: return "(d) realloc +8 KiB to " + size_text(n_.realloc_limit);
    case kThreads: return "(e) warm batch, 2 threads";
    default: return "?";
    }
}

constexpr int kLabelWidth = 33, kFmrtWidth = 8, kPeerWidth = 16;

void Bench::print_table() const {
    std::printf("\nMillions of operations per second, higher is better; [x] = libfmrt / peer.\n");
    std::string head = fmt("%-*s %*s", kLabelWidth, "workload", kFmrtWidth, kAllocators[kFmrt].title);
    for (int a = 1; a < kNumAllocators; ++a) head += fmt(" | %-*s", kPeerWidth, kAllocators[a].title);
    head.erase(head.find_last_not_of(' ') + 1);
    std::printf("%s\n%s\n", head.c_str(), std::string(head.size(), '-').c_str());

    bool any_capped = false;
    for (int r = 0; r < kNumRows; ++r) {
        if (!opt_.use_row[r]) continue;
        auto value = [&](int a) {
            const Cell &c = cells_[r][a];
            if (c.failed) return std::string("FAILED");
            if (!c.has()) return status_[a].empty() ? std::string("-") : status_[a];
            std::string v = sig3(rate(r, a) / 1e6);
            if (c.any_capped()) {
                v += "*";
                any_capped = true;
            }
            return v;
        };
        std::string line = fmt("%-*s %*s", kLabelWidth, row_label(r).c_str(), kFmrtWidth, value(kFmrt).c_str());
        for (int a = 1; a < kNumAllocators; ++a) {
            std::string v = value(a);
            if (!std::isnan(ratio(r, a))) v += " [" + sig3(ratio(r, a)) + "x]";
            line += fmt(" | %-*s", kPeerWidth, v.c_str());
        }
        print_line(line);
    }
    if (opt_.use_row[kThreads]) {
        std::string line = fmt("%-*s ", kLabelWidth, "    2 threads / 1 thread (e)/(b)");
        for (int a = 0; a < kNumAllocators; ++a) {
            std::string v = "-";
            if (cells_[kThreads][a].has() && cells_[kWarm][a].has())
                v = sig3(rate(kThreads, a) / rate(kWarm, a)) + "x";
            line += a == 0 ? fmt("%*s", kFmrtWidth, v.c_str()) : fmt(" | %-*s", kPeerWidth, v.c_str());
        }
        print_line(line);
    }

    std::printf("\nAn operation is: (a) malloc(64), a 1-byte write, free; (b,c,e) one allocation of a\n"
                "random size of 16-512 B (uniform), an 8-byte write at its start, and its free, frees in\n"
                "shuffled order after all allocations (timed: the allocation pass and the free pass; a\n"
                "check of every object in between is not timed); (d) one realloc call growing one block\n"
                "by 8 KiB (an 8-byte stamp is written every 512 KiB, all checked at the end, untimed).\n"
                "(c) is the first round on a fresh heap in a fresh process, (b) the second round on the\n"
                "same heap; (e) is (b) on two threads at once, each with its own objects, one shared\n"
                "heap, aggregate rate.\n"
                "Boost.IPC is managed_mapped_file (pre-sized; realloc = expand_fwd|allocate_new, copy on\n"
                "move); PMDK is libpmemobj with flushing off (PMEM_IS_PMEM_FORCE=1 PMEM_NO_FLUSH=1).\n");
    if (any_capped) {
        std::string reached;
        for (int a = 0; a < kNumAllocators; ++a)
            if (cells_[kRealloc][a].has() && cells_[kRealloc][a].any_capped())
                reached += fmt(" %s %s", kAllocators[a].key, size_text(cells_[kRealloc][a].median().reached).c_str());
        std::printf("* stopped by the %g s cap before reaching %s: growth copies the block, so it is\n"
                    "  quadratic (reached:%s).  The rate covers only the smaller,\n"
                    "  cheaper sizes: it overstates that peer, and the ratio is a lower bound.\n",
                    n_.realloc_cap, size_text(n_.realloc_limit).c_str(), reached.c_str());
    }
}

// The targets of the issue, judged on this run (printed, never asserted).
void Bench::print_targets() const {
    auto verdict = [](double v, double want) {
        if (std::isnan(v)) return std::string("not measured");
        return fmt("%sx (want >= %gx): %s", sig3(v).c_str(), want, v >= want ? "met" : "MISSED");
    };
    std::printf("\nTargets (wall-clock figures: printed, never asserted):\n");
    std::printf("  pair >= 0.7x glibc .................. %s\n", verdict(ratio(kPair, kGlibc), 0.7).c_str());
    std::printf("  warm batch >= 2x glibc .............. %s\n", verdict(ratio(kWarm, kGlibc), 2).c_str());
    for (int a : {kBoost, kPmdk}) {
        const double want = a == kBoost ? 10 : 20;
        std::string detail;
        int measured = 0, missed = 0, rows = 0;
        for (int r = 0; r < kNumRows; ++r) {
            if (!opt_.use_row[r]) continue;
            ++rows;
            const double v = ratio(r, a);
            if (std::isnan(v)) continue;
            ++measured;
            missed += v < want;
            detail += fmt(" %s %sx%s%s", kRowKey[r], sig3(v).c_str(), cells_[r][a].any_capped() ? "*" : "",
                          v < want ? " (MISSED)" : "");
        }
        const std::string text = measured == 0       ? "not measured"
                                 : missed > 0        ? fmt("MISSED on %d of %d", missed, measured)
                                 : measured < rows   ? "met where measured"
                                                     : "met";
        std::printf("  >= %gx %s on every workload: %s\n", want, kAllocators[a].title, text.c_str());
        if (measured > 0) std::printf("   %s\n", detail.c_str());
    }
    double scaling = NAN;
    if (cells_[kThreads][kFmrt].has() && cells_[kWarm][kFmrt].has())
        scaling = rate(kThreads, kFmrt) / rate(kWarm, kFmrt);
    std::printf("  libfmrt 2 threads >= 1.6x 1 thread .. %s\n", verdict(scaling, 1.6).c_str());
}

// Other work on the machine distorts everything: say how much there was.
void Bench::print_load() const {
    std::printf("\nMachine load: 1-minute load average %.2f at start, %.2f at end; %d of %d\n"
                "single-threaded worker runs (of 0.5 s or more) got less than 90%% of a CPU.\n",
                load_start_, load_end_, starved_runs_, single_runs_);
    if (starved_runs_ > 0)
        std::printf("WARNING: the machine was busy with other work: these figures are not reliable.\n");
    else if (load_start_ > 1.0 || load_end_ > 3.0)
        std::printf("Note: other work was running; the worker runs still got their CPU, but caches and\n"
                    "memory bandwidth were shared.\n");
}

bool Bench::print_failures() const {
    if (failures_.empty()) return false;
    std::printf("\nFAILURES (the benchmark exits with status 1):\n");
    for (const auto &f : failures_) std::printf("  %s\n", f.c_str());
    return true;
}

} // namespace

int main(int argc, char **argv) {
    Bench bench(parse_options(argc, argv), argc, argv);
    bench.print_header();
    bench.probe_allocators();
    bench.run_all();
    bench.print_table();
    bench.print_targets();
    bench.print_load();
    return bench.print_failures() ? 1 : 0;
}
