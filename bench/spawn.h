// spawn.h - runs one worker process (worker.cc) and parses what it prints.
//
// SPDX-License-Identifier: GPL-2.0-or-later
#ifndef FMRT_BENCH_SPAWN_H
#define FMRT_BENCH_SPAWN_H

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace bench {

// One "result" line: a timed figure of one worker run.
struct Result {
    uint64_t ops = 0;
    double seconds = 0;
    uint64_t reached = 0; // realloc: final block size
    bool capped = false;  // realloc: stopped by the time cap
    double rate() const { return seconds > 0 ? ops / seconds : 0; }
};

struct WorkerOutput {
    bool ok = false;
    std::string failure; // why not ok: crash, exit status
    double wall = 0;     // seconds from start to exit
    double cpu = 0;      // user + system seconds the worker used
    std::map<std::string, Result> results;     // by name: pair, warm, cold, realloc
    std::map<std::string, std::string> info;   // --info: key -> value
};

// Runs `exe args...` to completion, its stdout captured and parsed, its
// stderr passed through.  With `flushing_off`, the child gets
// PMEM_IS_PMEM_FORCE=1 and PMEM_NO_FLUSH=1.  When `heap_dir` is not empty,
// removes the heap file a crashed worker may leave there
// (<heap_dir>/fmrt-bench-<tag>-<pid>.heap, see worker.cc).
WorkerOutput run_worker(const std::string &exe, const std::vector<std::string> &args, bool flushing_off,
                        const std::string &heap_dir, const std::string &tag);

} // namespace bench

#endif // FMRT_BENCH_SPAWN_H
