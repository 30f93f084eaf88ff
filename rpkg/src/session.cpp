// session.cpp - the heap files this R session has open, the allocations its
// vectors hold, and how failures become classed R conditions.
//
// Lifetime rules: a Runtime lives while its R object or any Alloc refers to
// it (refs); a requested close happens when refs reach zero, so a vector
// stays usable after cleanup_fmalloc() and finalizers may run in any order.
// An Alloc lives while an R vector refers to it; an owned Alloc (transient,
// scratch, or removed from the catalog while R held it) frees its space then.
//
// SPDX-License-Identifier: GPL-2.0-or-later
#include "rfmalloc.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>
#include <utility>
#include <vector>

namespace rfm {

// ---------------------------------------------------------------- errors
void fail(const char *kind, std::string message) { throw Failure{kind, std::move(message)}; }

void fail_status(int status, const std::string &doing) {
    const char *kind = "io";
    switch (status) {
    case FMRT_EINVAL: kind = "invalid"; break;
    case FMRT_ENOMEM: kind = "nomem"; break;
    case FMRT_EIO: kind = "io"; break;
    case FMRT_EFORMAT: kind = "format"; break;
    case FMRT_EVERSION: kind = "version"; break;
    case FMRT_EBUSY: kind = "busy"; break;
    case FMRT_EREADONLY: kind = "readonly"; break;
    case FMRT_ENOTFOUND: kind = "notfound"; break;
    case FMRT_EEXISTS: kind = "exists"; break;
    default: kind = "internal"; break;
    }
    std::string msg = doing + ": " + fmrt_strerror(status);
    const char *detail = fmrt_error_message();
    if (detail && *detail && std::strstr(msg.c_str(), detail) == nullptr) msg += " (" + std::string(detail) + ")";
    fail(kind, msg);
}

void raise(const char *kind, const char *message) {
    // Rfmalloc:::.fm_raise(kind, message) builds and signals the condition.
    SEXP pkg = PROTECT(Rf_mkString("Rfmalloc"));
    SEXP ns = PROTECT(R_FindNamespace(pkg));
    SEXP k = PROTECT(Rf_mkString(kind));
    SEXP m = PROTECT(Rf_mkString(message));
    SEXP call = PROTECT(Rf_lang3(Rf_install(".fm_raise"), k, m));
    Rf_eval(call, ns);
    UNPROTECT(5);
    Rf_error("%s", message); // not reached
}

// ---------------------------------------------------------------- store
size_t element_size(int t) {
    switch (t) {
    case LGLSXP: return sizeof(int);
    case INTSXP: return sizeof(int);
    case REALSXP: return sizeof(double);
    case CPLXSXP: return sizeof(Rcomplex);
    case RAWSXP: return 1;
    default: return 0;
    }
}

const char *type_name(int t) {
    switch (t) {
    case LGLSXP: return "logical";
    case INTSXP: return "integer";
    case REALSXP: return "double";
    case CPLXSXP: return "complex";
    case RAWSXP: return "raw";
    case STRSXP: return "character";
    case VECSXP: return "list";
    default: return "unknown";
    }
}

int type_from_name(const std::string &n) {
    if (n == "logical") return LGLSXP;
    if (n == "integer") return INTSXP;
    if (n == "double" || n == "numeric") return REALSXP;
    if (n == "complex") return CPLXSXP;
    if (n == "raw") return RAWSXP;
    if (n == "character") return STRSXP;
    if (n == "list") return VECSXP;
    return -1;
}

uint64_t blob_bytes(uint64_t length, uint64_t heap) {
    if (length > (UINT64_MAX - sizeof(StrHeader)) / 8) return 0;
    uint64_t b = sizeof(StrHeader) + 8 * length;
    if (heap > UINT64_MAX - b) return 0;
    return b + heap;
}

void check_blob(const void *blob, uint64_t usable, uint64_t length, const std::string &name) {
    auto bad = [&](const char *what) {
        fail("format", "entry '" + name + "' is damaged: its character data " + what);
    };
    if (usable < sizeof(StrHeader)) bad("is truncated");
    auto *h = static_cast<const StrHeader *>(blob);
    if (h->magic != kStrMagic) bad("has a bad magic number");
    if (h->length != length) bad("disagrees with the catalog on its length");
    uint64_t total = blob_bytes(h->length, h->heap_cap);
    if (total == 0 || total > usable) bad("claims more bytes than its allocation holds");
    if (h->heap_used < 8 || h->heap_used > h->heap_cap || h->garbage > h->heap_used) bad("has bad heap counters");
    const uint64_t *slots = str_slots(const_cast<void *>(blob));
    const char *heap = str_heap(const_cast<void *>(blob));
    // Every record belongs to exactly one slot and records never overlap:
    // the write path (str_set, str_rebuild) counts on both.
    std::vector<std::pair<uint64_t, uint64_t>> records; // offset, bytes
    for (uint64_t i = 0; i < length; ++i) {
        uint64_t s = slots[i];
        if (s == 0 || s == kNaSlot) continue;
        if (s < 8 || s % 8 != 0 || s > h->heap_used - 8) bad("has a slot pointing outside its heap");
        uint32_t len;
        std::memcpy(&len, heap + s, 4);
        uint8_t enc = static_cast<uint8_t>(heap[s + 4]);
        if (record_bytes(len) > h->heap_used - s) bad("has a string running past its heap");
        if (enc > kEncNative) bad("has an unknown string encoding");
        if (len > INT_MAX) bad("has a string longer than R allows");
        if (std::memchr(heap + s + 8, 0, len) != nullptr) bad("has a string with an embedded NUL");
        records.emplace_back(s, record_bytes(len));
    }
    std::sort(records.begin(), records.end());
    uint64_t live = 0;
    for (size_t k = 0; k < records.size(); ++k) {
        if (k > 0 && records[k - 1].first + records[k - 1].second > records[k].first)
            bad("has strings that overlap or are shared between elements");
        live += records[k].second;
    }
    if (live + h->garbage > h->heap_used - 8) bad("has heap counters that disagree with its strings");
}

std::vector<uint8_t> make_meta(int sexptype, uint64_t length, const uint8_t *attrs, size_t attr_len) {
    if (attr_len > UINT32_MAX) fail("invalid", "the attributes are too large to store");
    VecMeta m{};
    m.magic = kMetaMagic;
    m.version = kMetaVersion;
    m.sexptype = static_cast<uint32_t>(sexptype);
    m.attr_len = static_cast<uint32_t>(attr_len);
    m.length = length;
    std::vector<uint8_t> out(sizeof m + attr_len);
    std::memcpy(out.data(), &m, sizeof m);
    if (attr_len) std::memcpy(out.data() + sizeof m, attrs, attr_len);
    return out;
}

// ---------------------------------------------------------------- runtimes
std::vector<Runtime *> &open_runtimes() {
    static std::vector<Runtime *> all;
    return all;
}

Runtime *find_runtime_by_uuid(const std::string &uuid) {
    for (Runtime *rt : open_runtimes())
        if (rt->uuid == uuid && rt->robj != R_NilValue) return rt;
    return nullptr;
}

static std::string canonical(const std::string &path) {
    char *r = realpath(path.c_str(), nullptr);
    if (!r) return path;
    std::string s(r);
    free(r);
    return s;
}

Runtime *find_runtime_by_path(const std::string &path, bool readonly) {
    std::string c = canonical(path);
    for (Runtime *rt : open_runtimes())
        if (rt->persistent && !rt->close_requested && rt->readonly == readonly && canonical(rt->path) == c)
            return rt;
    return nullptr;
}

Runtime *runtime_open(const std::string &path, double max_gb, bool scratch, bool readonly) {
    fmrt_options o = FMRT_OPTIONS_INIT;
    o.mode = scratch ? FMRT_MODE_SCRATCH : FMRT_MODE_PERSISTENT;
    o.flags = readonly ? FMRT_OPEN_READONLY : FMRT_OPEN_CREATE;
    if (max_gb > 0) o.max_size = static_cast<uint64_t>(std::ceil(max_gb * 1073741824.0));
    fmrt_runtime *h = nullptr;
    int st = fmrt_runtime_open(&h, path.empty() ? nullptr : path.c_str(), &o);
    if (st == FMRT_EBUSY && !scratch) {
        const std::string c = canonical(path);
        for (Runtime *other : open_runtimes())
            if (other->persistent && canonical(other->path) == c)
                fail("busy", "cannot open '" + path + "': this R session still has it open" +
                                 (other->close_requested
                                      ? std::string(" (cleanup was requested, but vectors of it are still alive: "
                                                    "remove them and run gc())")
                                      : std::string(other->readonly ? " read-only" : " read-write")));
    }
    if (st != FMRT_OK) fail_status(st, "cannot open '" + path + "'");
    fmrt_stats s = FMRT_STATS_INIT;
    st = fmrt_runtime_stats(&s, h);
    if (st != FMRT_OK) {
        fmrt_runtime_close(h);
        fail_status(st, "cannot read the statistics of '" + path + "'");
    }
    auto *rt = new Runtime;
    rt->h = h;
    const char *p = fmrt_runtime_path(h);
    rt->path = p ? p : path;
    char hex[33];
    for (int i = 0; i < 16; ++i) std::snprintf(hex + 2 * i, 3, "%02x", s.uuid[i]);
    rt->uuid = hex;
    rt->persistent = !scratch;
    rt->readonly = readonly;
    open_runtimes().push_back(rt);
    return rt;
}

static SEXP runtime_tag() {
    static SEXP tag = nullptr;
    if (!tag) tag = Rf_install("Rfmalloc_runtime");
    return tag;
}

static void runtime_finalizer(SEXP ep) {
    auto *rt = static_cast<Runtime *>(R_ExternalPtrAddr(ep));
    if (!rt) return;
    R_ClearExternalPtr(ep);
    rt->robj = R_NilValue;
    runtime_request_close(rt);
    runtime_unref(rt);
}

SEXP make_runtime_object(Runtime *rt) {
    SEXP ep = PROTECT(R_MakeExternalPtr(rt, runtime_tag(), R_NilValue));
    R_RegisterCFinalizerEx(ep, runtime_finalizer, TRUE);
    Rf_setAttrib(ep, R_ClassSymbol, Rf_mkString("fmalloc_runtime"));
    rt->robj = ep;
    UNPROTECT(1);
    return ep;
}

Runtime *runtime_from(SEXP robj) {
    if (TYPEOF(robj) != EXTPTRSXP || R_ExternalPtrTag(robj) != runtime_tag())
        fail("invalid", "'runtime' is not an Rfmalloc runtime (make one with open_fmalloc())");
    auto *rt = static_cast<Runtime *>(R_ExternalPtrAddr(robj));
    if (!rt) fail("closed", "the runtime is closed (or comes from another R session)");
    auto &all = open_runtimes();
    if (std::find(all.begin(), all.end(), rt) == all.end())
        fail("closed", "the runtime is closed (or comes from another R session)");
    return rt;
}

Runtime *usable_runtime(SEXP robj) {
    Runtime *rt = runtime_from(robj);
    if (rt->close_requested) fail("closed", "the runtime for '" + rt->path + "' was cleaned up");
    return rt;
}

bool runtime_request_close(Runtime *rt) {
    if (rt->close_requested) return false;
    rt->close_requested = true;
    return true;
}

void runtime_unref(Runtime *rt) {
    if (--rt->refs > 0) return;
    auto &all = open_runtimes();
    all.erase(std::remove(all.begin(), all.end(), rt), all.end());
    if (rt->robj != R_NilValue) R_ClearExternalPtr(rt->robj);
    // A failed final sync cannot be reported from a finalizer; the file's
    // unclean flag then makes the next open check it.
    fmrt_runtime_close(rt->h);
    delete rt;
}

// ---------------------------------------------------------------- allocations
Alloc *alloc_get(Runtime *rt, void *ptr, int sexptype, R_xlen_t length) {
    uint64_t off = fmrt_ptr_to_offset(rt->h, ptr);
    auto it = rt->live.find(off);
    if (it != rt->live.end()) return it->second;
    auto *a = new Alloc;
    a->rt = rt;
    a->ptr = ptr;
    a->offset = off;
    a->sexptype = sexptype;
    a->length = length;
    rt->live.emplace(off, a);
    ++rt->refs;
    return a;
}

namespace {
uint64_t g_transient_bytes = 0;            // owned allocations R holds
uint64_t g_gc_trigger = uint64_t(64) << 20; // run R's GC past this
} // namespace

void own(Alloc *a, uint64_t bytes) {
    a->owned = true;
    g_transient_bytes += bytes - a->owned_bytes;
    a->owned_bytes = bytes;
}

void reserve_transient(uint64_t bytes) {
    if (g_transient_bytes + bytes <= g_gc_trigger) return;
    R_gc();
    g_gc_trigger = std::max<uint64_t>(uint64_t(64) << 20, 2 * (g_transient_bytes + bytes));
}

void alloc_release(Alloc *a) {
    if (--a->refs > 0) return;
    Runtime *rt = a->rt;
    g_transient_bytes -= a->owned_bytes;
    if (a->strcache) R_ReleaseObject(a->strcache);
    rt->live.erase(a->offset);
    if (a->owned && !rt->readonly) fmrt_free(rt->h, a->ptr);
    delete a;
    runtime_unref(rt);
}

void *heap_alloc(Runtime *rt, uint64_t bytes, bool zero, bool transient, const char *what) {
    if (rt->readonly) fail("readonly", std::string("cannot store ") + what + ": the runtime for '" + rt->path + "' is read-only");
    if (bytes > SIZE_MAX) fail("nomem", std::string("cannot store ") + what + ": too large");
    unsigned flags = (zero ? FMRT_ALLOC_ZERO : 0u) | (transient ? FMRT_ALLOC_TRANSIENT : 0u);
    void *p = fmrt_alloc(rt->h, bytes ? bytes : 1, 16, flags);
    if (!p) {
        char b[64];
        std::snprintf(b, sizeof b, " (%.0f bytes)", static_cast<double>(bytes));
        fail_status(fmrt_last_status(), std::string("cannot store ") + what + b + " in '" + rt->path + "'");
    }
    return p;
}

std::string generated_name() {
    static uint64_t counter = 0;
    auto now = std::chrono::system_clock::now().time_since_epoch();
    long long us = std::chrono::duration_cast<std::chrono::microseconds>(now).count();
    char b[96];
    std::snprintf(b, sizeof b, ".anon/%lld-%ld-%llu", us, static_cast<long>(getpid()),
                  static_cast<unsigned long long>(++counter));
    return b;
}

} // namespace rfm
