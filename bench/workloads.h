// workloads.h - the benchmark workloads, written once as templates over an
// allocator adapter (see adapters.h for the interface an adapter provides).
// Every allocator runs exactly this code.
//
//   run_pair     (a) malloc(64) + write 1 byte + free, n times.
//   run_batch    (b),(c),(e) n objects of random size 16-512 B per thread:
//                allocate all and write an 8-byte stamp at the start of each,
//                then free all in shuffled order; two rounds, the first on a
//                fresh heap (cold), the second reusing it (warm).
//   run_realloc  (d) one block grown by 8 KiB steps up to a limit.
//
// One "operation" is one allocation plus its matching free (batch, pair) or
// one realloc call (realloc).  Results are checked outside the timed parts:
// a wrong result stops the worker (bench::die), it is never just timed.
//
// SPDX-License-Identifier: GPL-2.0-or-later
#ifndef FMRT_BENCH_WORKLOADS_H
#define FMRT_BENCH_WORKLOADS_H

#include "bench_util.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

namespace bench {

struct Timed {
    uint64_t ops = 0;
    double seconds = 0;
};

// ---------------------------------------------------------------- (a) pair

template <class A>
Timed run_pair(A &a, uint64_t n) {
    auto one = [&a](uint64_t i) {
        typename A::Handle h = a.alloc(kPairSize);
        if (A::is_null(h)) die("pair: allocation %llu of 64 bytes failed", (unsigned long long)i);
        auto *p = static_cast<unsigned char *>(a.ptr(h));
        p[0] = static_cast<unsigned char>(i);
        escape(p);
        if (!a.free(h, kPairSize)) die("pair: free %llu failed", (unsigned long long)i);
    };
    // Warm the code paths (and the allocator's caches) before timing.
    const uint64_t warm = std::min<uint64_t>(n / 10 + 1, 1000000);
    for (uint64_t i = 0; i < warm; ++i) one(i);

    const Clock::time_point t0 = Clock::now();
    for (uint64_t i = 0; i < n; ++i) one(i);
    const Clock::time_point t1 = Clock::now();
    return Timed{n, seconds_between(t0, t1)};
}

// ------------------------------------------------------ (b),(c),(e) batch

// The sizes and free order of one thread's round, made before timing.
struct BatchPlan {
    uint64_t seed = 0;
    std::vector<uint32_t> sizes; // object i has sizes[i] bytes
    std::vector<uint32_t> order; // free order: a permutation of 0..n-1
};

inline BatchPlan make_plan(uint64_t n, uint64_t seed) {
    BatchPlan plan;
    plan.seed = seed;
    Rng rng(seed);
    plan.sizes.resize(n);
    for (auto &s : plan.sizes) s = static_cast<uint32_t>(rng.between(kBatchMinSize, kBatchMaxSize));
    plan.order.resize(n);
    for (uint64_t i = 0; i < n; ++i) plan.order[i] = static_cast<uint32_t>(i);
    for (uint64_t i = n; i > 1; --i) std::swap(plan.order[i - 1], plan.order[rng.next() % i]); // Fisher-Yates
    return plan;
}

struct BatchResult {
    Timed cold; // round 1, on a fresh heap (fresh process)
    Timed warm; // round 2, on the heap round 1 left behind
};

namespace detail {

// Start and end of one timed phase on each thread.
struct PhaseTimes {
    Clock::time_point start, end;
};

// The wall time of a phase run by all threads at once: first start to last end.
inline double phase_wall(const std::vector<PhaseTimes> &t) {
    Clock::time_point s = t[0].start, e = t[0].end;
    for (const auto &x : t) {
        s = std::min(s, x.start);
        e = std::max(e, x.end);
    }
    return seconds_between(s, e);
}

// Reads back every object: the start stamp written in the timed loop, then
// (to prove each object really has its size and overlaps nothing) writes and
// re-reads a stamp in its last 8 bytes.  Never timed.
template <class A>
void verify_batch(A &a, const BatchPlan &plan, const std::vector<typename A::Handle> &hs) {
    const uint64_t n = plan.sizes.size();
    for (uint64_t i = 0; i < n; ++i) {
        auto *p = static_cast<unsigned char *>(a.ptr(hs[i]));
        if (get_stamp(p) != stamp(plan.seed, i))
            die("batch: object %llu (%u bytes) lost its stamp", (unsigned long long)i, plan.sizes[i]);
        put_stamp(p + plan.sizes[i] - 8, ~stamp(plan.seed, i));
    }
    for (uint64_t i = 0; i < n; ++i) {
        auto *p = static_cast<unsigned char *>(a.ptr(hs[i]));
        if (get_stamp(p) != stamp(plan.seed, i) ||
            get_stamp(p + plan.sizes[i] - 8) != ~stamp(plan.seed, i))
            die("batch: object %llu (%u bytes) overlaps another object", (unsigned long long)i,
                plan.sizes[i]);
    }
}

} // namespace detail

// n objects per thread, `threads` threads on one shared heap.  Each thread
// has its own objects, sizes and free order; the threads start every timed
// phase together (barrier) and a phase lasts until the last one finishes.
template <class A>
BatchResult run_batch(A &a, uint64_t n, unsigned threads) {
    constexpr int kRounds = 2;
    using Handle = typename A::Handle;

    // Plans and handle arrays are made (and their pages touched) up front.
    std::vector<std::vector<BatchPlan>> plans(threads);
    std::vector<std::vector<Handle>> handles(threads);
    for (unsigned t = 0; t < threads; ++t) {
        for (int r = 0; r < kRounds; ++r) plans[t].push_back(make_plan(n, kSeed + 1000 * t + r));
        handles[t].assign(n, Handle{});
    }
    std::vector<std::vector<detail::PhaseTimes>> alloc_t(kRounds, std::vector<detail::PhaseTimes>(threads));
    std::vector<std::vector<detail::PhaseTimes>> free_t(kRounds, std::vector<detail::PhaseTimes>(threads));
    Barrier barrier(threads);

    auto body = [&](unsigned t) {
        std::vector<Handle> &hs = handles[t];
        for (int r = 0; r < kRounds; ++r) {
            const BatchPlan &plan = plans[t][r];
            const uint32_t *sizes = plan.sizes.data();

            barrier.wait();
            alloc_t[r][t].start = Clock::now();
            for (uint64_t i = 0; i < n; ++i) {
                Handle h = a.alloc(sizes[i]);
                if (A::is_null(h))
                    die("batch: allocation %llu of %u bytes failed", (unsigned long long)i, sizes[i]);
                put_stamp(a.ptr(h), stamp(plan.seed, i));
                hs[i] = h;
            }
            alloc_t[r][t].end = Clock::now();

            barrier.wait();
            detail::verify_batch(a, plan, hs);
            barrier.wait();

            free_t[r][t].start = Clock::now();
            for (uint64_t k = 0; k < n; ++k) {
                const uint32_t i = plan.order[k];
                if (!a.free(hs[i], sizes[i])) die("batch: free of object %u failed", i);
            }
            free_t[r][t].end = Clock::now();
        }
    };

    if (threads == 1) {
        body(0);
    } else {
        std::vector<std::thread> pool;
        for (unsigned t = 0; t < threads; ++t) pool.emplace_back(body, t);
        for (auto &th : pool) th.join();
    }

    auto round = [&](int r) {
        return Timed{n * threads, detail::phase_wall(alloc_t[r]) + detail::phase_wall(free_t[r])};
    };
    return BatchResult{round(0), round(1)};
}

// ---------------------------------------------------------- (d) realloc

struct ReallocResult {
    Timed timed;
    uint64_t reached = 0; // final block size, bytes
    bool capped = false;  // stopped by the time cap before `limit`
};

// Grows one block from 8 KiB to `limit` bytes in 8 KiB steps.  Every 64th
// step (every 512 KiB) a stamp is written at the start of the new part, so a
// block that moves must carry its contents; stamping sparsely keeps the page
// faults of first writes (the same for every allocator) from drowning the
// cost of the realloc calls themselves.  Stops early when `cap_seconds`
// (> 0) have passed: allocators that copy the whole block on growth are
// quadratic here.
template <class A>
ReallocResult run_realloc(A &a, uint64_t limit, double cap_seconds) {
    using Handle = typename A::Handle;
    auto grow_to = [&a](Handle *h, uint64_t from, uint64_t to) {
        if (!a.grow(h, from, to))
            die("realloc: growth from %llu to %llu bytes failed", (unsigned long long)from,
                (unsigned long long)to);
    };

    // Warm the code paths: a small block grown 32 steps, then freed.
    {
        Handle h = a.alloc(kReallocStep);
        if (A::is_null(h)) die("realloc: warm-up allocation failed");
        for (uint64_t s = kReallocStep; s < 32 * kReallocStep; s += kReallocStep) grow_to(&h, s, s + kReallocStep);
        if (!a.free(h, 32 * kReallocStep)) die("realloc: warm-up free failed");
    }

    Handle h = a.alloc(kReallocStep);
    if (A::is_null(h)) die("realloc: first allocation failed");
    put_stamp(a.ptr(h), stamp(kSeed, 0));

    ReallocResult res;
    uint64_t size = kReallocStep;
    const Clock::time_point t0 = Clock::now();
    Clock::time_point t1 = t0;
    while (size < limit) {
        grow_to(&h, size, size + kReallocStep);
        if (size % kReallocStampEvery == 0)
            put_stamp(static_cast<unsigned char *>(a.ptr(h)) + size, stamp(kSeed, size / kReallocStep));
        size += kReallocStep;
        ++res.timed.ops;
        if ((res.timed.ops & 15) == 0 && cap_seconds > 0) {
            t1 = Clock::now();
            if (seconds_between(t0, t1) >= cap_seconds) {
                res.capped = size < limit;
                break;
            }
        }
    }
    if (!res.capped) t1 = Clock::now();
    res.timed.seconds = seconds_between(t0, t1);
    res.reached = size;

    const auto *p = static_cast<const unsigned char *>(a.ptr(h));
    for (uint64_t off = 0; off < size; off += kReallocStampEvery)
        if (get_stamp(p + off) != stamp(kSeed, off / kReallocStep))
            die("realloc: the stamp at offset %llu was lost", (unsigned long long)off);
    if (!a.free(h, size)) die("realloc: final free failed");
    return res;
}

} // namespace bench

#endif // FMRT_BENCH_WORKLOADS_H
