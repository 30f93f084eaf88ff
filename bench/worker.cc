// worker.cc - one benchmark worker process: runs one workload on the one
// allocator this executable was built for (adapters.h) and prints its
// results as lines for fmrt-bench (driver.cc) to collect:
//
//   info <key>=<value>                     (--info: what allocator this is)
//   result <name> ops=<n> seconds=<s> [reached=<bytes> capped=<0|1>]
//
// Usage: bench-worker-<name> --info
//        bench-worker-<name> --workload=pair    --count=N           --dir=DIR
//        bench-worker-<name> --workload=batch   --count=N --threads=T --dir=DIR
//        bench-worker-<name> --workload=realloc --limit=BYTES --cap=SECONDS --dir=DIR
// Exit status 0 on success, 1 when a workload failed or gave a wrong result,
// 2 on a usage error.
//
// SPDX-License-Identifier: GPL-2.0-or-later
#include "adapters.h"
#include "workloads.h"

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <getopt.h>
#include <string>
#include <unistd.h>

namespace bench {

std::string library_of(const void *addr) {
    Dl_info info;
    if (dladdr(addr, &info) == 0 || info.dli_fname == nullptr) return "?";
    char real[PATH_MAX];
    if (realpath(info.dli_fname, real) != nullptr) return real;
    return info.dli_fname;
}

namespace {

void print_result(const char *name, const Timed &t) {
    std::printf("result %s ops=%llu seconds=%.9g\n", name, (unsigned long long)t.ops, t.seconds);
}

std::string info_value(const Info &info, const char *key) {
    for (const auto &kv : info)
        if (kv.first == key) return kv.second;
    return "";
}

// Refuses to measure the wrong allocator (e.g. glibc's malloc in the jemalloc
// worker because the linker dropped the library).
void check_allocator(const Info &info) {
    const std::string expect = info_value(info, "expect_library"), lib = info_value(info, "library");
    if (!expect.empty() && lib.find(expect) == std::string::npos)
        die("expected the allocator from %s, but it comes from %s", expect.c_str(), lib.c_str());
}

// Bytes a pre-sized heap (Boost, PMDK) needs for a workload, with room for
// per-object headers, size-class rounding and (realloc) old plus new block.
uint64_t capacity_for(const std::string &workload, uint64_t count, unsigned threads, uint64_t limit) {
    const uint64_t slack = 256ull << 20;
    if (workload == "pair") return 64ull << 20;
    if (workload == "batch") return count * threads * 1024 + slack;
    return 2 * limit + slack; // realloc
}

[[noreturn]] void usage(const char *argv0) {
    std::fprintf(stderr,
                 "usage: %s --info\n"
                 "       %s --workload=pair|batch|realloc [--count=N] [--threads=T]\n"
                 "          [--limit=BYTES] [--cap=SECONDS] --dir=DIR\n"
                 "(normally started by fmrt-bench)\n",
                 argv0, argv0);
    std::exit(2);
}

uint64_t parse_u64(const char *s, const char *what) {
    char *end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0') die("bad %s: '%s'", what, s);
    return v;
}

} // namespace
} // namespace bench

int main(int argc, char **argv) {
    using namespace bench;

#ifdef BENCH_ALLOCATOR_PMDK
    // Flushing off, as in the peer figures of LESSONS.md.  libpmem reads
    // PMEM_NO_FLUSH when it loads, so a worker started without it re-executes
    // itself with both variables set.
    if (!getenv("PMEM_NO_FLUSH") || strcmp(getenv("PMEM_NO_FLUSH"), "1") != 0 ||
        !getenv("PMEM_IS_PMEM_FORCE") || strcmp(getenv("PMEM_IS_PMEM_FORCE"), "1") != 0) {
        setenv("PMEM_NO_FLUSH", "1", 1);
        setenv("PMEM_IS_PMEM_FORCE", "1", 1);
        execv("/proc/self/exe", argv);
        die("re-exec with flushing off failed: %s", strerror(errno));
    }
#endif

    bool info_only = false;
    std::string workload, dir;
    uint64_t count = 0, limit = 0;
    unsigned threads = 1;
    double cap = 0;

    static const struct option longopts[] = {
        {"info", no_argument, nullptr, 'i'},        {"workload", required_argument, nullptr, 'w'},
        {"count", required_argument, nullptr, 'n'}, {"threads", required_argument, nullptr, 't'},
        {"limit", required_argument, nullptr, 'l'}, {"cap", required_argument, nullptr, 'c'},
        {"dir", required_argument, nullptr, 'd'},   {"help", no_argument, nullptr, 'h'},
        {nullptr, 0, nullptr, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, nullptr)) != -1) {
        switch (c) {
        case 'i': info_only = true; break;
        case 'w': workload = optarg; break;
        case 'n': count = parse_u64(optarg, "--count"); break;
        case 't': threads = static_cast<unsigned>(parse_u64(optarg, "--threads")); break;
        case 'l': limit = parse_u64(optarg, "--limit"); break;
        case 'c': cap = std::strtod(optarg, nullptr); break;
        case 'd': dir = optarg; break;
        default: usage(argv[0]);
        }
    }
    if (optind != argc) usage(argv[0]);

    Info info;
    Adapter::describe(&info);
    check_allocator(info);
    if (info_only) {
        for (const auto &kv : info) std::printf("info %s=%s\n", kv.first.c_str(), kv.second.c_str());
        return 0;
    }
    if (dir.empty() || threads < 1 || threads > 64) usage(argv[0]);
    if ((workload == "pair" || workload == "batch") && count == 0) usage(argv[0]);
    if (workload == "realloc" && limit < 2 * kReallocStep) usage(argv[0]);
    if (workload != "pair" && workload != "batch" && workload != "realloc") usage(argv[0]);

    HeapSpec spec;
    // The name the driver uses to remove the file a crashed worker leaves.
    spec.path = dir + "/fmrt-bench-" + info_value(info, "allocator") + "-" + std::to_string(getpid()) + ".heap";
    spec.capacity = capacity_for(workload, count, threads, limit);

    Adapter a;
    std::string err;
    if (!a.open(spec, &err)) die("%s", err.c_str());

    if (workload == "pair") {
        print_result("pair", run_pair(a, count));
    } else if (workload == "batch") {
        const BatchResult r = run_batch(a, count, threads);
        print_result("cold", r.cold);
        print_result("warm", r.warm);
    } else {
        const ReallocResult r = run_realloc(a, limit, cap);
        std::printf("result realloc ops=%llu seconds=%.9g reached=%llu capped=%d\n",
                    (unsigned long long)r.timed.ops, r.timed.seconds, (unsigned long long)r.reached,
                    r.capped ? 1 : 0);
    }

    if (!a.close(&err)) die("%s", err.c_str());
    return std::fflush(stdout) == 0 ? 0 : 1;
}
