// adapters.h - the allocator adapter interface that workloads.h is written
// against, and the choice of adapter for this worker executable.  Each
// bench-worker-<name> is worker.cc compiled with one BENCH_ALLOCATOR_* macro
// (set in bench/meson.build), so every worker process holds one allocator.
//
// An adapter A provides:
//   using Handle;                        what an allocation returns (a pointer,
//                                        or PMDK's PMEMoid)
//   static bool is_null(Handle);
//   bool open(const HeapSpec &, std::string *err);   before any workload;
//   bool close(std::string *err);                    after; never timed
//   Handle alloc(size_t n);              n bytes, null handle on failure
//   bool free(Handle h, size_t n);       n as allocated (for sized APIs)
//   void *ptr(Handle h);                 the address to read and write
//   bool grow(Handle *h, size_t old_n, size_t new_n);  realloc, keeps contents
//   static void describe(Info *);        name, version, library, notes
//
// SPDX-License-Identifier: GPL-2.0-or-later
#ifndef FMRT_BENCH_ADAPTERS_H
#define FMRT_BENCH_ADAPTERS_H

#include <string>
#include <utility>
#include <vector>

namespace bench {
// key=value lines printed by `bench-worker-<name> --info`.
using Info = std::vector<std::pair<std::string, std::string>>;
// The file that defines the code at `addr` (e.g. which malloc we really got).
std::string library_of(const void *addr);
} // namespace bench

#if defined(BENCH_ALLOCATOR_MALLOC) // glibc, or jemalloc when linked with it
#include "adapter_malloc.h"
namespace bench { using Adapter = MallocAdapter; }
#elif defined(BENCH_ALLOCATOR_MIMALLOC)
#include "adapter_mimalloc.h"
namespace bench { using Adapter = MimallocAdapter; }
#elif defined(BENCH_ALLOCATOR_FMRT)
#include "adapter_fmrt.h"
namespace bench { using Adapter = FmrtAdapter; }
#elif defined(BENCH_ALLOCATOR_BOOST)
#include "adapter_boost.h"
namespace bench { using Adapter = BoostAdapter; }
#elif defined(BENCH_ALLOCATOR_PMDK)
#include "adapter_pmdk.h"
namespace bench { using Adapter = PmdkAdapter; }
#else
#error "compile worker.cc with one BENCH_ALLOCATOR_* macro"
#endif

#endif // FMRT_BENCH_ADAPTERS_H
