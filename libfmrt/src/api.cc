// The C boundary: every extern "C" function of fmrt.h lives here.  Each one
// checks its handle, calls into the runtime and turns any C++ exception into
// a status code, so no exception ever crosses into C.
#include <new>

#include "error.h"
#include "fmrt.h"
#include "runtime.h"

using fmrt::fail;

namespace {

// Runs `body`, mapping exceptions to status codes.
template <typename F>
int guarded(const char *what, F &&body) noexcept {
    try {
        return body();
    } catch (const std::bad_alloc &) {
        return fail(FMRT_ENOMEM, "%s: out of memory", what);
    } catch (const std::exception &e) {
        return fail(FMRT_EINTERNAL, "%s: %s", what, e.what());
    } catch (...) {
        return fail(FMRT_EINTERNAL, "%s: unknown exception", what);
    }
}

// The allocation flavour: NULL on failure.
template <typename F>
void *guarded_ptr(const char *what, F &&body) noexcept {
    try {
        return body();
    } catch (const std::bad_alloc &) {
        fail(FMRT_ENOMEM, "%s: out of memory", what);
    } catch (const std::exception &e) {
        fail(FMRT_EINTERNAL, "%s: %s", what, e.what());
    } catch (...) {
        fail(FMRT_EINTERNAL, "%s: unknown exception", what);
    }
    return nullptr;
}

// A handle the allocation functions may write through, or NULL with the
// status recorded.
inline fmrt_runtime *writer(fmrt_runtime *rt, const char *what) {
    if (__builtin_expect(rt != nullptr && rt->looks_live() && rt->writable(), 1)) return rt;
    if (rt == nullptr || !rt->looks_live()) {
        fail(FMRT_EINVAL, "%s: not an open runtime", what);
    } else {
        fail(FMRT_EREADONLY, "%s: the runtime is read-only", what);
    }
    return nullptr;
}

inline bool readable(const fmrt_runtime *rt) { return rt != nullptr && rt->looks_live(); }

}  // namespace

extern "C" {

FMRT_API const char *fmrt_version(void) { return FMRT_VERSION_STRING; }

FMRT_API int fmrt_version_number(void) { return FMRT_VERSION_NUMBER; }

FMRT_API const char *fmrt_strerror(int code) {
    switch (code) {
    case FMRT_OK: return "success";
    case FMRT_EINVAL: return "invalid argument";
    case FMRT_ENOMEM: return "out of space";
    case FMRT_EIO: return "input/output error";
    case FMRT_EFORMAT: return "not a valid libfmrt heap file";
    case FMRT_EVERSION: return "unsupported heap format version";
    case FMRT_EBUSY: return "file is busy";
    case FMRT_EREADONLY: return "runtime is read-only";
    case FMRT_ENOTFOUND: return "not found";
    case FMRT_EEXISTS: return "already exists";
    case FMRT_EINTERNAL: return "internal error";
    default: return "unknown status code";
    }
}

FMRT_API const char *fmrt_error_message(void) { return fmrt::error_message(); }

FMRT_API int fmrt_last_status(void) { return fmrt::last_status(); }

FMRT_API int fmrt_runtime_open(fmrt_runtime **out, const char *path, const fmrt_options *opts) {
    return guarded("fmrt_runtime_open", [&] { return fmrt::Runtime::open(out, path, opts); });
}

FMRT_API int fmrt_runtime_close(fmrt_runtime *rt) {
    if (rt == nullptr) return FMRT_OK;
    return guarded("fmrt_runtime_close", [&] { return rt->close(); });
}

FMRT_API int fmrt_runtime_retain(fmrt_runtime *rt) {
    if (rt == nullptr) return fail(FMRT_EINVAL, "fmrt_runtime_retain: runtime is NULL");
    return guarded("fmrt_runtime_retain", [&] { return rt->retain(); });
}

FMRT_API int fmrt_runtime_release(fmrt_runtime *rt) {
    if (rt == nullptr) return fail(FMRT_EINVAL, "fmrt_runtime_release: runtime is NULL");
    return guarded("fmrt_runtime_release", [&] { return rt->release(); });
}

FMRT_API int fmrt_runtime_sync(fmrt_runtime *rt) {
    if (!fmrt::Runtime::is_open(rt)) return fail(FMRT_EINVAL, "fmrt_runtime_sync: not an open runtime");
    return guarded("fmrt_runtime_sync", [&] { return rt->sync(); });
}

FMRT_API const char *fmrt_runtime_path(const fmrt_runtime *rt) {
    if (!fmrt::Runtime::is_open(rt)) {
        fail(FMRT_EINVAL, "fmrt_runtime_path: not an open runtime");
        return nullptr;
    }
    return rt->path();
}

FMRT_API int fmrt_runtime_stats(fmrt_stats *out, fmrt_runtime *rt) {
    if (out == nullptr) return fail(FMRT_EINVAL, "fmrt_runtime_stats: out is NULL");
    if (out->version < 1 || out->version > FMRT_STATS_VERSION) {
        return fail(FMRT_EINVAL, "fmrt_runtime_stats: unknown stats version %u", out->version);
    }
    if (!fmrt::Runtime::is_open(rt)) return fail(FMRT_EINVAL, "fmrt_runtime_stats: not an open runtime");
    return guarded("fmrt_runtime_stats", [&] { return rt->stats(out); });
}

FMRT_API void *fmrt_malloc(fmrt_runtime *rt, size_t size) {
    fmrt_runtime *w = writer(rt, "fmrt_malloc");
    if (w == nullptr) return nullptr;
    return guarded_ptr("fmrt_malloc", [&] { return w->malloc(size); });
}

FMRT_API void *fmrt_calloc(fmrt_runtime *rt, size_t n, size_t size) {
    fmrt_runtime *w = writer(rt, "fmrt_calloc");
    if (w == nullptr) return nullptr;
    return guarded_ptr("fmrt_calloc", [&] { return w->calloc(n, size); });
}

FMRT_API void *fmrt_realloc(fmrt_runtime *rt, void *p, size_t size) {
    fmrt_runtime *w = writer(rt, "fmrt_realloc");
    if (w == nullptr) return nullptr;
    return guarded_ptr("fmrt_realloc", [&] { return w->realloc(p, size); });
}

FMRT_API void *fmrt_aligned_alloc(fmrt_runtime *rt, size_t alignment, size_t size) {
    fmrt_runtime *w = writer(rt, "fmrt_aligned_alloc");
    if (w == nullptr) return nullptr;
    return guarded_ptr("fmrt_aligned_alloc", [&] { return w->aligned_alloc(alignment, size); });
}

FMRT_API int fmrt_free(fmrt_runtime *rt, void *p) {
    if (p == nullptr) return FMRT_OK;
    fmrt_runtime *w = writer(rt, "fmrt_free");
    if (w == nullptr) return fmrt::last_status();
    return guarded("fmrt_free", [&] { return w->free(p); });
}

FMRT_API size_t fmrt_usable_size(const fmrt_runtime *rt, const void *p) {
    if (p == nullptr || !readable(rt)) return 0;
    return rt->usable_size(p);
}

FMRT_API uint64_t fmrt_ptr_to_offset(const fmrt_runtime *rt, const void *p) {
    if (!readable(rt)) return 0;
    return rt->to_offset(p);
}

FMRT_API void *fmrt_offset_to_ptr(const fmrt_runtime *rt, uint64_t offset) {
    if (!readable(rt)) return nullptr;
    return rt->to_pointer(offset);
}

}  // extern "C"
