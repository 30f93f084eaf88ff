// Runtime lifecycle and the allocation slow paths (runtime.h).
#include "runtime.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <unordered_set>

#include "platform.h"

namespace fmrt {
namespace {

std::mutex g_registry_mu;
std::unordered_set<const Runtime *> &registry() {
    static auto *live = new std::unordered_set<const Runtime *>();  // outlives static destructors
    return *live;
}

bool is_pow2(size_t v) { return v != 0 && (v & (v - 1)) == 0; }

}  // namespace

bool Runtime::is_open(const Runtime *rt) {
    std::lock_guard<std::mutex> lock(g_registry_mu);
    return registry().count(rt) != 0;
}

int Runtime::open(fmrt_runtime **out, const char *path, const fmrt_options *opts) {
    if (out == nullptr) return fail(FMRT_EINVAL, "fmrt_runtime_open: out is NULL");
    *out = nullptr;
    fmrt_options o = FMRT_OPTIONS_INIT;
    if (opts != nullptr) {
        if (opts->version < 1 || opts->version > FMRT_OPTIONS_VERSION) {
            return fail(FMRT_EINVAL, "fmrt_runtime_open: unknown options version %u", opts->version);
        }
        o = *opts;
    }
    const bool scratch = o.mode == FMRT_MODE_SCRATCH;
    if (o.mode != FMRT_MODE_PERSISTENT && !scratch) return fail(FMRT_EINVAL, "fmrt_runtime_open: unknown mode");
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

    std::unique_ptr<fmrt_runtime> rt(new fmrt_runtime());
    int rc = Region::open(&rt->region_, p);
    if (rc != FMRT_OK) return rc;
    rt->writable_ = !readonly;
    rt->heap_.reset(new Heap(*rt->region_));
    // Nothing is written to the file before it has been fully checked, so a
    // refused file is left exactly as it was.
    if ((rc = rt->heap_->load()) != FMRT_OK) return rc;
    if ((rc = rt->region_->mark_open()) != FMRT_OK) return rc;
    {
        std::lock_guard<std::mutex> lock(g_registry_mu);
        registry().insert(rt.get());
    }
    *out = rt.release();
    return FMRT_OK;
}

Runtime::~Runtime() { magic_ = 0; }

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
    heap_.reset();
    region_.reset();
    delete static_cast<fmrt_runtime *>(this);
    return rc;
}

int Runtime::sync() {
    if (!writable_) return fail(FMRT_EREADONLY, "the runtime is read-only");
    return region_->sync();
}

int Runtime::stats(fmrt_stats *out) {
    uint64_t cached_slots = 0, cached_bytes = 0;
    HeapCounts c;
    with_cache_lock([&] {
        c = heap_->counts([&] { thread_cached_totals(*heap_, &cached_slots, &cached_bytes); });
    });
    fmrt_stats s = FMRT_STATS_INIT;
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
    *out = s;
    return FMRT_OK;
}

void *Runtime::alloc_small_uncached(uint32_t cls) {
    void *p = nullptr;
    if (heap_->take_slots(cls, 1, &p) != 1) return nullptr;
    mark_handed_out(p);
    return p;
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
    if (cls >= 0 && !carries_freed_key(p)) return run_layout(static_cast<uint32_t>(cls)).slot_size;
    return 0;
}

void *Runtime::realloc(void *p, size_t size) {
    if (p == nullptr) return malloc(size);
    uint64_t span = 0;
    const int cls = heap_->classify(p, &span);
    if (cls == kNotOurs || (cls != kLargeClass && carries_freed_key(p))) {
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
    void *q = malloc(size);
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
