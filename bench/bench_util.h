// bench_util.h - small helpers shared by the benchmark worker and driver:
// the deterministic random numbers, the 8-byte "stamp" written into every
// object, the compiler barrier that keeps allocations from being optimised
// away, the clock, a two-thread barrier, and the workload parameters that
// the driver passes to a worker.
//
// SPDX-License-Identifier: GPL-2.0-or-later
#ifndef FMRT_BENCH_UTIL_H
#define FMRT_BENCH_UTIL_H

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>

namespace bench {

using Clock = std::chrono::steady_clock;

inline double seconds_between(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

// splitmix64: a fast, well-mixed generator; the same seed gives the same
// sizes and the same free order for every allocator.
class Rng {
public:
    explicit Rng(uint64_t seed) : state_(seed) {}
    uint64_t next() {
        uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    // Uniform in [lo, hi] (the tiny modulo bias does not matter here).
    uint64_t between(uint64_t lo, uint64_t hi) { return lo + next() % (hi - lo + 1); }

private:
    uint64_t state_;
};

// The value written into object `i` of a run: distinct per object (an odd
// multiplier is a bijection) and per seed, so stale or overlapping memory is
// noticed.  Cheap on purpose: it is computed inside the timed loops.
inline uint64_t stamp(uint64_t seed, uint64_t i) {
    return ((i + 1) * 0x2545f4914f6cdd1dull) ^ seed;
}

inline void put_stamp(void *at, uint64_t v) { std::memcpy(at, &v, sizeof v); }

inline uint64_t get_stamp(const void *at) {
    uint64_t v;
    std::memcpy(&v, at, sizeof v);
    return v;
}

// Tells the compiler that `p` and the memory behind it are used, so that a
// malloc/free pair is not removed as dead code.
inline void escape(const void *p) { asm volatile("" : : "g"(p) : "memory"); }

// A workload that finds a wrong result (a NULL from an allocation that must
// succeed, a stamp that does not read back, a failed free) stops the worker
// process at once with exit status 1; the driver reports the failure.
[[noreturn]] inline void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::fputs("bench worker: ", stderr);
    std::vfprintf(stderr, fmt, ap);
    std::fputc('\n', stderr);
    va_end(ap);
    std::fflush(stdout);
    std::_Exit(1);
}

// A reusable barrier for a fixed number of threads (C++17 has none).
class Barrier {
public:
    explicit Barrier(unsigned n) : n_(n) {}
    void wait() {
        std::unique_lock<std::mutex> lock(mu_);
        unsigned gen = generation_;
        if (++waiting_ == n_) {
            waiting_ = 0;
            ++generation_;
            cv_.notify_all();
        } else {
            cv_.wait(lock, [&] { return gen != generation_; });
        }
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    unsigned n_;
    unsigned waiting_ = 0;
    unsigned generation_ = 0;
};

// Where and how big a persistent heap must be for one workload run.
struct HeapSpec {
    std::string path;      // the heap file (created fresh, removed at close)
    uint64_t capacity = 0; // bytes the workload needs at most (pre-sized peers)
};

// Parameters of the workloads (the driver passes them on the command line).
constexpr uint64_t kPairSize = 64;           // (a) malloc(64)+free
constexpr uint32_t kBatchMinSize = 16;       // (b),(c),(e) object sizes
constexpr uint32_t kBatchMaxSize = 512;
constexpr uint64_t kReallocStep = 8 << 10;   // (d) growth step, 8 KiB
constexpr uint64_t kReallocStampEvery = 64 * kReallocStep; // (d) a stamp every 512 KiB
constexpr uint64_t kSeed = 0x666d72742d62656eull; // "fmrt-ben"

} // namespace bench

#endif // FMRT_BENCH_UTIL_H
