// catalog_bench.cc - fmrt-catalog-bench: how the catalog's costs grow with
// its size.  For catalogs of 1k, 10k and 100k names (and 1M with --big) it
// measures putting new names, getting random existing and missing names,
// remove+put churn at that size, and iteration; it prints one table with
// the sizes as columns and a verdict on the target (a get within
// 2 us at 100k names).  The verdict is printed, never asserted: the exit
// status is 1 only when the catalog returns a wrong result, 2 on a usage
// error.  --quick runs tiny sizes (the bench-smoke test).
//
// SPDX-License-Identifier: GPL-2.0-or-later
#include <fmrt.h>

#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

// The clock every measurement uses: this thread's CPU time by default, so
// that a loaded machine (other jobs on few cores) does not inflate the
// figures with time spent descheduled; --wall uses the monotonic clock.
bool g_wall = false;

double now_s() {
    struct timespec ts;
    clock_gettime(g_wall ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double seconds_since(double t0) { return now_s() - t0; }

uint64_t mix64(uint64_t x) {  // splitmix64 finaliser
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

[[noreturn]] void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::fputs("fmrt-catalog-bench: ", stderr);
    std::vfprintf(stderr, fmt, ap);
    std::fprintf(stderr, " (%s)\n", fmrt_error_message());
    va_end(ap);
    std::exit(1);
}

// Name i of a run: a hashed prefix so that insertion order is not name
// order, then the index so that names are unique.  `kind` separates the
// names put at first, the missing names and the churn names.
std::string make_name(const char *kind, uint64_t i) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s/%016" PRIx64 "/%" PRIu64, kind, mix64(i), i);
    return buf;
}

// The directory for heap files: /dev/shm when present (the costs measured
// are the catalog's, not the disk's), else $TMPDIR or /tmp.
std::string heap_dir() {
    struct stat st;
    if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0) return "/dev/shm";
    const char *t = std::getenv("TMPDIR");
    return t != nullptr && *t != '\0' ? t : "/tmp";
}

constexpr int kPasses = 3;  // lookups are measured three times; the best counts

struct Result {
    uint64_t size = 0;
    double put_us = 0;      // per put of a new name
    double get_us = 0;      // per get of a random existing name
    double miss_us = 0;     // per get of a missing name
    struct Churn {
        double remove_us = 0;  // per remove of a random name
        double put_us = 0;     // per put of a new name, at the same size
        double pair() const { return remove_us + put_us; }
    };
    Churn churn;     // the catalog
    Churn ram_hash;  // the same churn on a RAM-only std::unordered_map
    Churn ram_map;   // ... and on a RAM-only std::map
    double iter_per_s = 0;  // entries per second
};

// The churn of one size: which name each step removes and which it puts.
// Steps go in batches of `batch` distinct victims: the batch's removes, then
// its puts, each phase timed as a whole (so the size stays within 10% of n
// and the clock is read twice per batch, not per operation).
struct ChurnPlan {
    std::vector<std::string> fresh;
    std::vector<uint32_t> victim;
    uint64_t batch;
    ChurnPlan(uint64_t n, uint64_t churn) : fresh(churn), victim(churn), batch(std::max<uint64_t>(1, std::min<uint64_t>(n / 10, 1000))) {
        std::vector<uint32_t> order(n);
        for (uint64_t i = 0; i < n; ++i) order[i] = static_cast<uint32_t>(i);
        uint64_t pos = n;  // a new shuffle of 0..n-1 whenever it runs out, so a batch never repeats a victim
        for (uint64_t k = 0; k < churn; ++k) {
            fresh[k] = make_name("churn", k);
            if (k % batch == 0 && pos + batch > n) {
                for (uint64_t i = n; i > 1; --i) std::swap(order[i - 1], order[mix64(k * 31 + i) % i]);
                pos = 0;
            }
            victim[k] = order[pos++];
        }
    }
};

// Times the churn: per batch, remove(old name) for each victim, then
// put(new name, victim) for each; the same loop and the same names for the
// catalog and the RAM peers.
template <class Remove, class Put>
Result::Churn time_churn(const std::vector<std::string> &names, const ChurnPlan &plan, Remove remove, Put put) {
    std::vector<uint64_t> current(names.size());  // which name slot i holds: 0 original, k+1 fresh[k]
    double removing = 0, putting = 0;
    const uint64_t steps = plan.fresh.size();
    for (uint64_t b = 0; b < steps; b += plan.batch) {
        const uint64_t e = std::min(steps, b + plan.batch);
        double t0 = now_s();
        for (uint64_t k = b; k < e; ++k) {
            const uint32_t v = plan.victim[k];
            remove(current[v] == 0 ? names[v] : plan.fresh[current[v] - 1]);
        }
        const double t1 = now_s();
        for (uint64_t k = b; k < e; ++k) {
            put(plan.fresh[k], plan.victim[k]);
            current[plan.victim[k]] = k + 1;
        }
        putting += now_s() - t1;
        removing += t1 - t0;
    }
    Result::Churn c;
    c.remove_us = removing * 1e6 / static_cast<double>(steps);
    c.put_us = putting * 1e6 / static_cast<double>(steps);
    return c;
}

// The floor the memory hierarchy sets: the same churn on RAM-only maps that
// start with the same names.
template <class Map>
Result::Churn ram_churn(const std::vector<std::string> &names, const ChurnPlan &plan) {
    Map m;
    for (uint64_t i = 0; i < names.size(); ++i) m.emplace(names[i], i);
    const Result::Churn c = time_churn(names, plan, [&](const std::string &old) {
        if (m.erase(old) != 1) die("RAM map lost %s", old.c_str());
    }, [&](const std::string &name, uint32_t v) { m.emplace(name, v); });
    if (m.size() != names.size()) die("RAM map has %zu names", m.size());
    return c;
}

Result run_size(const std::string &dir, uint64_t n, uint64_t lookups, uint64_t churn) {
    Result res;
    res.size = n;
    const std::string path = dir + "/fmrt-catalog-bench-" + std::to_string(getpid()) + "-" + std::to_string(n) + ".fmrt";
    unlink(path.c_str());
    fmrt_options o = FMRT_OPTIONS_INIT;
    o.max_size = 64ull << 30;
    fmrt_runtime *rt = nullptr;
    if (fmrt_runtime_open(&rt, path.c_str(), &o) != FMRT_OK) die("open %s", path.c_str());
    unlink(path.c_str());  // nothing is left behind, whatever happens

    // Names and allocations are made before the clocks run.
    std::vector<std::string> names(n);
    std::vector<void *> ptrs(n);
    for (uint64_t i = 0; i < n; ++i) {
        names[i] = make_name("obj", i);
        ptrs[i] = fmrt_malloc(rt, 64);
        if (ptrs[i] == nullptr) die("fmrt_malloc");
        std::memcpy(ptrs[i], &i, sizeof i);
    }

    // put of new names
    double t0 = now_s();
    for (uint64_t i = 0; i < n; ++i) {
        if (fmrt_catalog_put(rt, names[i].c_str(), ptrs[i], 8, 1, nullptr, 0, 0) != FMRT_OK)
            die("put %s", names[i].c_str());
    }
    res.put_us = seconds_since(t0) * 1e6 / static_cast<double>(n);

    // get of random existing names
    std::vector<uint32_t> pick(lookups);
    for (uint64_t k = 0; k < lookups; ++k) pick[k] = static_cast<uint32_t>(mix64(k + 12345) % n);
    fmrt_entry e = FMRT_ENTRY_INIT;
    uint64_t check = 0;
    for (int pass = 0; pass < kPasses; ++pass) {  // the best pass counts
        t0 = now_s();
        for (uint64_t k = 0; k < lookups; ++k) {
            if (fmrt_catalog_get(&e, rt, names[pick[k]].c_str()) != FMRT_OK) die("get %s", names[pick[k]].c_str());
            check += e.offset;
        }
        const double us = seconds_since(t0) * 1e6 / static_cast<double>(lookups);
        if (pass == 0 || us < res.get_us) res.get_us = us;
    }
    uint64_t expect = 0;
    for (uint64_t k = 0; k < lookups; ++k) expect += fmrt_ptr_to_offset(rt, ptrs[pick[k]]);
    if (check != expect * kPasses) die("get returned wrong offsets");

    // get of missing names
    std::vector<std::string> missing(lookups < 100000 ? lookups : 100000);
    for (uint64_t k = 0; k < missing.size(); ++k) missing[k] = make_name("obj", n + k);  // same shape, never put
    for (int pass = 0; pass < kPasses; ++pass) {
        t0 = now_s();
        for (uint64_t k = 0; k < lookups; ++k) {
            if (fmrt_catalog_get(&e, rt, missing[k % missing.size()].c_str()) != FMRT_ENOTFOUND) die("missing name found");
        }
        const double us = seconds_since(t0) * 1e6 / static_cast<double>(lookups);
        if (pass == 0 || us < res.miss_us) res.miss_us = us;
    }

    // churn: remove a random name and put a new one, keeping the size
    const ChurnPlan plan(n, churn);
    res.churn = time_churn(names, plan, [&](const std::string &old) {
        if (fmrt_catalog_remove(rt, old.c_str(), 0) != FMRT_OK) die("remove %s", old.c_str());
    }, [&](const std::string &name, uint32_t v) {
        if (fmrt_catalog_put(rt, name.c_str(), ptrs[v], 8, 2, nullptr, 0, 0) != FMRT_OK) die("put %s", name.c_str());
    });
    res.ram_hash = ram_churn<std::unordered_map<std::string, uint64_t>>(names, plan);
    res.ram_map = ram_churn<std::map<std::string, uint64_t>>(names, plan);

    // iteration
    uint64_t seen = 0;
    std::string after;
    t0 = now_s();
    int rc = fmrt_catalog_next(&e, rt, nullptr);
    while (rc == FMRT_OK) {
        ++seen;
        after.assign(e.name, e.name_len);
        rc = fmrt_catalog_next(&e, rt, after.c_str());
    }
    const double iter_s = seconds_since(t0);
    if (rc != FMRT_ENOTFOUND) die("iteration ended with %d", rc);
    if (seen != n) die("iteration saw %" PRIu64 " entries of %" PRIu64, seen, n);
    res.iter_per_s = static_cast<double>(seen) / iter_s;

    uint64_t count = 0;
    if (fmrt_catalog_count(&count, rt) != FMRT_OK || count != n) die("count %" PRIu64 " != %" PRIu64, count, n);
    if (fmrt_runtime_close(rt) != FMRT_OK) die("close");
    return res;
}

const char *human(uint64_t n) {
    static char buf[8][24];
    static int k = 0;
    char *b = buf[k++ % 8];
    if (n >= 1000000 && n % 1000000 == 0) std::snprintf(b, 24, "%" PRIu64 "M", n / 1000000);
    else if (n >= 1000 && n % 1000 == 0) std::snprintf(b, 24, "%" PRIu64 "k", n / 1000);
    else std::snprintf(b, 24, "%" PRIu64, n);
    return b;
}

void usage() {
    std::fprintf(stderr,
                 "usage: fmrt-catalog-bench [--quick] [--big] [--wall] [--dir DIR]\n"
                 "  --quick  tiny sizes, a smoke test\n"
                 "  --big    also 1M names\n"
                 "  --wall   time with the monotonic clock (default: this thread's CPU time)\n"
                 "  --dir    where heap files go (default /dev/shm, else $TMPDIR or /tmp)\n");
}

}  // namespace

int main(int argc, char **argv) {
    bool quick = false, big = false;
    std::string dir = heap_dir();
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--quick") == 0) quick = true;
        else if (std::strcmp(argv[i], "--big") == 0) big = true;
        else if (std::strcmp(argv[i], "--wall") == 0) g_wall = true;
        else if (std::strcmp(argv[i], "--dir") == 0 && i + 1 < argc) dir = argv[++i];
        else {
            usage();
            return 2;
        }
    }
    std::vector<uint64_t> sizes = quick ? std::vector<uint64_t>{100, 1000} : std::vector<uint64_t>{1000, 10000, 100000};
    if (big && !quick) sizes.push_back(1000000);
    const uint64_t lookups = quick ? 20000 : 1000000;
    const uint64_t churn = quick ? 2000 : 100000;

    double load[1] = {0};
    getloadavg(load, 1);
    std::printf("fmrt-catalog-bench: libfmrt %s, heap files in %s, %" PRIu64 " lookups (best of %d) and %" PRIu64
                " churn pairs per size; %s time; load average %.2f on %ld CPUs\n",
                fmrt_version(), dir.c_str(), lookups, kPasses, churn, g_wall ? "wall-clock" : "thread CPU", load[0],
                sysconf(_SC_NPROCESSORS_ONLN));
    std::fflush(stdout);
    std::vector<Result> results;
    for (uint64_t n : sizes) results.push_back(run_size(dir, n, lookups, churn));

    std::printf("\n%-34s", "catalog size (names)");
    for (const Result &r : results) std::printf(" %12s", human(r.size));
    std::printf("\n%-34s", "put of a new name (us/op)");
    for (const Result &r : results) std::printf(" %12.3f", r.put_us);
    std::printf("\n%-34s", "get, random existing name (us/op)");
    for (const Result &r : results) std::printf(" %12.3f", r.get_us);
    std::printf("\n%-34s", "get, missing name (us/op)");
    for (const Result &r : results) std::printf(" %12.3f", r.miss_us);
    std::printf("\n%-34s", "churn: remove a random name (us)");
    for (const Result &r : results) std::printf(" %12.3f", r.churn.remove_us);
    std::printf("\n%-34s", "churn: put a new name (us)");
    for (const Result &r : results) std::printf(" %12.3f", r.churn.put_us);
    std::printf("\n%-34s", "  RAM unordered_map: erase, insert");
    for (const Result &r : results) std::printf("  %5.3f,%5.3f", r.ram_hash.remove_us, r.ram_hash.put_us);
    std::printf("\n%-34s", "  RAM std::map: erase, insert");
    for (const Result &r : results) std::printf("  %5.3f,%5.3f", r.ram_map.remove_us, r.ram_map.put_us);
    std::printf("\n%-34s", "iteration (M entries/s)");
    for (const Result &r : results) std::printf(" %12.2f", r.iter_per_s / 1e6);
    std::printf("\n\n");

    // The target: a get within 2 us at 100k names (the largest size run when
    // quick).  Printed, never asserted.
    const Result *at = &results.back();
    for (const Result &r : results)
        if (r.size == 100000) at = &r;
    std::printf("verdict: get of an existing name at %s names takes %.3f us; target 2 us: %s%s\n", human(at->size),
                at->get_us, at->get_us <= 2.0 ? "MET" : "NOT MET", at->size == 100000 ? "" : " (not the 100k size)");
    const Result &lo = results.front(), &hi = results.back();
    auto grows = [](const char *what, const Result::Churn &a, const Result::Churn &b) {
        std::printf("  %-22s remove %.3f -> %.3f us (%.2fx, %+.3f); put %.3f -> %.3f us (%.2fx, %+.3f)\n", what,
                    a.remove_us, b.remove_us, b.remove_us / a.remove_us, b.remove_us - a.remove_us, a.put_us, b.put_us,
                    b.put_us / a.put_us, b.put_us - a.put_us);
    };
    std::printf("scaling from %s to %s names (the same churn, the same names):\n", human(lo.size), human(hi.size));
    grows("catalog", lo.churn, hi.churn);
    grows("RAM std::unordered_map", lo.ram_hash, hi.ram_hash);
    grows("RAM std::map", lo.ram_map, hi.ram_map);
    return 0;
}
