// Runtime lifecycle and the allocation slow paths (runtime.h).
#include "runtime.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <unordered_set>
#include <vector>

#include "file_copy.h"
#include "platform.h"
#include "verify.h"

namespace fmrt {
namespace {

std::mutex g_registry_mu;
std::unordered_set<const Runtime *> &registry() {
    static auto *live = new std::unordered_set<const Runtime *>();  // outlives static destructors
    return *live;
}

// Closed handles, kept reachable (see final_close).
std::vector<fmrt_runtime *> &tombstones() {
    static auto *dead = new std::vector<fmrt_runtime *>();
    return *dead;
}

bool is_pow2(size_t v) { return v != 0 && (v & (v - 1)) == 0; }

// The catalog's view of the heap.
class RuntimeCatalogHeap final : public CatalogHeap {
public:
    explicit RuntimeCatalogHeap(Runtime &rt) : rt_(rt) {}
    void *alloc_transient(size_t size) override { return rt_.alloc(size, 0, FMRT_ALLOC_TRANSIENT); }
    void release(void *p) override { rt_.free(p); }
    void set_transient(void *p, bool transient) override { rt_.set_transient(p, transient); }
    bool live(const void *p, uint64_t *usable, bool *transient) const override {
        uint64_t span = 0;
        const int cls = rt_.heap().classify(p, &span, true, transient);
        if (cls == kLargeClass) {
            *usable = rt_.heap().large_usable(span);
            return true;
        }
        if (cls < 0 || carries_key(p, rt_.heap().freed_key())) return false;
        *usable = run_layout(static_cast<uint32_t>(cls)).slot_size;
        return true;
    }

private:
    Runtime &rt_;
};

// A superblock copy that failed its check while the other one was used is
// a repair (rewrite it), not a problem; both failing is reported by the
// caller as a problem.
void note_superblock_copies(const Region &region, fmrt_report *rep) {
    if (region.salvaged()) {
        rep->superblock_damaged = 3;
    } else if (region.damaged_copy() >= 0) {
        rep->superblock_damaged = 1u << region.damaged_copy();
        rep->repairs++;
    }
}

}  // namespace

bool Runtime::is_open(const Runtime *rt) {
    std::lock_guard<std::mutex> lock(g_registry_mu);
    return registry().count(rt) != 0;
}

int Runtime::open(fmrt_runtime **out, const char *path, const fmrt_options *opts) {
    return open_impl(out, path, opts, false, nullptr);
}

int Runtime::open_impl(fmrt_runtime **out, const char *path, const fmrt_options *opts, bool repair,
                       uint64_t *repairs, bool rebuild_catalog) {
    // With max_size left to the file or the default, a process that cannot
    // reserve that much address space (ulimit -v, valgrind) still opens the
    // heap: with half the reservation, then half again, down to 1 GiB.  An
    // explicit max_size is reserved as asked or not at all.
    const bool explicit_max = opts != nullptr && opts->version >= 1 && opts->max_size != 0;
    constexpr uint64_t kMinReserve = uint64_t{1} << 30;
    const uint64_t repairs_before = repairs != nullptr ? *repairs : 0;
    uint64_t cap = 0;
    for (;;) {
        os::clear_address_space_short();
        const int rc = open_once(out, path, opts, repair, repairs, rebuild_catalog, cap);
        if (rc != FMRT_ENOMEM || explicit_max || !os::address_space_short()) return rc;
        cap = Region::last_reservation() / 2;  // half of what was tried
        if (cap < kMinReserve) return rc;
        if (repairs != nullptr) *repairs = repairs_before;
    }
}

int Runtime::open_once(fmrt_runtime **out, const char *path, const fmrt_options *opts, bool repair,
                       uint64_t *repairs, bool rebuild_catalog, uint64_t reserve_cap) {
    if (out == nullptr) return fail(FMRT_EINVAL, "fmrt_runtime_open: out is NULL");
    *out = nullptr;
    fmrt_options o = FMRT_OPTIONS_INIT;
    if (opts != nullptr) {
        if (opts->version < 1 || opts->version > FMRT_OPTIONS_VERSION) {
            return fail(FMRT_EINVAL, "fmrt_runtime_open: unknown options version %u", opts->version);
        }
        o = *opts;
    }
    // The caller's mode may hold any int: read it as one before trusting it
    // as an fmrt_mode (an out-of-range enum value is undefined in C++).
    int mode_raw = 0;
    static_assert(sizeof(fmrt_mode) == sizeof(int), "fmrt_mode is int-sized");
    std::memcpy(&mode_raw, &o.mode, sizeof mode_raw);
    if (mode_raw != FMRT_MODE_PERSISTENT && mode_raw != FMRT_MODE_SCRATCH) {
        return fail(FMRT_EINVAL, "fmrt_runtime_open: unknown mode %d", mode_raw);
    }
    const bool scratch = mode_raw == FMRT_MODE_SCRATCH;
    if (o.flags & ~(FMRT_OPEN_CREATE | FMRT_OPEN_READONLY)) return fail(FMRT_EINVAL, "fmrt_runtime_open: unknown flags");
    const bool readonly = (o.flags & FMRT_OPEN_READONLY) != 0;
    if (scratch && readonly) return fail(FMRT_EINVAL, "a scratch runtime cannot be read-only");
    if (!scratch && (path == nullptr || *path == '\0')) return fail(FMRT_EINVAL, "fmrt_runtime_open: path is NULL or empty");
    if (o.max_size != 0 && o.initial_size > o.max_size) {
        return fail(FMRT_ENOMEM, "initial size %llu exceeds the maximum size %llu",
                    static_cast<unsigned long long>(o.initial_size), static_cast<unsigned long long>(o.max_size));
    }

    RegionParams p;
    p.path = path ? path : "";
    p.scratch = scratch;
    p.create = scratch || (o.flags & FMRT_OPEN_CREATE) != 0;
    p.readonly = readonly;
    p.initial_size = o.initial_size;
    p.max_size = o.max_size;
    p.reserve_cap = reserve_cap;

    std::unique_ptr<fmrt_runtime> rt(new fmrt_runtime());
    int rc = Region::open(&rt->region_, p);
    if (rc != FMRT_OK) return rc;
    rt->writable_ = !readonly;
    rt->heap_.reset(new Heap(*rt->region_));
    // A failed open may already have allocated (a repair's catalog rebuild):
    // give back the calling thread's cache before the heap goes away.
    auto abandon = [&](int code) {
        detach_thread_caches(*rt->heap_);
        return code;
    };
    rt->catalog_heap_.reset(new RuntimeCatalogHeap(*rt));
    rt->catalog_.reset(new Catalog(*rt->region_, *rt->catalog_heap_));
    // Nothing is written to the file before it has been fully checked, so a
    // refused file is left exactly as it was.
    if ((rc = rt->heap_->load()) != FMRT_OK) return abandon(rc);
    CatalogScan scan;
    if ((rc = rt->catalog_->load(&scan, repair)) != FMRT_OK) return abandon(rc);
    rt->damaged_at_open_ = scan.damaged;
    const bool table_damaged = rt->region_->superblock().catalog_root != 0 && !scan.problems.empty() &&
                               scan.problems.front().second == "catalog table damaged";
    if (repair && (table_damaged || rebuild_catalog)) {
        // Records are self-describing: find the valid ones and index them anew.
        // A transient record counts when the loaded table commits it (its
        // flag is a crash state the open would clear).
        std::vector<uint64_t> found, committed;
        rt->catalog_->referenced(&committed);
        std::sort(committed.begin(), committed.end());
        const CatalogHeap &ch = *rt->catalog_heap_;
        rt->heap_->for_each_allocation([&](uint64_t off, uint64_t usable, bool transient) {
            const auto *r = static_cast<const CatalogRecord *>(rt->region_->ptr(off));
            uint64_t u = 0;
            bool tr = false;
            if ((!transient || std::binary_search(committed.begin(), committed.end(), off)) &&
                usable >= kRecordHeaderBytes && r->magic == kRecordMagic && record_valid(r, usable)) {
                if (r->alloc_offset == 0
                        ? r->size == 0
                        : (r->alloc_offset < rt->region_->file_size() &&
                           ch.live(rt->region_->ptr(r->alloc_offset), &u, &tr) && r->size <= u)) {
                    found.push_back(off);
                }
            }
        });
        if ((rc = rt->catalog_->rebuild(found)) != FMRT_OK) return abandon(rc);
        if (repairs) *repairs += 1 + found.size();
    }
    if (!readonly && !repair && rt->region_->opened_dirty()) {
        // Not closed cleanly.  After a kill the file is always consistent
        // (docs/format.md), but after a power cut between syncs it can hold
        // pages of different moments, which the load may take at face value
        // (a stale header over live spans, a table missing entries).  Writing
        // to such a file could destroy what repair would recover, so the
        // whole file is checked first and refused if it has problems.
        fmrt_report rep = FMRT_REPORT_INIT;
        VerifyResult res;
        HeapImage img{rt->region_->base(), rt->region_->file_size(), rt->region_->superblock()};
        verify_image(img, VerifyOptions{}, &rep, &res);
        // Damaged or dangling records are not in the way: the load never
        // trusts them (and a caller can make a dangling one).
        if (res.structural != 0) {
            return abandon(fail(FMRT_EFORMAT,
                                "%s was not closed cleanly and its structure fails verification (%llu problems; "
                                "first at offset %llu: %s): run fmrt repair",
                                path, static_cast<unsigned long long>(rep.problems),
                                static_cast<unsigned long long>(rep.first[0].offset), rep.first[0].what));
        }
    }
    if (!readonly) {
        rt->heap_->apply_load_fixes();
        // Durability first (what committed entries name), then reclaim
        // every transient allocation left by the previous process.
        rt->catalog_->apply_load_fixes();
        rt->reclaimed_at_open_ = rt->heap_->reclaim_transients();
        // Holes (a sparse copy) get their disk blocks now, so a store into
        // one can never raise SIGBUS on a full disk.
        if ((rc = rt->region_->reserve_heap()) != FMRT_OK) return abandon(rc);
        if ((rc = rt->region_->mark_open()) != FMRT_OK) return abandon(rc);
    }
    {
        std::lock_guard<std::mutex> lock(g_registry_mu);
        registry().insert(rt.get());
    }
    *out = rt.release();
    set_status_ok();  // an internal "not found" before creating is no failure
    return FMRT_OK;
}

Runtime::~Runtime() { magic_ = 0; }

void *Runtime::alloc(size_t size, size_t alignment, unsigned flags) {
    if (flags & ~(FMRT_ALLOC_ZERO | FMRT_ALLOC_TRANSIENT)) {
        fail(FMRT_EINVAL, "fmrt_alloc: unknown flags 0x%x", flags);
        return nullptr;
    }
    if (alignment != 0 && (!is_pow2(alignment) || alignment > kMaxAlignment)) {
        fail(FMRT_EINVAL, "alignment %zu is not a power of two up to 1 GiB", alignment);
        return nullptr;
    }
    const bool zero = (flags & FMRT_ALLOC_ZERO) != 0;
    if (!(flags & FMRT_ALLOC_TRANSIENT)) {
        if (alignment > 16) {
            void *p = aligned_alloc(alignment, size);
            if (p != nullptr && zero) std::memset(p, 0, size);
            return p;
        }
        return zero ? calloc(1, size) : malloc(size);
    }
    // Transient: a small slot comes the usual way (thread cache first) and is
    // flagged under its class lock (a kill in between leaks that one slot);
    // a large span carries the flag in its header from its first store.
    if (size <= kMaxSmall && alignment <= 64) {
        size_t s = alignment > 16 ? (std::max<size_t>(size, 64) + 63) & ~size_t{63} : size;
        void *p = malloc(s);
        if (p == nullptr) return nullptr;
        heap_->set_transient(p, static_cast<int>(size_class_of(s)), 0, true);
        if (zero) std::memset(p, 0, size);
        return p;
    }
    return heap_->alloc_large(size, alignment, zero, true);
}

int Runtime::set_transient(void *p, bool transient) {
    uint64_t span = 0;
    const int cls = heap_->classify(p, &span, true);
    if (cls == kNotOurs || (cls != kLargeClass && carries_key(p, heap_->freed_key()))) {
        return fail(FMRT_EINVAL, "%p is not the start of a live allocation of this runtime", p);
    }
    heap_->set_transient(p, cls, span, transient);
    return FMRT_OK;
}

int Runtime::is_transient(const void *p) const {
    uint64_t span = 0;
    bool transient = false;
    const int cls = heap_->classify(p, &span, true, &transient);
    if (cls == kNotOurs || (cls != kLargeClass && carries_key(p, heap_->freed_key()))) {
        return fail(FMRT_EINVAL, "%p is not the start of a live allocation of this runtime", p);
    }
    return transient ? 1 : 0;
}

int Runtime::copy_to(const char *dst) {
    struct stat st;
    if (::lstat(dst, &st) == 0) return fail(FMRT_EEXISTS, "%s already exists (a copy never replaces a file)", dst);
    if (errno != ENOENT) return fail(FMRT_EIO, "%s: %s", dst, std::strerror(errno));
    if (::fstat(region_->fd(), &st) != 0) return fail(FMRT_EIO, "fstat of the heap: %s", std::strerror(errno));
    NewFile out;
    std::string err;
    if (!out.create(dst, st.st_mode & 0777, &err)) return fail(FMRT_EIO, "%s: %s", dst, err.c_str());
    CopyResult how;
    bool copied = false;
    // With the catalog's lock and every heap lock held, no allocator or
    // catalog change is half done: the bytes read are a state the file
    // could have been left in by a kill, which every open recovers from.
    catalog_->with_lock([&] {
        heap_->with_all_locks([&](uint64_t, uint64_t) {
            copied = copy_contents(region_->fd(), out.fd(), region_->file_size(), &how, &err);
        });
    });
    if (!copied) return fail(FMRT_EIO, "%s: %s", dst, err.c_str());
    if (!out.publish(&err)) {
        if (out.name_taken()) return fail(FMRT_EEXISTS, "%s appeared while the copy was made", dst);
        // Named, but the directory could not be synced: not a durable copy.
        if (out.published()) ::unlink(dst);
        return fail(FMRT_EIO, "%s: %s", dst, err.c_str());
    }
    return FMRT_OK;
}

int Runtime::verify(fmrt_report *out) {
    fmrt_report rep = FMRT_REPORT_INIT;
    VerifyResult res;
    HeapImage img;
    img.base = region_->base();
    img.sb = region_->superblock_snapshot();
    VerifyOptions opts;
    opts.live = true;
    catalog_->with_lock([&] {
        heap_->with_all_locks([&](uint64_t free_span_bytes, uint64_t small_used) {
            img.file_size = region_->file_size();
            img.sb = region_->superblock_snapshot();
            verify_image(img, opts, &rep, &res);
            // The RAM indexes must agree with the walk (after joining free
            // neighbours, which the walk does too).
            if (free_span_bytes != rep.free_bytes) {
                report_problem(&rep, 0, FMRT_EINTERNAL, "free index holds " + std::to_string(free_span_bytes) +
                                                            " bytes, the walk finds " + std::to_string(rep.free_bytes));
            }
            if (small_used != rep.small_allocations + res.cached_free) {
                report_problem(&rep, 0, FMRT_EINTERNAL, "run counts hold " + std::to_string(small_used) +
                                                            " slots, the bitmaps " +
                                                            std::to_string(rep.small_allocations + res.cached_free));
            }
        });
    });
    note_superblock_copies(*region_, &rep);
    rep.version = out->version;
    *out = rep;
    return FMRT_OK;
}

int Runtime::verify_path(fmrt_report *out, const char *path) {
    RegionParams p;
    p.path = path;
    p.create = false;
    p.readonly = true;
    p.tolerant = true;
    std::unique_ptr<Region> region;
    int rc = Region::open(&region, p);
    if (rc != FMRT_OK) return rc;
    HeapImage img{region->base(), region->file_size(), region->superblock()};
    fmrt_report rep = FMRT_REPORT_INIT;
    VerifyResult res;
    if (region->salvaged()) report_problem(&rep, 0, FMRT_EFORMAT, "both superblock copies are damaged");
    verify_image(img, VerifyOptions{}, &rep, &res);
    note_superblock_copies(*region, &rep);
    rep.version = out->version;
    *out = rep;
    return FMRT_OK;
}

int Runtime::repair_path(fmrt_report *out, const char *path, unsigned flags) {
    const bool apply = (flags & FMRT_REPAIR_APPLY) != 0;
    fmrt_report rep = FMRT_REPORT_INIT;
    VerifyResult res;
    std::vector<uint64_t> dropped;  // records whose slots repair empties
    bool rebuild_catalog = false;   // a salvaged superblock named no valid table, or records no slot names
    uint64_t old_table = 0;         // a valid table the rebuild replaces
    {
        RegionParams p;
        p.path = path;
        p.create = false;
        p.readonly = !apply;
        p.tolerant = true;
        std::unique_ptr<Region> region;
        int rc = Region::open(&region, p);
        if (rc != FMRT_OK) return rc;
        HeapImage img{region->base(), region->file_size(), region->superblock()};
        if (region->salvaged()) {
            report_problem(&rep, 0, FMRT_EFORMAT, "both superblock copies are damaged");
            // The catalog root of a torn copy is only a guess: keep it when
            // it names a valid table, else the runtime rebuilds the catalog.
            const uint64_t root = img.sb.catalog_root;
            const bool plausible = root >= kHeapStart && root <= img.file_size - kTableHeaderBytes &&
                                   root % alignof(CatalogTable) == 0;
            const auto *t = plausible ? reinterpret_cast<const CatalogTable *>(img.base + root) : nullptr;
            if (root == 0 || t == nullptr || t->magic != kTableMagic || t->check != table_check(t)) {
                img.sb.catalog_root = 0;
                region->forget_catalog_root();
                rebuild_catalog = true;
            }
        }
        verify_image(img, VerifyOptions{}, &rep, &res);
        note_superblock_copies(*region, &rep);
        if (res.orphan_records != 0) {
            // The table lost entries (a power cut): index every valid record
            // anew; the old table is given back below.
            rebuild_catalog = true;
            old_table = img.sb.catalog_root;
        }
        if (region->salvaged()) rep.repairs++;
        if (flags & FMRT_REPAIR_RECLAIM) rep.repairs += res.unreachable.size();
        if (apply) {
            // Structure first, so that a normal open succeeds afterwards.
            for (const Fix &f : res.fixes) {
                uint64_t v = f.kind == Fix::kStore ? f.value : (*static_cast<uint64_t *>(region->ptr(f.off)) & f.value);
                region->store_word(f.off, v);
            }
            for (uint64_t slot : res.bad_slots) {
                dropped.push_back(*static_cast<const uint64_t *>(region->ptr(slot)));
                region->store_word(slot, 0);
            }
            if ((res.new_heap_end != img.sb.heap_end || region->salvaged()) &&
                (rc = region->set_heap_end(res.new_heap_end)) != FMRT_OK) {
                return rc;
            }
            // Both copies valid again.
            if ((region->salvaged() || region->damaged_copy() >= 0) &&
                (rc = region->rewrite_both_superblocks()) != FMRT_OK) {
                return rc;
            }
            if ((rc = region->sync()) != FMRT_OK) return rc;
        }
    }
    if (apply) {
        // Then the catalog and the transient leftovers, through a runtime.
        fmrt_runtime *rt = nullptr;
        fmrt_options o = FMRT_OPTIONS_INIT;
        o.flags = 0;
        uint64_t extra = 0;
        int rc = open_impl(&rt, path, &o, true, &extra, rebuild_catalog);
        if (rc != FMRT_OK) return rc;
        std::vector<uint64_t> keep;
        rt->catalog_->referenced(&keep);
        std::sort(keep.begin(), keep.end());
        // From here on the run bitmaps are the truth: a set bit is an
        // allocation of the file, not a slot this thread's cache holds (a
        // catalog rebuild may have filled one), and the frees below bypass
        // the caches.  They do not go through free(): a kill between the
        // stores of a cache pop (or of an uncached free) leaves a slot
        // allocated in its run yet carrying the freed key, which free()
        // would refuse as a double free -- verify counts such a slot
        // unreachable, so a reclaiming repair must give it back.
        detach_thread_caches(*rt->heap_);
        // The storage of dropped records is catalog storage: free it, unless
        // something the catalog keeps is at the same place.
        if (old_table != 0) dropped.push_back(old_table);
        std::sort(dropped.begin(), dropped.end());
        dropped.erase(std::unique(dropped.begin(), dropped.end()), dropped.end());
        for (uint64_t off : dropped) {
            if (off == 0 || off >= rt->region_->file_size() || std::binary_search(keep.begin(), keep.end(), off)) continue;
            rt->reclaim(rt->region_->ptr(off));
        }
        if (flags & FMRT_REPAIR_RECLAIM) {
            std::vector<void *> drop;
            rt->heap_->for_each_allocation([&](uint64_t off, uint64_t, bool transient) {
                if (!transient && !std::binary_search(keep.begin(), keep.end(), off)) drop.push_back(rt->region_->ptr(off));
            });
            for (void *q : drop) rt->reclaim(q);
        }
        rc = rt->close();
        if (rc != FMRT_OK) return rc;
        rep.repairs += extra;
    }
    rep.version = out->version;
    *out = rep;
    return FMRT_OK;
}

void Runtime::to_public(const CatalogEntry &e, fmrt_entry *out) const {
    out->name = e.name;
    out->name_len = e.name_len;
    out->offset = e.alloc_offset;
    out->ptr = e.alloc_offset ? region_->ptr(e.alloc_offset) : nullptr;
    out->size = e.size;
    out->type = e.type;
    out->meta = e.meta;
    out->meta_len = e.meta_len;
    out->created_unix_ns = e.created_unix_ns;
}

int Runtime::close() {
    {
        std::lock_guard<std::mutex> lock(g_registry_mu);
        if (registry().count(this) == 0) return fail(FMRT_EINVAL, "fmrt_runtime_close: not an open runtime");
        if (close_requested_) return fail(FMRT_EINVAL, "fmrt_runtime_close: close was already requested");
        close_requested_ = true;
        if (--refs_ > 0) return FMRT_OK;
        registry().erase(this);
    }
    return final_close();
}

int Runtime::retain() {
    std::lock_guard<std::mutex> lock(g_registry_mu);
    if (registry().count(this) == 0) return fail(FMRT_EINVAL, "fmrt_runtime_retain: not an open runtime");
    ++refs_;
    return FMRT_OK;
}

int Runtime::release() {
    {
        std::lock_guard<std::mutex> lock(g_registry_mu);
        if (registry().count(this) == 0) return fail(FMRT_EINVAL, "fmrt_runtime_release: not an open runtime");
        // The opener's reference is dropped by close, not release.
        if (refs_ <= (close_requested_ ? 0 : 1)) {
            return fail(FMRT_EINVAL, "fmrt_runtime_release: no retained reference to release");
        }
        if (--refs_ > 0) return FMRT_OK;
        registry().erase(this);
    }
    return final_close();
}

int Runtime::final_close() {
    detach_thread_caches(*heap_);
    int rc = writable_ ? region_->close_clean() : FMRT_OK;
    catalog_.reset();
    catalog_heap_.reset();
    heap_.reset();
    region_.reset();
    // The handle itself stays allocated as a tombstone (a few dozen bytes),
    // so a call through a closed handle reads valid memory, finds the magic
    // gone and fails with FMRT_EINVAL instead of touching freed memory.
    magic_ = 0;
    std::lock_guard<std::mutex> lock(g_registry_mu);
    tombstones().push_back(static_cast<fmrt_runtime *>(this));
    return rc;
}

int Runtime::sync() {
    if (!writable_) return fail(FMRT_EREADONLY, "the runtime is read-only");
    return region_->sync();
}

int Runtime::stats(fmrt_stats *out) {
    uint64_t cached_slots = 0, cached_bytes = 0;
    uint64_t cached_by_class[kNumClasses] = {};
    uint64_t live_by_class[kNumClasses] = {};
    HeapCounts c;
    with_cache_lock([&] {
        c = heap_->counts([&] {
            thread_cached_totals(*heap_, &cached_slots, &cached_bytes, cached_by_class);
            for (uint32_t k = 0; k < kNumClasses; ++k) live_by_class[k] = heap_->class_live_locked(k);
        });
    });
    fmrt_stats s = FMRT_STATS_INIT;
    s.class_count = kNumClasses + 1;
    for (uint32_t k = 0; k < kNumClasses; ++k) {
        s.class_size[k] = run_layout(k).slot_size;
        s.class_live[k] = live_by_class[k] - cached_by_class[k];
        s.class_bytes[k] = s.class_live[k] * s.class_size[k];
    }
    s.class_size[kNumClasses] = 0;
    s.class_live[kNumClasses] = c.live_large;
    s.class_bytes[kNumClasses] = c.large_bytes;
    const Superblock sb = region_->superblock_snapshot();
    s.catalog_entries = catalog_->count();
    s.transient_allocations = heap_->transient_count();
    s.reclaimed_at_open = reclaimed_at_open_;
    s.catalog_damaged = damaged_at_open_;
    s.clean_last_close = region_->opened_dirty() ? 0 : 1;
    s.format_major = sb.format_major;
    s.format_minor = sb.format_minor;
    std::memcpy(s.uuid, sb.uuid, sizeof s.uuid);
    s.created_unix_ns = sb.created_unix_ns;
    s.fragmentation = c.free_span_bytes ? 1.0 - static_cast<double>(c.largest_free) / static_cast<double>(c.free_span_bytes) : 0.0;
    s.reserved_bytes = region_->max_size();
    s.mapped_bytes = region_->file_size();
    s.live_allocations = c.live_small - cached_slots + c.live_large;
    s.in_use_bytes = c.small_bytes - cached_bytes + c.large_bytes;
    s.free_bytes = c.free_span_bytes + c.small_free_bytes + cached_bytes;
    s.largest_free_block = c.largest_free;
    uint64_t accounted = s.in_use_bytes + s.free_bytes;
    s.overhead_bytes = s.mapped_bytes > accounted ? s.mapped_bytes - accounted : 0;
    s.persistent = region_->scratch() ? 0 : 1;
    s.readonly = writable_ ? 0 : 1;
    s.version = out->version;
    *out = s;
    return FMRT_OK;
}

int Runtime::free_slow(void *p) {
    uint64_t span = 0;
    // No bitmap read here: a slot that is not allocated carries the heap's
    // freed key (heap.h), which catches double and wild frees.
    bool maybe_transient = false;
    const int cls = heap_->classify(p, &span, false, &maybe_transient);
    if (__builtin_expect(cls >= 0 && cls < static_cast<int>(kNumClasses), 1)) {
        // classify() proved p is a slot of a mapped run, so reading it is safe.
        if (__builtin_expect(carries_key(p, heap_->freed_key()), 0)) {
            return fail(FMRT_EINVAL, "%p is not allocated (double free?)", p);
        }
        // A cached slot must not carry the transient flag to its next owner
        // (looked at only in runs that have transient slots at all).
        if (__builtin_expect(maybe_transient, 0)) {
            bool t = false;
            heap_->classify(p, &span, true, &t);
            // The key first: a record being freed must stop checking before
            // it stops being transient, or a kill in between would leave a
            // durable record no slot names (which verify takes for a table
            // a power cut tore).
            if (t) {
                mark_freed(p, heap_->freed_key());
                heap_->set_transient(p, cls, span, false);
            }
        }
        ThreadCache *tc = thread_cache(*heap_);
        if (__builtin_expect(tc != nullptr, 1)) {
            tc->free(static_cast<uint32_t>(cls), p);
        } else {
            mark_freed(p, heap_->freed_key());
            const uint64_t off = region_->offset(p);
            heap_->return_slots(static_cast<uint32_t>(cls), &off, 1, nullptr);
        }
        return FMRT_OK;
    }
    if (cls == kLargeClass) {
        heap_->free_large(span);
        return FMRT_OK;
    }
    return fail(FMRT_EINVAL, "%p is not the start of a live allocation of this runtime", p);
}


void *Runtime::alloc_small_uncached(uint32_t cls) {
    uint64_t off = 0;
    uint32_t n = 0;
    if (heap_->take_slots(cls, 1, &off, &n) != 1) return nullptr;
    void *p = region_->ptr(off);
    mark_handed_out(p);
    return p;
}

bool Runtime::reclaim(void *p) {
    uint64_t span = 0;
    const int cls = heap_->classify(p, &span, true);
    if (cls == kLargeClass) {
        heap_->free_large(span);
        return true;
    }
    if (cls < 0) return false;
    // The freed key first, as on every path that frees a slot (heap.h).
    mark_freed(p, heap_->freed_key());
    const uint64_t off = region_->offset(p);
    heap_->return_slots(static_cast<uint32_t>(cls), &off, 1, nullptr);
    return true;
}

void *Runtime::calloc(size_t n, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        fail(FMRT_ENOMEM, "calloc: %zu * %zu overflows", n, size);
        return nullptr;
    }
    if (total > kMaxSmall) return heap_->alloc_large(total, 0, true);
    void *p = malloc(total);
    if (p != nullptr) std::memset(p, 0, total);
    return p;
}

void *Runtime::aligned_alloc(size_t alignment, size_t size) {
    if (!is_pow2(alignment) || alignment > (size_t{1} << 30)) {
        fail(FMRT_EINVAL, "alignment %zu is not a power of two up to 1 GiB", alignment);
        return nullptr;
    }
    if (alignment <= 16) return malloc(size);
    // A multiple of 64 always lands in a class whose slots are 64-aligned.
    if (alignment <= 64 && size <= kMaxSmall) return malloc((std::max<size_t>(size, 64) + 63) & ~size_t{63});
    return heap_->alloc_large(size, alignment, false);
}

size_t Runtime::usable_size(const void *p) const {
    uint64_t span = 0;
    int cls = heap_->classify(p, &span);
    if (cls == kLargeClass) return heap_->large_usable(span);
    if (cls >= 0 && !carries_key(p, heap_->freed_key())) return run_layout(static_cast<uint32_t>(cls)).slot_size;
    return 0;
}

void *Runtime::realloc(void *p, size_t size) {
    if (p == nullptr) return malloc(size);
    uint64_t span = 0;
    bool transient = false;
    const int cls = heap_->classify(p, &span, true, &transient);
    if (cls == kNotOurs || (cls != kLargeClass && carries_key(p, heap_->freed_key()))) {
        fail(FMRT_EINVAL, "realloc: %p is not the start of a live allocation of this runtime", p);
        return nullptr;
    }
    if (size == 0) {
        free(p);
        set_status_ok();
        return nullptr;
    }
    size_t old_usable;
    if (cls == kLargeClass) {
        old_usable = heap_->large_usable(span);
        if (size > kMaxSmall) {
            if (heap_->resize_large(span, size)) return p;
        }
    } else {
        old_usable = run_layout(static_cast<uint32_t>(cls)).slot_size;
        if (size <= kMaxSmall && size_class_of(size) == static_cast<uint32_t>(cls)) return p;
    }
    // Moving keeps the allocation's kind: a transient block stays transient.
    void *q = transient ? alloc(size, 0, FMRT_ALLOC_TRANSIENT) : malloc(size);
    if (q == nullptr) return nullptr;
    std::memcpy(q, p, std::min(old_usable, size));
    free(p);
    return q;
}

uint64_t Runtime::to_offset(const void *p) const {
    if (p == nullptr) return 0;
    auto a = reinterpret_cast<uintptr_t>(p), b = reinterpret_cast<uintptr_t>(region_->base());
    if (a < b || a - b >= region_->file_size()) return 0;
    return a - b;
}

void *Runtime::to_pointer(uint64_t off) const {
    if (off == 0 || off >= region_->file_size()) return nullptr;
    return region_->ptr(off);
}

}  // namespace fmrt
