// The C boundary: every extern "C" function of fmrt.h lives here.  Each one
// checks its handle, calls into the runtime and turns any C++ exception into
// a status code, so no exception ever crosses into C.
#include <cstddef>
#include <cstring>
#include <new>
#include <string_view>

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

// Versioned output structs grow only at their end; a caller built against
// an older header gets exactly the prefix its version knew, never more.
// Index: version; add the new size when a version is added.
constexpr size_t kStatsBytes[] = {0, sizeof(fmrt_stats)};
constexpr size_t kReportBytes[] = {0, offsetof(fmrt_report, superblock_damaged), sizeof(fmrt_report)};
constexpr size_t kEntryBytes[] = {0, sizeof(fmrt_entry)};
static_assert(sizeof(kStatsBytes) / sizeof(size_t) == FMRT_STATS_VERSION + 1, "one size per stats version");
static_assert(sizeof(kReportBytes) / sizeof(size_t) == FMRT_REPORT_VERSION + 1, "one size per report version");
static_assert(sizeof(kEntryBytes) / sizeof(size_t) == FMRT_ENTRY_VERSION + 1, "one size per entry version");

template <typename T>
void copy_versioned(T *out, const T &full, const size_t *sizes) {
    const unsigned version = out->version;
    std::memcpy(out, &full, sizes[version]);
    out->version = version;
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

FMRT_API int fmrt_runtime_copy(fmrt_runtime *rt, const char *dst_path) {
    if (!fmrt::Runtime::is_open(rt)) return fail(FMRT_EINVAL, "fmrt_runtime_copy: not an open runtime");
    if (dst_path == nullptr || *dst_path == '\0') return fail(FMRT_EINVAL, "fmrt_runtime_copy: dst_path is NULL or empty");
    return guarded("fmrt_runtime_copy", [&] { return rt->copy_to(dst_path); });
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
    return guarded("fmrt_runtime_stats", [&] {
        fmrt_stats full = FMRT_STATS_INIT;
        int rc = rt->stats(&full);
        if (rc == FMRT_OK) copy_versioned(out, full, kStatsBytes);
        return rc;
    });
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

FMRT_API void *fmrt_alloc(fmrt_runtime *rt, size_t size, size_t alignment, unsigned int flags) {
    fmrt_runtime *w = writer(rt, "fmrt_alloc");
    if (w == nullptr) return nullptr;
    return guarded_ptr("fmrt_alloc", [&] { return w->alloc(size, alignment, flags); });
}

FMRT_API int fmrt_set_transient(fmrt_runtime *rt, void *p, int transient) {
    fmrt_runtime *w = writer(rt, "fmrt_set_transient");
    if (w == nullptr) return fmrt::last_status();
    if (p == nullptr) return fail(FMRT_EINVAL, "fmrt_set_transient: pointer is NULL");
    return guarded("fmrt_set_transient", [&] { return w->set_transient(p, transient != 0); });
}

FMRT_API int fmrt_is_transient(const fmrt_runtime *rt, const void *p) {
    if (!readable(rt)) return fail(FMRT_EINVAL, "fmrt_is_transient: not an open runtime");
    if (p == nullptr) return fail(FMRT_EINVAL, "fmrt_is_transient: pointer is NULL");
    return rt->is_transient(p);
}

// ---- Catalog ---------------------------------------------------------------

namespace {

int check_entry_out(const fmrt_entry *out, const char *what) {
    if (out == nullptr) return fail(FMRT_EINVAL, "%s: out is NULL", what);
    if (out->version < 1 || out->version > FMRT_ENTRY_VERSION) {
        return fail(FMRT_EINVAL, "%s: unknown entry version %u", what, out->version);
    }
    return FMRT_OK;
}

int check_name(const char *name, const char *what) {
    if (name == nullptr) return fail(FMRT_EINVAL, "%s: name is NULL", what);
    return FMRT_OK;
}

std::string_view bounded(const char *name) {
    // Names longer than the limit are refused without reading them whole.
    size_t n = strnlen(name, FMRT_NAME_MAX + 1);
    return std::string_view(name, n);
}

}  // namespace

FMRT_API int fmrt_catalog_put(fmrt_runtime *rt, const char *name, void *p, uint64_t size, uint32_t type,
                              const void *meta, size_t meta_len, unsigned int flags) {
    fmrt_runtime *w = writer(rt, "fmrt_catalog_put");
    if (w == nullptr) return fmrt::last_status();
    if (int rc = check_name(name, "fmrt_catalog_put")) return rc;
    if (flags & ~(FMRT_PUT_REPLACE | FMRT_PUT_FREE_REPLACED)) return fail(FMRT_EINVAL, "fmrt_catalog_put: unknown flags");
    return guarded("fmrt_catalog_put", [&] {
        return w->catalog().put(bounded(name), p, size, type, meta, meta_len, flags);
    });
}

FMRT_API int fmrt_catalog_get(fmrt_entry *out, fmrt_runtime *rt, const char *name) {
    if (int rc = check_entry_out(out, "fmrt_catalog_get")) return rc;
    if (!readable(rt)) return fail(FMRT_EINVAL, "fmrt_catalog_get: not an open runtime");
    if (int rc = check_name(name, "fmrt_catalog_get")) return rc;
    return guarded("fmrt_catalog_get", [&] {
        fmrt::CatalogEntry e;
        int rc = rt->catalog().get(bounded(name), &e);
        if (rc == FMRT_OK) {
            fmrt_entry full = FMRT_ENTRY_INIT;
            rt->to_public(e, &full);
            copy_versioned(out, full, kEntryBytes);
        }
        return rc;
    });
}

FMRT_API int fmrt_catalog_remove(fmrt_runtime *rt, const char *name, unsigned int flags) {
    fmrt_runtime *w = writer(rt, "fmrt_catalog_remove");
    if (w == nullptr) return fmrt::last_status();
    if (int rc = check_name(name, "fmrt_catalog_remove")) return rc;
    if (flags & ~FMRT_REMOVE_FREE) return fail(FMRT_EINVAL, "fmrt_catalog_remove: unknown flags");
    return guarded("fmrt_catalog_remove", [&] { return w->catalog().remove(bounded(name), flags); });
}

FMRT_API int fmrt_catalog_rename(fmrt_runtime *rt, const char *from, const char *to, unsigned int flags) {
    fmrt_runtime *w = writer(rt, "fmrt_catalog_rename");
    if (w == nullptr) return fmrt::last_status();
    if (int rc = check_name(from, "fmrt_catalog_rename")) return rc;
    if (int rc = check_name(to, "fmrt_catalog_rename")) return rc;
    if (flags & ~(FMRT_PUT_REPLACE | FMRT_PUT_FREE_REPLACED)) return fail(FMRT_EINVAL, "fmrt_catalog_rename: unknown flags");
    return guarded("fmrt_catalog_rename", [&] { return w->catalog().rename(bounded(from), bounded(to), flags); });
}

FMRT_API int fmrt_catalog_next(fmrt_entry *out, fmrt_runtime *rt, const char *after) {
    if (int rc = check_entry_out(out, "fmrt_catalog_next")) return rc;
    if (!readable(rt)) return fail(FMRT_EINVAL, "fmrt_catalog_next: not an open runtime");
    return guarded("fmrt_catalog_next", [&] {
        fmrt::CatalogEntry e;
        int rc = rt->catalog().next(after, &e);
        if (rc == FMRT_OK) {
            fmrt_entry full = FMRT_ENTRY_INIT;
            rt->to_public(e, &full);
            copy_versioned(out, full, kEntryBytes);
        }
        return rc;
    });
}

FMRT_API int fmrt_catalog_count(uint64_t *out, fmrt_runtime *rt) {
    if (out == nullptr) return fail(FMRT_EINVAL, "fmrt_catalog_count: out is NULL");
    if (!readable(rt)) return fail(FMRT_EINVAL, "fmrt_catalog_count: not an open runtime");
    *out = rt->catalog().count();
    return FMRT_OK;
}

// ---- Verification and repair -------------------------------------------------

namespace {

int check_report_out(const fmrt_report *out, const char *what) {
    if (out == nullptr) return fail(FMRT_EINVAL, "%s: out is NULL", what);
    if (out->version < 1 || out->version > FMRT_REPORT_VERSION) {
        return fail(FMRT_EINVAL, "%s: unknown report version %u", what, out->version);
    }
    return FMRT_OK;
}

}  // namespace

FMRT_API int fmrt_runtime_verify(fmrt_report *out, fmrt_runtime *rt) {
    if (int rc = check_report_out(out, "fmrt_runtime_verify")) return rc;
    if (!fmrt::Runtime::is_open(rt)) return fail(FMRT_EINVAL, "fmrt_runtime_verify: not an open runtime");
    return guarded("fmrt_runtime_verify", [&] {
        fmrt_report full = FMRT_REPORT_INIT;
        int rc = rt->verify(&full);
        if (rc == FMRT_OK) copy_versioned(out, full, kReportBytes);
        return rc;
    });
}

FMRT_API int fmrt_verify_path(fmrt_report *out, const char *path) {
    if (int rc = check_report_out(out, "fmrt_verify_path")) return rc;
    if (path == nullptr) return fail(FMRT_EINVAL, "fmrt_verify_path: path is NULL");
    return guarded("fmrt_verify_path", [&] {
        fmrt_report full = FMRT_REPORT_INIT;
        int rc = fmrt::Runtime::verify_path(&full, path);
        if (rc == FMRT_OK) copy_versioned(out, full, kReportBytes);
        return rc;
    });
}

FMRT_API int fmrt_repair_path(fmrt_report *out, const char *path, unsigned int flags) {
    if (int rc = check_report_out(out, "fmrt_repair_path")) return rc;
    if (path == nullptr) return fail(FMRT_EINVAL, "fmrt_repair_path: path is NULL");
    if (flags & ~(FMRT_REPAIR_APPLY | FMRT_REPAIR_RECLAIM)) return fail(FMRT_EINVAL, "fmrt_repair_path: unknown flags");
    return guarded("fmrt_repair_path", [&] {
        fmrt_report full = FMRT_REPORT_INIT;
        int rc = fmrt::Runtime::repair_path(&full, path, flags);
        if (rc == FMRT_OK) copy_versioned(out, full, kReportBytes);
        return rc;
    });
}

}  // extern "C"
