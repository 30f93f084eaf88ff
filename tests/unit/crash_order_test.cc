// Crash ordering of the page allocator and the heap (the comment at the top
// of pages.h): a process killed between any two stores must leave a heap
// whose walk is valid, holding each span either as it was or as it became.
//
// Two ways to kill:
//  - exhaustively, at every store: a child process runs one operation with
//    the heap's mapping write-protected; each store faults, is counted, and
//    is let through by single-stepping the one instruction (x86-64 trap
//    flag).  The child _exits before store k, for k = 0, 1, 2, ... until the
//    operation completes, and the parent reopens each file it left behind;
//  - at random moments: a child loops over random operations and the parent
//    SIGKILLs it after 1-20 ms (FMRT_CRASH_ITERATIONS times; the slow suite
//    runs 1000).
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "fmrt.h"
#include "format.h"
#include "heap.h"
#include "pages.h"
#include "region.h"
#include "unit_util.h"

namespace {

using fmrt::Heap;
using fmrt::kHeapStart;
using fmrt::kPageSize;
using fmrt::PageAllocator;
using fmrt::Region;
using fmrt::SpanHeader;
using fmrt::SpanKind;
using fmrt_unit::MiB;
using fmrt_unit::TempDir;
using fmrt_unit::Walk;
using fmrt_unit::WalkedSpan;

constexpr int kChildCompleted = 0;
constexpr int kChildStopped = 42;

// ---- Store tracer (child side) ---------------------------------------------

#if defined(__x86_64__) && defined(__linux__)
constexpr bool kCanTrace = true;

namespace tracer {

uintptr_t g_lo = 0, g_hi = 0;
long g_limit = -1;  // stores allowed; -1: no limit
long g_stores = 0;
uintptr_t g_open[16];
int g_nopen = 0;

void on_segv(int, siginfo_t *si, void *ctx) {
    const uintptr_t a = reinterpret_cast<uintptr_t>(si->si_addr);
    if (a < g_lo || a >= g_hi || g_nopen >= 16) {
        ::signal(SIGSEGV, SIG_DFL);  // a genuine fault: crash on return
        return;
    }
    if (g_nopen == 0) {  // the first page this instruction touches
        if (g_stores == g_limit) ::_exit(kChildStopped);
        ++g_stores;
    }
    const uintptr_t page = a & ~uintptr_t{4095};
    ::mprotect(reinterpret_cast<void *>(page), 4096, PROT_READ | PROT_WRITE);
    g_open[g_nopen++] = page;
    static_cast<ucontext_t *>(ctx)->uc_mcontext.gregs[REG_EFL] |= 0x100;  // trap after it
}

void on_trap(int, siginfo_t *, void *ctx) {
    for (int i = 0; i < g_nopen; ++i) ::mprotect(reinterpret_cast<void *>(g_open[i]), 4096, PROT_READ);
    g_nopen = 0;
    static_cast<ucontext_t *>(ctx)->uc_mcontext.gregs[REG_EFL] &= ~0x100;
}

// Write-protects [base, base+len) and lets `limit` stores into it through.
void start(void *base, uint64_t len, long limit) {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_flags = SA_SIGINFO;
    sa.sa_sigaction = on_segv;
    ::sigaction(SIGSEGV, &sa, nullptr);
    sa.sa_sigaction = on_trap;
    ::sigaction(SIGTRAP, &sa, nullptr);
    g_lo = reinterpret_cast<uintptr_t>(base);
    g_hi = g_lo + len;
    g_limit = limit;
    g_stores = 0;
    ::mprotect(base, len, PROT_READ);
}

}  // namespace tracer
#else
constexpr bool kCanTrace = false;
namespace tracer {
long g_stores = 0;
void start(void *, uint64_t, long) {}
}  // namespace tracer
#endif

// ---- Scenarios -----------------------------------------------------------------

// The parent builds the heap with `setup`; the child then runs `op` on it,
// stopped before each store in turn.  `heap` scenarios load a Heap (runs
// and bitmaps checked), the others only a PageAllocator.
struct Scenario {
    std::string name;
    uint64_t initial = 1 * MiB, max = 64 * MiB;
    bool heap = false;
    std::function<void(PageAllocator &, Region &)> setup_pages;
    std::function<void(PageAllocator &, Region &)> op_pages;
    std::function<void(Heap &, Region &)> setup_heap;
    std::function<void(Heap &, Region &)> prepare_heap;  // in the child, before tracing
    std::function<void(Heap &, Region &)> op_heap;
};

// What a child's prepare step hands to its operation.
std::vector<uint64_t> g_offs;

const SpanHeader kLarge{SpanKind::kLarge, 0, 0, 0};

uint64_t must_alloc(PageAllocator &pa, uint64_t pages, uint64_t align = 0, uint64_t skew = 0) {
    uint64_t off = 0;
    bool z = false;
    if (pa.alloc(pages, align, skew, kLarge, nullptr, &off, &z) != FMRT_OK) std::abort();
    return off;
}

uint64_t span_at(Region &r, uint64_t index) {
    Walk w = fmrt_unit::walk_region(r);
    return w.spans.at(index).off;
}

std::vector<Scenario> page_scenarios() {
    std::vector<Scenario> v;
    auto add = [&](std::string name, std::function<void(PageAllocator &, Region &)> setup,
                   std::function<void(PageAllocator &, Region &)> op) {
        Scenario s;
        s.name = std::move(name);
        s.setup_pages = std::move(setup);
        s.op_pages = std::move(op);
        v.push_back(std::move(s));
    };
    const uint64_t all = (1 * MiB - kHeapStart) / kPageSize;
    add("alloc splitting a zeroed span into prefix and suffix",
        [](PageAllocator &pa, Region &) { must_alloc(pa, 2); },
        [](PageAllocator &pa, Region &) { must_alloc(pa, 3, 65536, kPageSize); });
    add("alloc splitting a freed span into prefix and suffix",
        [](PageAllocator &pa, Region &) {
            must_alloc(pa, 2);
            uint64_t b = must_alloc(pa, 40);
            must_alloc(pa, 1);
            pa.free(b);
        },
        [](PageAllocator &pa, Region &) { must_alloc(pa, 3, 65536, 0); });
    add("alloc taking a freed span exactly",
        [](PageAllocator &pa, Region &) {
            must_alloc(pa, 2);
            uint64_t b = must_alloc(pa, 5);
            must_alloc(pa, 1);
            pa.free(b);
        },
        [](PageAllocator &pa, Region &) { must_alloc(pa, 5); });
    add("alloc growing the heap and joining a zeroed free tail",
        [](PageAllocator &pa, Region &) { must_alloc(pa, 200); },
        [all](PageAllocator &pa, Region &) { must_alloc(pa, all - 200 + 30); });
    add("alloc growing the heap and joining a freed tail",
        [](PageAllocator &pa, Region &) {
            must_alloc(pa, 200);
            uint64_t t = must_alloc(pa, 54);
            pa.free(t);
        },
        [all](PageAllocator &pa, Region &) { must_alloc(pa, all - 200 + 30); });
    add("alloc growing a heap with no free tail",
        [all](PageAllocator &pa, Region &) { must_alloc(pa, all); },
        [](PageAllocator &pa, Region &) { must_alloc(pa, 10, 65536, kPageSize); });
    add("free with both neighbours free",
        [](PageAllocator &pa, Region &) {
            uint64_t a = must_alloc(pa, 2);
            must_alloc(pa, 3);
            uint64_t c = must_alloc(pa, 4);
            must_alloc(pa, 1);
            pa.free(a);
            pa.free(c);
        },
        [](PageAllocator &pa, Region &r) { pa.free(span_at(r, 1)); });
    add("free with only the next span free",
        [](PageAllocator &pa, Region &) {
            must_alloc(pa, 2);
            must_alloc(pa, 3);
            uint64_t c = must_alloc(pa, 4);
            must_alloc(pa, 1);
            pa.free(c);
        },
        [](PageAllocator &pa, Region &r) { pa.free(span_at(r, 1)); });
    add("free with only the previous span free",
        [](PageAllocator &pa, Region &) {
            uint64_t a = must_alloc(pa, 2);
            must_alloc(pa, 3);
            must_alloc(pa, 4);
            pa.free(a);
        },
        [](PageAllocator &pa, Region &r) { pa.free(span_at(r, 1)); });
    add("free of the span before the zeroed tail",
        [](PageAllocator &pa, Region &) {
            must_alloc(pa, 2);
            must_alloc(pa, 3);
        },
        [](PageAllocator &pa, Region &r) { pa.free(span_at(r, 1)); });
    add("resize growing into a freed neighbour",
        [](PageAllocator &pa, Region &) {
            must_alloc(pa, 2);
            uint64_t b = must_alloc(pa, 5);
            must_alloc(pa, 1);
            pa.free(b);
        },
        [](PageAllocator &pa, Region &r) {
            bool zt;
            pa.resize(span_at(r, 0), 4, &zt);
        });
    add("resize growing into the zeroed tail",
        [](PageAllocator &pa, Region &) { must_alloc(pa, 2); },
        [](PageAllocator &pa, Region &r) {
            bool zt;
            pa.resize(span_at(r, 0), 5, &zt);
        });
    add("resize growing the heap with no free tail",
        [all](PageAllocator &pa, Region &) { must_alloc(pa, all); },
        [all](PageAllocator &pa, Region &r) {
            bool zt;
            pa.resize(span_at(r, 0), all + 10, &zt);
        });
    add("resize growing the heap past a short free tail",
        [all](PageAllocator &pa, Region &) { must_alloc(pa, all - 3); },
        [all](PageAllocator &pa, Region &r) {
            bool zt;
            pa.resize(span_at(r, 0), all + 10, &zt);
        });
    add("resize shrinking next to a free span",
        [](PageAllocator &pa, Region &) {
            must_alloc(pa, 10);
            uint64_t b = must_alloc(pa, 2);
            must_alloc(pa, 1);
            pa.free(b);
        },
        [](PageAllocator &pa, Region &r) {
            bool zt;
            pa.resize(span_at(r, 0), 3, &zt);
        });
    add("resize shrinking next to an allocated span",
        [](PageAllocator &pa, Region &) {
            must_alloc(pa, 10);
            must_alloc(pa, 1);
        },
        [](PageAllocator &pa, Region &r) {
            bool zt;
            pa.resize(span_at(r, 0), 3, &zt);
        });
    return v;
}

std::vector<Scenario> heap_scenarios() {
    std::vector<Scenario> v;
    auto add = [&](std::string name, std::function<void(Heap &, Region &)> setup,
                   std::function<void(Heap &, Region &)> op) {
        Scenario s;
        s.name = std::move(name);
        s.heap = true;
        s.setup_heap = std::move(setup);
        s.op_heap = std::move(op);
        v.push_back(std::move(s));
    };
    add("take_slots creating a run from zeroed pages",
        [](Heap &h, Region &) { h.alloc_large(10000, 0, false); },
        [](Heap &h, Region &) {
            uint64_t offs[20];
            uint32_t n = 0;
            h.take_slots(3, 20, offs, &n);
        });
    add("take_slots creating a run from freed pages",
        [](Heap &h, Region &r) {
            void *p = h.alloc_large(100 * 1024, 0, false);
            std::memset(p, 0xFF, 100 * 1024);
            h.alloc_large(10000, 0, false);
            h.free_large(r.offset(p) - kPageSize);
        },
        [](Heap &h, Region &) {
            uint64_t offs[70];
            uint32_t n = 0;
            h.take_slots(0, 70, offs, &n);
        });
    {
        // Two full runs of class 36 (20 KiB slots, 12 per run: few stores);
        // all their slots come back: the first run is kept empty, the
        // second is released to the page allocator.
        Scenario sc;
        sc.name = "return_slots emptying two runs and releasing the second";
        sc.heap = true;
        sc.setup_heap = [](Heap &h, Region &) {
            h.alloc_large(5000, 0, false);
            const uint32_t n = 2 * fmrt::run_layout(36).slots;
            std::vector<uint64_t> offs(n);
            uint32_t count = 0;
            if (h.take_slots(36, n, offs.data(), &count) != n) std::abort();
        };
        sc.prepare_heap = [](Heap &, Region &r) {
            // Every slot of the class-36 runs, as a cache would hold them.
            const fmrt::RunLayout &l = fmrt::run_layout(36);
            g_offs.clear();
            for (const WalkedSpan &sp : fmrt_unit::walk_region(r).spans) {
                if (sp.h.kind != SpanKind::kRun || sp.h.size_class != 36) continue;
                for (uint32_t i = 0; i < l.slots; ++i) g_offs.push_back(sp.off + l.data_offset + uint64_t{i} * l.slot_size);
            }
        };
        sc.op_heap = [](Heap &h, Region &) {
            h.return_slots(36, g_offs.data(), static_cast<uint32_t>(g_offs.size()), nullptr);
        };
        v.push_back(std::move(sc));
    }
    add("alloc_large aligned to 64 KiB",
        [](Heap &h, Region &) { h.alloc_large(5000, 0, false); },
        [](Heap &h, Region &) { h.alloc_large(300 * 1024, 65536, true); });
    add("resize_large growing in place",
        [](Heap &h, Region &) { h.alloc_large(100 * 1024, 0, false); },
        [](Heap &h, Region &r) { h.resize_large(span_at(r, 0), 300 * 1024); });
    add("resize_large shrinking in place",
        [](Heap &h, Region &) {
            h.alloc_large(500 * 1024, 0, false);
            h.alloc_large(5000, 0, false);
        },
        [](Heap &h, Region &r) { h.resize_large(span_at(r, 0), 130 * 1024); });
    add("free_large between free neighbours",
        [](Heap &h, Region &r) {
            void *a = h.alloc_large(10000, 0, false);
            h.alloc_large(20000, 0, false);
            void *c = h.alloc_large(30000, 0, false);
            h.alloc_large(1, 0, false);
            h.free_large(r.offset(a) - kPageSize);
            h.free_large(r.offset(c) - kPageSize);
        },
        [](Heap &h, Region &r) { h.free_large(span_at(r, 1)); });
    return v;
}

// ---- Running a scenario at every crash point ------------------------------------

// The allocated spans of a walk, by offset.
std::map<uint64_t, SpanHeader> allocated(const Walk &w) {
    std::map<uint64_t, SpanHeader> m;
    for (const WalkedSpan &s : w.spans) {
        if (s.h.kind != SpanKind::kFree) m[s.off] = s.h;
    }
    return m;
}

bool same_header(const SpanHeader &a, const SpanHeader &b) {
    return a.kind == b.kind && a.pages == b.pages && a.size_class == b.size_class;
}

// Runs the operation in a child on `path`, allowing `limit` stores (-1: all).
// Returns the child's exit code.
int run_child(const Scenario &s, const std::string &path, long limit) {
    pid_t pid = ::fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        std::unique_ptr<Region> r;
        if (fmrt_unit::open_region(&r, path, s.initial, s.max, false) != FMRT_OK) ::_exit(90);
        if (s.heap) {
            auto *h = new Heap(*r);
            if (h->load() != FMRT_OK) ::_exit(91);
            if (s.prepare_heap) s.prepare_heap(*h, *r);
            tracer::start(r->base(), r->reserved(), limit);
            s.op_heap(*h, *r);
        } else {
            auto *pa = new PageAllocator(*r);
            if (pa->load([](uint64_t, const SpanHeader &) { return FMRT_OK; }) != FMRT_OK) ::_exit(91);
            tracer::start(r->base(), r->reserved(), limit);
            s.op_pages(*pa, *r);
        }
        ::_exit(kChildCompleted);
    }
    return fmrt_unit::wait_child(pid);
}

struct CrashReport {
    long points = 0;             // crash points tried
    std::vector<std::string> bad_walks;   // invariant violations other than zero claims
    std::vector<std::string> bad_zeroes;  // free spans claiming zeros they do not hold
};

// Checks the file a child left behind.  `before`/`after`: allocated spans
// before the operation and after it completed.
void check_crash_state(const Scenario &s, const std::string &path, long k,
                       const std::map<uint64_t, SpanHeader> &before, const std::map<uint64_t, SpanHeader> &after,
                       const std::map<uint64_t, uint64_t> &tags, CrashReport *rep) {
    auto bad = [&](const std::string &why) {
        rep->bad_walks.push_back(s.name + ", stopped before store " + std::to_string(k + 1) + ": " + why);
    };
    std::unique_ptr<Region> r;
    if (fmrt_unit::open_region(&r, path, s.initial, s.max, false) != FMRT_OK) {
        bad(std::string("reopen failed: ") + fmrt::error_message());
        return;
    }
    std::unique_ptr<Heap> heap;
    std::unique_ptr<PageAllocator> pa;
    int rc;
    if (s.heap) {
        heap.reset(new Heap(*r));
        rc = heap->load();
        if (rc == FMRT_OK) heap->apply_load_fixes();
    } else {
        pa.reset(new PageAllocator(*r));
        rc = pa->load([](uint64_t, const SpanHeader &) { return FMRT_OK; });
        if (rc == FMRT_OK) pa->apply_load_fixes();
    }
    if (rc != FMRT_OK) {
        bad(std::string("load failed: ") + fmrt::error_message());
        return;
    }
    Walk w = fmrt_unit::walk_region(*r);
    if (!w.reached_end) return bad("walk: " + w.error);
    if (w.adjacent_free) bad("two free neighbours left after load");
    if (r->heap_end() > r->file_size()) bad("heap_end past the file size");
    std::map<uint64_t, SpanHeader> now = allocated(w);
    // Each span is as it was or as it became: spans in both states stay,
    // anything else comes from one of them.
    for (const auto &[off, h] : before) {
        auto a = after.find(off);
        if (a == after.end()) continue;
        auto n = now.find(off);
        if (n == now.end()) {
            bad("span at " + std::to_string(off) + " vanished");
        } else if (!same_header(n->second, h) && !same_header(n->second, a->second)) {
            bad("span at " + std::to_string(off) + " has " + std::to_string(n->second.pages) + " pages, neither " +
                std::to_string(h.pages) + " nor " + std::to_string(a->second.pages));
        }
    }
    for (const auto &[off, h] : now) {
        auto b = before.find(off);
        auto a = after.find(off);
        bool ok = (b != before.end() && same_header(b->second, h)) || (a != after.end() && same_header(a->second, h));
        if (!ok) bad("unexpected span at " + std::to_string(off) + " of " + std::to_string(h.pages) + " pages");
    }
    // A large span never records more bytes than it holds (verify: a
    // problem, not a crash state).
    for (const auto &[off, h] : now) {
        if (h.kind != SpanKind::kLarge || h.pages < 2) continue;
        uint64_t requested;
        std::memcpy(&requested, r->base() + off + 8, 8);
        if (requested > (uint64_t{h.pages} - 1) * kPageSize) {
            bad("large span at " + std::to_string(off) + " records " + std::to_string(requested) + " bytes in " +
                std::to_string(h.pages) + " pages");
        }
    }
    for (const auto &[off, tag] : tags) {
        if (now.count(off) == 0) continue;
        uint64_t got;
        std::memcpy(&got, r->base() + off + kPageSize - 16, 8);
        if (got != tag) bad("data of the span at " + std::to_string(off) + " changed");
    }
    // Every span claimed zeroed holds zeros after its header word.
    for (const WalkedSpan &sp : w.spans) {
        if (sp.h.kind == SpanKind::kFree && (sp.h.flags & fmrt::kSpanZeroed) &&
            !fmrt_unit::all_zero(r->base() + sp.off + 8, sp.h.pages * kPageSize - 8)) {
            size_t i = 8;
            while (r->base()[sp.off + i] == 0) ++i;
            rep->bad_zeroes.push_back(s.name + ", stopped before store " + std::to_string(k + 1) +
                                      ": free span at " + std::to_string(sp.off) + " (" + std::to_string(sp.h.pages) +
                                      " pages) is flagged zeroed but byte " + std::to_string(i) + " is not zero");
        }
    }
    // And the allocator still works.
    if (pa) {
        uint64_t off = 0;
        bool z = false;
        if (pa->alloc(1, 0, 0, kLarge, nullptr, &off, &z) != FMRT_OK) bad("allocation after reopen failed");
    }
}

// Runs `s` stopped before every store in turn.
CrashReport run_at_every_crash_point(const Scenario &s, TempDir &dir) {
    CrashReport rep;
    const std::string base = dir.file("base.heap"), work = dir.file("work.heap");
    ::unlink(base.c_str());
    std::map<uint64_t, uint64_t> tags;
    {
        std::unique_ptr<Region> r;
        if (fmrt_unit::open_region(&r, base, s.initial, s.max) != FMRT_OK) std::abort();
        if (s.heap) {
            Heap h(*r);
            if (h.load() != FMRT_OK) std::abort();
            s.setup_heap(h, *r);
        } else {
            PageAllocator pa(*r);
            if (pa.load([](uint64_t, const SpanHeader &) { return FMRT_OK; }) != FMRT_OK) std::abort();
            s.setup_pages(pa, *r);
        }
        // A tag near the end of every large span's first page, to see
        // that no crash point wrote over a bystander.
        Walk w = fmrt_unit::walk_region(*r);
        uint64_t t = 0x1234567890ABCDEFull;
        for (const WalkedSpan &sp : w.spans) {
            if (sp.h.kind != SpanKind::kLarge) continue;  // run slots get link words
            t = t * 6364136223846793005ull + 1442695040888963407ull;
            std::memcpy(r->base() + sp.off + kPageSize - 16, &t, 8);
            tags[sp.off] = t;
        }
    }
    const std::vector<uint8_t> pristine = fmrt_unit::read_file(base);
    std::map<uint64_t, SpanHeader> before, after;
    {
        std::unique_ptr<Region> r;
        if (fmrt_unit::open_region(&r, base, s.initial, s.max, false) != FMRT_OK) std::abort();
        before = allocated(fmrt_unit::walk_region(*r));
    }
    if (!fmrt_unit::write_file(work, pristine)) std::abort();
    int code = run_child(s, work, -1);
    if (code != kChildCompleted) {
        rep.bad_walks.push_back(s.name + ": the operation itself failed in the child (exit " + std::to_string(code) + ")");
        return rep;
    }
    {
        std::unique_ptr<Region> r;
        if (fmrt_unit::open_region(&r, work, s.initial, s.max, false) != FMRT_OK) std::abort();
        after = allocated(fmrt_unit::walk_region(*r));
    }
    // How many stores the operation makes: the smallest k at which a child
    // told to stop before store k + 1 completes instead.
    auto completes_at = [&](long k) {
        if (!fmrt_unit::write_file(work, pristine)) std::abort();
        return run_child(s, work, k) == kChildCompleted;
    };
    long lo = 0, hi = 1;
    while (!completes_at(hi) && hi < 1000000) {
        lo = hi;
        hi *= 2;
    }
    while (lo < hi) {
        long mid = (lo + hi) / 2;
        if (completes_at(mid)) hi = mid;
        else lo = mid + 1;
    }
    const long stores = hi;
    // Every crash point when there are few; otherwise the first and last 50
    // and 200 spread evenly between (operations with thousands of stores
    // are run initialisations: stamping a new run's slots before the run
    // is published).
    std::vector<long> points;
    for (long k = 0; k <= stores; ++k) {
        if (stores <= 300 || k < 50 || k > stores - 50 || (k - 50) % std::max<long>(1, (stores - 100) / 200) == 0) {
            points.push_back(k);
        }
    }
    for (long k : points) {
        if (!fmrt_unit::write_file(work, pristine)) std::abort();
        code = run_child(s, work, k);
        ++rep.points;
        if (code != kChildCompleted && code != kChildStopped) {
            rep.bad_walks.push_back(s.name + ": child died with " + std::to_string(code) + " at store " +
                                    std::to_string(k + 1));
            break;
        }
        check_crash_state(s, work, k, before, after, tags, &rep);
        if (code == kChildCompleted) break;
    }
    return rep;
}

std::string join(const std::vector<std::string> &v, size_t max = 12) {
    std::string out;
    for (size_t i = 0; i < v.size() && i < max; ++i) out += "  " + v[i] + "\n";
    if (v.size() > max) out += "  ... and " + std::to_string(v.size() - max) + " more\n";
    return out;
}

class CrashOrder : public ::testing::Test {
protected:
    void SetUp() override {
        if (!kCanTrace) GTEST_SKIP() << "store tracing needs x86-64 Linux";
    }
    TempDir dir_;
};

TEST_F(CrashOrder, TracerStopsTheChildBeforeTheChosenStore) {
    // The tool itself: an operation of five known stores, one per page,
    // stopped before store k + 1, leaves exactly the first k in the file.
    Scenario s;
    s.name = "five stores";
    s.setup_pages = [](PageAllocator &, Region &) {};
    s.op_pages = [](PageAllocator &, Region &r) {
        for (uint64_t i = 0; i < 5; ++i) {
            __atomic_store_n(reinterpret_cast<uint64_t *>(r.base() + kHeapStart + 8 + i * kPageSize), 0xA0 + i,
                             __ATOMIC_RELAXED);
        }
    };
    const std::string path = dir_.file("t.heap");
    {
        std::unique_ptr<Region> r;
        ASSERT_STATUS(fmrt_unit::open_region(&r, path, s.initial, s.max), FMRT_OK);
    }
    const std::vector<uint8_t> pristine = fmrt_unit::read_file(path);
    for (long k = 0; k <= 6; ++k) {
        ASSERT_TRUE(fmrt_unit::write_file(path, pristine));
        EXPECT_EQ(run_child(s, path, k), k < 5 ? kChildStopped : kChildCompleted) << "limit " << k;
        std::vector<uint8_t> bytes = fmrt_unit::read_file(path);
        for (uint64_t i = 0; i < 5; ++i) {
            uint64_t w;
            std::memcpy(&w, bytes.data() + kHeapStart + 8 + i * kPageSize, 8);
            EXPECT_EQ(w, static_cast<long>(i) < k ? 0xA0 + i : 0u) << "limit " << k << ", store " << i + 1;
        }
    }
}

TEST_F(CrashOrder, EveryCrashPointOfEveryPageOperationLeavesAValidWalk) {
    long points = 0;
    std::vector<std::string> bad;
    for (const Scenario &s : page_scenarios()) {
        CrashReport rep = run_at_every_crash_point(s, dir_);
        EXPECT_GE(rep.points, 2) << s.name << ": the operation made no store?";
        points += rep.points;
        bad.insert(bad.end(), rep.bad_walks.begin(), rep.bad_walks.end());
    }
    EXPECT_TRUE(bad.empty()) << bad.size() << " bad crash states of " << points << ":\n" << join(bad);
    EXPECT_GT(points, 40);
}

TEST_F(CrashOrder, EveryCrashPointOfEveryHeapOperationLeavesALoadableHeap) {
    long points = 0;
    std::vector<std::string> bad;
    for (const Scenario &s : heap_scenarios()) {
        CrashReport rep = run_at_every_crash_point(s, dir_);
        EXPECT_GE(rep.points, 2) << s.name << ": the operation made no store?";
        points += rep.points;
        bad.insert(bad.end(), rep.bad_walks.begin(), rep.bad_walks.end());
    }
    EXPECT_TRUE(bad.empty()) << bad.size() << " bad crash states of " << points << ":\n" << join(bad);
}

TEST_F(CrashOrder, NoCrashPointLeavesAFreeSpanClaimingZerosItDoesNotHold) {
    // format.h: kSpanZeroed means every byte after the header word is zero;
    // allocations from such a span skip their memset (calloc of large sizes,
    // run bitmaps).  pages.cc grow_locked takes care never to claim zeros
    // that are not there; every other operation must keep that too.
    std::vector<std::string> bad;
    for (const Scenario &s : page_scenarios()) {
        CrashReport rep = run_at_every_crash_point(s, dir_);
        bad.insert(bad.end(), rep.bad_zeroes.begin(), rep.bad_zeroes.end());
    }
    for (const Scenario &s : heap_scenarios()) {
        CrashReport rep = run_at_every_crash_point(s, dir_);
        bad.insert(bad.end(), rep.bad_zeroes.begin(), rep.bad_zeroes.end());
    }
    EXPECT_TRUE(bad.empty()) << bad.size() << " crash states with false zero claims:\n" << join(bad, 20);
}

TEST_F(CrashOrder, CallocAfterACrashInALargeMallocReturnsZeros) {
    // The user-visible side of a false zero claim: fmrt_calloc of a large
    // size skips its memset when the span it takes is flagged zeroed.
    TempDir mem(fmrt_unit::memory_dir());
    const std::string base = mem.file("base.heap"), work = mem.file("work.heap");
    fmrt_options o = FMRT_OPTIONS_INIT;
    o.max_size = 64 * MiB;
    fmrt_runtime *rt = nullptr;
    ASSERT_STATUS(fmrt_runtime_open(&rt, base.c_str(), &o), FMRT_OK);
    ASSERT_STATUS(fmrt_runtime_close(rt), FMRT_OK);
    const std::vector<uint8_t> pristine = fmrt_unit::read_file(base);
    std::vector<std::string> bad;
    long k = 0;
    for (; k < 200; ++k) {
        ASSERT_TRUE(fmrt_unit::write_file(work, pristine));
        pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            fmrt_runtime *c = nullptr;
            if (fmrt_runtime_open(&c, work.c_str(), nullptr) != FMRT_OK) ::_exit(90);
            fmrt_stats st = FMRT_STATS_INIT;
            fmrt_runtime_stats(&st, c);
            auto *b = static_cast<uint8_t *>(fmrt_offset_to_ptr(c, 1)) - 1;
            tracer::start(b, st.reserved_bytes, k);
            fmrt_malloc(c, 300 * 1024);
            ::_exit(kChildCompleted);
        }
        int code = fmrt_unit::wait_child(pid);
        ASSERT_TRUE(code == kChildCompleted || code == kChildStopped) << "exit " << code;
        ASSERT_STATUS(fmrt_runtime_open(&rt, work.c_str(), nullptr), FMRT_OK) << "stopped before store " << k + 1;
        const size_t n = 900 * 1024;
        auto *p = static_cast<uint8_t *>(fmrt_calloc(rt, 1, n));
        ASSERT_NE(p, nullptr);
        for (size_t i = 0; i < n; ++i) {
            if (p[i] != 0) {
                bad.push_back("stopped before store " + std::to_string(k + 1) + ": byte " + std::to_string(i) +
                              " of a fresh fmrt_calloc(" + std::to_string(n) + ") is " + std::to_string(p[i]));
                break;
            }
        }
        EXPECT_STATUS(fmrt_runtime_close(rt), FMRT_OK);
        if (code == kChildCompleted) break;
    }
    EXPECT_GE(k, 2) << "fmrt_malloc made at least two stores";
    EXPECT_TRUE(bad.empty()) << join(bad);
}

// ---- Random SIGKILL during a loop of operations ------------------------------------

// Child: random page operations on `path` forever (from the spans the file
// holds), telling the parent through `ready` once the heap is loaded.
[[noreturn]] void page_loop(const std::string &path, int ready, uint64_t seed) {
    std::unique_ptr<Region> r;
    if (fmrt_unit::open_region(&r, path, 1 * MiB, 32 * MiB, false) != FMRT_OK) ::_exit(90);
    PageAllocator pa(*r);
    std::vector<uint64_t> live;
    if (pa.load([&](uint64_t off, const SpanHeader &) {
            live.push_back(off);
            return FMRT_OK;
        }) != FMRT_OK) {
        ::_exit(91);
    }
    if (::write(ready, "r", 1) != 1) ::_exit(92);
    std::mt19937_64 rng(seed);
    for (;;) {
        uint64_t c = rng() % 100;
        if (live.empty() || (c < 45 && live.size() < 300)) {
            uint64_t pages = 1 + (rng() % 8 == 0 ? rng() % 300 : rng() % 8);
            uint64_t align = rng() % 5 == 0 ? uint64_t{65536} : 0;
            uint64_t off = 0;
            bool z = false;
            if (pa.alloc(pages, align, rng() % 2 ? kPageSize : 0, kLarge, nullptr, &off, &z) == FMRT_OK) {
                live.push_back(off);
            }
        } else if (c < 80) {
            size_t i = rng() % live.size();
            pa.free(live[i]);
            live[i] = live.back();
            live.pop_back();
        } else {
            bool zt;
            pa.resize(live[rng() % live.size()], 1 + rng() % 40, &zt);
        }
    }
}

// Child: random fmrt_* calls on `path` forever.
[[noreturn]] void runtime_loop(const std::string &path, int ready, uint64_t seed) {
    fmrt_options o = FMRT_OPTIONS_INIT;
    o.max_size = 256 * MiB;
    fmrt_runtime *rt = nullptr;
    if (fmrt_runtime_open(&rt, path.c_str(), &o) != FMRT_OK) ::_exit(90);
    if (::write(ready, "r", 1) != 1) ::_exit(92);
    std::mt19937_64 rng(seed);
    std::vector<void *> live;
    for (;;) {
        uint64_t c = rng() % 100;
        if (live.empty() || (c < 45 && live.size() < 200)) {
            uint64_t k = rng() % 100;
            size_t size = k < 70 ? rng() % 1024 : k < 95 ? rng() % (64 * 1024) : rng() % (256 * 1024);
            void *p = rng() % 10 == 0 ? fmrt_aligned_alloc(rt, size_t{1} << (4 + rng() % 18), size)
                                      : (rng() % 4 == 0 ? fmrt_calloc(rt, 1, size) : fmrt_malloc(rt, size));
            if (p) {
                std::memset(p, 0x5C, size < 256 ? size : 256);
                live.push_back(p);
            }
        } else if (c < 80) {
            size_t i = rng() % live.size();
            fmrt_free(rt, live[i]);
            live[i] = live.back();
            live.pop_back();
        } else {
            size_t i = rng() % live.size();
            void *q = fmrt_realloc(rt, live[i], 1 + rng() % (100 * 1024));
            if (q) live[i] = q;
        }
    }
}

enum class LoopKind { kPages, kRuntime };

// Kills a looping child at a random moment, `iterations` times, and checks
// each file it leaves.  The children's allocations stay in the file (and
// their cached slots leak): a fresh file every 10 kills bounds the growth.
void kill_at_random_moments(LoopKind kind, long iterations) {
    TempDir dir(fmrt_unit::memory_dir());
    std::mt19937_64 rng(static_cast<uint64_t>(fmrt_unit::env_long("FMRT_CRASH_SEED", 1234)));
    std::string path;
    for (long it = 0; it < iterations; ++it) {
        if (it % 10 == 0) {
            if (!path.empty()) ::unlink(path.c_str());
            path = dir.file("kill" + std::to_string(it) + ".heap");
            std::unique_ptr<Region> r;
            ASSERT_STATUS(fmrt_unit::open_region(&r, path, 1 * MiB, kind == LoopKind::kPages ? 32 * MiB : 256 * MiB),
                          FMRT_OK);
        }
        int p[2];
        ASSERT_EQ(::pipe(p), 0);
        const uint64_t seed = rng();
        pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            ::close(p[0]);
            if (kind == LoopKind::kPages) page_loop(path, p[1], seed);
            runtime_loop(path, p[1], seed);
        }
        ::close(p[1]);
        char c = 0;
        ssize_t n = ::read(p[0], &c, 1);
        ::close(p[0]);
        if (n == 1) {
            const long ms = 1 + static_cast<long>(rng() % 20);
            struct timespec ts = {0, ms * 1000000L};
            ::nanosleep(&ts, nullptr);
        }
        ::kill(pid, SIGKILL);
        int code = fmrt_unit::wait_child(pid);
        ASSERT_EQ(code, 128 + SIGKILL) << "iteration " << it << ": the child stopped by itself";

        SCOPED_TRACE("iteration " + std::to_string(it) + ", seed " + std::to_string(seed));
        {
            std::unique_ptr<Region> r;
            ASSERT_STATUS(fmrt_unit::open_region(&r, path, 0, 0, false), FMRT_OK);
            Walk raw = fmrt_unit::walk_region(*r);
            ASSERT_TRUE(raw.reached_end) << raw.error;
            Heap heap(*r);
            if (kind == LoopKind::kRuntime) {
                ASSERT_STATUS(heap.load(), FMRT_OK);
                heap.apply_load_fixes();
            } else {
                PageAllocator pa(*r);
                ASSERT_STATUS(pa.load([](uint64_t, const SpanHeader &) { return FMRT_OK; }), FMRT_OK);
                pa.apply_load_fixes();
                Walk w = fmrt_unit::walk_region(*r);
                ASSERT_TRUE(w.reached_end) << w.error;
                EXPECT_FALSE(w.adjacent_free);
                EXPECT_EQ(pa.free_bytes(), w.free_bytes);
                EXPECT_EQ(pa.largest_free(), w.largest_free);
            }
        }
        if (kind == LoopKind::kRuntime) {
            fmrt_runtime *rt = nullptr;
            ASSERT_STATUS(fmrt_runtime_open(&rt, path.c_str(), nullptr), FMRT_OK);
            fmrt_stats st = FMRT_STATS_INIT;
            ASSERT_STATUS(fmrt_runtime_stats(&st, rt), FMRT_OK);
            EXPECT_LE(st.in_use_bytes + st.free_bytes, st.mapped_bytes);
            void *q = fmrt_malloc(rt, 100);
            EXPECT_NE(q, nullptr) << fmrt_unit::status_name(fmrt_last_status()) << ": " << fmrt_error_message();
            EXPECT_STATUS(fmrt_free(rt, q), FMRT_OK);
            EXPECT_STATUS(fmrt_runtime_close(rt), FMRT_OK);
        }
        if (::testing::Test::HasFatalFailure()) return;
    }
}

TEST(CrashByKill, PageOperationsKilledAtRandomMomentsLeaveAValidWalk) {
    kill_at_random_moments(LoopKind::kPages, fmrt_unit::env_long("FMRT_CRASH_ITERATIONS", 50));
}

TEST(CrashByKill, RuntimeKilledAtRandomMomentsReopensWithAValidHeap) {
    kill_at_random_moments(LoopKind::kRuntime, fmrt_unit::env_long("FMRT_CRASH_ITERATIONS", 50));
}

}  // namespace
