// altrep.cpp - the ALTREP classes: R vectors whose data are an allocation in
// a heap file.
//
// data1 of each vector is an external pointer to its Alloc (tag
// Rfmalloc_vector, protecting the runtime's R object); data2 is unused.  The
// atomic types hand R the mapped memory itself; character vectors keep one
// string blob in the file and materialize an ordinary STRSXP (shared by all
// R objects of the allocation) only when R asks for a data pointer.
// Copies R makes (Duplicate, Extract_subset, Coerce) become transient
// allocations in the same file when they are large, ordinary R vectors when
// small.  Errors inside a method are raised after every C++ frame is gone.
//
// SPDX-License-Identifier: GPL-2.0-or-later
#include "rfmalloc.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>

namespace rfm {
namespace {

R_altrep_class_t cls_lgl, cls_int, cls_real, cls_cplx, cls_raw, cls_str;

SEXP vec_tag() {
    static SEXP tag = nullptr;
    if (!tag) tag = Rf_install("Rfmalloc_vector");
    return tag;
}

bool ours(SEXP x) {
    return ALTREP(x) && (R_altrep_inherits(x, cls_int) || R_altrep_inherits(x, cls_real) ||
                         R_altrep_inherits(x, cls_lgl) || R_altrep_inherits(x, cls_str) ||
                         R_altrep_inherits(x, cls_raw) || R_altrep_inherits(x, cls_cplx));
}

// The Alloc of one of our vectors.  NULL only after its finalizer ran while
// R could still reach it (finalizers at exit run in any order): then a
// classed error, never a crash.
inline Alloc *A(SEXP x) {
    auto *a = static_cast<Alloc *>(R_ExternalPtrAddr(R_altrep_data1(x)));
    if (!a) raise("closed", "this Rfmalloc vector was released (its runtime is closing)");
    return a;
}

// Runs f; a Failure or C++ exception becomes a classed R error raised once
// every C++ object of f's frames is destroyed.
template <class F> auto guarded(F &&f) -> decltype(f()) {
    static char kind[32];
    static char msg[2048];
    {
        try {
            return f();
        } catch (Failure &e) {
            std::snprintf(kind, sizeof kind, "%s", e.kind.c_str());
            std::snprintf(msg, sizeof msg, "%s", e.message.c_str());
        } catch (std::bad_alloc &) {
            std::snprintf(kind, sizeof kind, "nomem");
            std::snprintf(msg, sizeof msg, "out of memory");
        } catch (std::exception &e) {
            std::snprintf(kind, sizeof kind, "internal");
            std::snprintf(msg, sizeof msg, "%s", e.what());
        }
    }
    raise(kind, msg);
}

uint64_t data_bytes(const Alloc *a) {
    if (a->sexptype == STRSXP) {
        auto *h = static_cast<const StrHeader *>(a->ptr);
        return blob_bytes(h->length, h->heap_used - h->garbage);
    }
    return static_cast<uint64_t>(a->length) * element_size(a->sexptype);
}

// May R's copy of this many bytes go into the file?
bool copy_in_file(const Alloc *a, double bytes) {
    const Runtime *rt = a->rt;
    return !rt->readonly && !rt->close_requested && bytes >= transient_threshold();
}

// ---------------------------------------------------------------- strings
SEXP str_elt(const Alloc *a, R_xlen_t i) {
    // Once R holds a data pointer, the materialized copy is what R may have
    // written through; Set_elt keeps both up to date.
    if (a->strcache) return STRING_ELT(a->strcache, i);
    uint64_t s = str_slots(a->ptr)[i];
    if (s == 0) return R_BlankString;
    if (s == kNaSlot) return NA_STRING;
    const char *rec = str_heap(a->ptr) + s;
    uint32_t len;
    std::memcpy(&len, rec, 4);
    const uint8_t enc = static_cast<uint8_t>(rec[4]);
    switch (enc) {
    case kEncBytes: return Rf_mkCharLenCE(rec + 8, static_cast<int>(len), CE_BYTES);
    case kEncUtf8: return Rf_mkCharLenCE(rec + 8, static_cast<int>(len), CE_UTF8);
    case kEncLatin1:
    case kEncNative: {
        // Back to the string's own encoding (the record holds UTF-8).
        const void *vmax = vmaxget();
        std::string utf8(rec + 8, len);
        const cetype_t to = enc == kEncLatin1 ? CE_LATIN1 : CE_NATIVE;
        const char *back = Rf_reEnc(utf8.c_str(), CE_UTF8, to, 1);
        SEXP c = Rf_mkCharCE(back, to);
        vmaxset(vmax);
        return c;
    }
    default: return Rf_mkCharLenCE(rec + 8, static_cast<int>(len), CE_NATIVE);
    }
}

// The bytes and encoding a CHARSXP is stored with.
const char *encode(SEXP c, size_t *len, uint8_t *enc) {
    cetype_t ce = Rf_getCharCE(c);
    const char *s = CHAR(c);
    if (ce == CE_BYTES || ce == CE_UTF8) {
        *enc = ce == CE_BYTES ? kEncBytes : kEncUtf8;
        *len = static_cast<size_t>(LENGTH(c));
        return s;
    }
    bool ascii = true;
    for (int k = 0; k < LENGTH(c) && ascii; ++k) ascii = static_cast<unsigned char>(s[k]) < 0x80;
    if (ascii) {
        *enc = kEncAscii;
        *len = static_cast<size_t>(LENGTH(c));
        return s;
    }
    const char *u = Rf_translateCharUTF8(c);
    *enc = ce == CE_LATIN1 ? kEncLatin1 : kEncNative;
    *len = std::strlen(u);
    return u;
}

uint64_t put_record(void *blob, const char *bytes, size_t len, uint8_t enc) {
    auto *h = static_cast<StrHeader *>(blob);
    char *rec = str_heap(blob) + h->heap_used;
    uint32_t l32 = static_cast<uint32_t>(len);
    std::memcpy(rec, &l32, 4);
    rec[4] = static_cast<char>(enc);
    rec[5] = rec[6] = rec[7] = 0;
    std::memcpy(rec + 8, bytes, len);
    uint64_t at = h->heap_used;
    h->heap_used += record_bytes(len);
    return at;
}

uint64_t record_len_at(void *blob, uint64_t slot) {
    uint32_t len;
    std::memcpy(&len, str_heap(blob) + slot, 4);
    return len;
}

// Moves a's strings to a new, compacted blob with room for `need` more heap
// bytes; the catalog entry (when named) is swapped to it in one step.
void str_rebuild(Alloc *a, uint64_t need) {
    Runtime *rt = a->rt;
    auto *h = static_cast<StrHeader *>(a->ptr);
    uint64_t live = 0; // from the records themselves, not the counters
    for (uint64_t i = 0; i < h->length; ++i) {
        uint64_t s = str_slots(a->ptr)[i];
        if (s != 0 && s != kNaSlot) live += record_bytes(record_len_at(a->ptr, s));
    }
    if (live > (UINT64_MAX / 4) || need > (UINT64_MAX / 4)) fail("nomem", "a character vector is too large");
    uint64_t cap = std::max<uint64_t>(64, 2 * (live + need));
    uint64_t total = blob_bytes(h->length, cap);
    if (total == 0) fail("nomem", "a character vector is too large");
    void *nb = heap_alloc(rt, total, false, true, "a character vector");
    auto *nh = static_cast<StrHeader *>(nb);
    *nh = StrHeader{};
    nh->magic = kStrMagic;
    nh->length = h->length;
    nh->heap_used = 8;
    nh->heap_cap = cap;
    uint64_t *os = str_slots(a->ptr), *ns = str_slots(nb);
    for (uint64_t i = 0; i < h->length; ++i) {
        uint64_t s = os[i];
        if (s == 0 || s == kNaSlot) {
            ns[i] = s;
            continue;
        }
        const char *rec = str_heap(a->ptr) + s;
        ns[i] = put_record(nb, rec + 8, record_len_at(a->ptr, s), static_cast<uint8_t>(rec[4]));
    }
    if (!a->name.empty()) {
        fmrt_entry e = FMRT_ENTRY_INIT;
        int st = fmrt_catalog_get(&e, rt->h, a->name.c_str());
        std::vector<uint8_t> meta;
        if (st == FMRT_OK) meta.assign(static_cast<const uint8_t *>(e.meta), static_cast<const uint8_t *>(e.meta) + e.meta_len);
        if (st == FMRT_OK)
            st = fmrt_catalog_put(rt->h, a->name.c_str(), nb, total, kEntryTag, meta.data(), meta.size(),
                                  FMRT_PUT_REPLACE | FMRT_PUT_FREE_REPLACED);
        if (st != FMRT_OK) {
            fmrt_free(rt->h, nb);
            fail_status(st, "cannot grow the character vector '" + a->name + "'");
        }
    } else {
        fmrt_free(rt->h, a->ptr);
    }
    rt->live.erase(a->offset);
    a->ptr = nb;
    a->offset = fmrt_ptr_to_offset(rt->h, nb);
    rt->live.emplace(a->offset, a);
}

void str_set(Alloc *a, R_xlen_t i, SEXP v) {
    if (a->rt->readonly) fail("readonly", "cannot write: the runtime for '" + a->rt->path + "' is read-only");
    uint64_t slot = kNaSlot;
    if (v != NA_STRING) {
        size_t len;
        uint8_t enc;
        const char *bytes = encode(v, &len, &enc);
        if (len == 0) {
            slot = 0;
        } else {
            uint64_t need = record_bytes(len);
            auto *h = static_cast<StrHeader *>(a->ptr);
            if (h->heap_cap - h->heap_used < need) str_rebuild(a, need);
            slot = put_record(a->ptr, bytes, len, enc);
        }
    }
    auto *h = static_cast<StrHeader *>(a->ptr);
    uint64_t *slots = str_slots(a->ptr);
    uint64_t old = slots[i];
    if (old != 0 && old != kNaSlot) h->garbage += record_bytes(record_len_at(a->ptr, old));
    if (h->garbage > h->heap_used) h->garbage = h->heap_used; // never wraps str_rebuild's sums
    slots[i] = slot;
    if (a->strcache) SET_STRING_ELT(a->strcache, i, v);
}

SEXP str_cache(Alloc *a) {
    if (!a->strcache) {
        SEXP s = PROTECT(Rf_allocVector(STRSXP, a->length));
        for (R_xlen_t i = 0; i < a->length; ++i) SET_STRING_ELT(s, i, str_elt(a, i));
        R_PreserveObject(s);
        a->strcache = s;
        UNPROTECT(1);
    }
    return a->strcache;
}

// ---------------------------------------------------------------- finalizer
void vec_finalizer(SEXP ep) {
    auto *a = static_cast<Alloc *>(R_ExternalPtrAddr(ep));
    if (!a) return;
    R_ClearExternalPtr(ep);
    alloc_release(a);
}

R_altrep_class_t class_for(int t) {
    switch (t) {
    case LGLSXP: return cls_lgl;
    case INTSXP: return cls_int;
    case REALSXP: return cls_real;
    case CPLXSXP: return cls_cplx;
    case RAWSXP: return cls_raw;
    default: return cls_str;
    }
}

// ---------------------------------------------------------------- methods
R_xlen_t m_length(SEXP x) {
    const auto *a = static_cast<const Alloc *>(R_ExternalPtrAddr(R_altrep_data1(x)));
    return a ? a->length : 0;
}

Rboolean m_inspect(SEXP x, int, int, int, void (*)(SEXP, int, int, int)) {
    const auto *a = static_cast<const Alloc *>(R_ExternalPtrAddr(R_altrep_data1(x)));
    if (!a) {
        Rprintf(" Rfmalloc vector (released)\n");
        return TRUE;
    }
    Rprintf(" Rfmalloc %s [%s%s] offset %llu in %s%s%s\n", type_name(a->sexptype),
            a->rt->persistent ? "persistent" : "scratch", a->transient ? ", transient" : "",
            static_cast<unsigned long long>(a->offset), a->rt->path.c_str(), a->name.empty() ? "" : " as ",
            a->name.c_str());
    return TRUE;
}

void *m_dataptr(SEXP x, Rboolean) {
    Alloc *a = A(x);
    if (a->sexptype == STRSXP) return static_cast<void *>(STRING_PTR(str_cache(a)));
    return a->ptr;
}

const void *m_dataptr_or_null(SEXP x) {
    Alloc *a = A(x);
    if (a->sexptype == STRSXP) return a->strcache ? static_cast<const void *>(STRING_PTR(a->strcache)) : nullptr;
    return a->ptr;
}

SEXP m_duplicate(SEXP x, Rboolean) {
    Alloc *a = A(x);
    // Character copies stay ordinary R vectors: R writes into duplicates
    // through their data pointer (sort, for one), which a string blob
    // cannot follow.
    if (a->sexptype == STRSXP) return nullptr;
    if (!copy_in_file(a, static_cast<double>(data_bytes(a)))) return nullptr;
    reserve_transient(data_bytes(a));
    Alloc *c = guarded([&] { return copy_into(a->rt, x, true); });
    return make_vector(c, true);
}

// dst[k] = src[idx[k] - 1], or na where the index is NA or out of range.
// Indices come by regions, so ALTREP indices (1:n) are never expanded.
template <class T> void gather(T *dst, const T *src, R_xlen_t len, SEXP indx, T na) {
    const R_xlen_t n = XLENGTH(indx);
    constexpr R_xlen_t kChunk = 4096;
    if (TYPEOF(indx) == INTSXP) {
        int buf[kChunk];
        for (R_xlen_t at = 0; at < n;) {
            R_xlen_t got = INTEGER_GET_REGION(indx, at, std::min(kChunk, n - at), buf);
            if (got <= 0) break;
            for (R_xlen_t k = 0; k < got; ++k) {
                const int i = buf[k]; // NA_INTEGER is negative
                dst[at + k] = i >= 1 && i <= len ? src[i - 1] : na;
            }
            at += got;
        }
    } else {
        double buf[kChunk];
        const double dlen = static_cast<double>(len);
        for (R_xlen_t at = 0; at < n;) {
            R_xlen_t got = REAL_GET_REGION(indx, at, std::min(kChunk, n - at), buf);
            if (got <= 0) break;
            for (R_xlen_t k = 0; k < got; ++k) {
                const double i = buf[k]; // NaN fails both comparisons
                dst[at + k] = i >= 1 && i <= dlen ? src[static_cast<R_xlen_t>(i) - 1] : na;
            }
            at += got;
        }
    }
}

SEXP m_extract_subset(SEXP x, SEXP indx, SEXP) {
    Alloc *a = A(x);
    if (a->sexptype == STRSXP || (TYPEOF(indx) != INTSXP && TYPEOF(indx) != REALSXP)) return nullptr;
    const size_t es = element_size(a->sexptype);
    const R_xlen_t n = XLENGTH(indx);
    if (!copy_in_file(a, static_cast<double>(n) * static_cast<double>(es))) return nullptr;
    Runtime *rt = a->rt;
    reserve_transient(static_cast<uint64_t>(n) * es);
    void *p = guarded([&] { return heap_alloc(rt, static_cast<uint64_t>(n) * es, false, true, "a subset"); });
    const R_xlen_t len = a->length;
    switch (a->sexptype) {
    case LGLSXP:
    case INTSXP:
        gather(static_cast<int *>(p), static_cast<const int *>(a->ptr), len, indx, NA_INTEGER);
        break;
    case REALSXP:
        gather(static_cast<double *>(p), static_cast<const double *>(a->ptr), len, indx, NA_REAL);
        break;
    case CPLXSXP: {
        Rcomplex na;
        na.r = na.i = NA_REAL;
        gather(static_cast<Rcomplex *>(p), static_cast<const Rcomplex *>(a->ptr), len, indx, na);
        break;
    }
    default:
        gather(static_cast<Rbyte *>(p), static_cast<const Rbyte *>(a->ptr), len, indx, static_cast<Rbyte>(0));
        break;
    }
    Alloc *c = alloc_get(rt, p, a->sexptype, n);
    own(c, static_cast<uint64_t>(n) * es);
    c->transient = true;
    return make_vector(c, true);
}

SEXP m_coerce(SEXP x, int type) {
    Alloc *a = A(x);
    if (type != REALSXP || (a->sexptype != INTSXP && a->sexptype != LGLSXP)) return nullptr;
    if (!copy_in_file(a, static_cast<double>(a->length) * sizeof(double))) return nullptr;
    Runtime *rt = a->rt;
    reserve_transient(static_cast<uint64_t>(a->length) * sizeof(double));
    void *p = guarded([&] {
        return heap_alloc(rt, static_cast<uint64_t>(a->length) * sizeof(double), false, true, "a coerced copy");
    });
    const int *src = static_cast<const int *>(a->ptr);
    double *dst = static_cast<double *>(p);
    for (R_xlen_t i = 0; i < a->length; ++i) dst[i] = src[i] == NA_INTEGER ? NA_REAL : src[i];
    Alloc *c = alloc_get(rt, p, REALSXP, a->length);
    own(c, static_cast<uint64_t>(a->length) * sizeof(double));
    c->transient = true;
    return make_vector(c, true);
}

constexpr const char *kRefFormat = "rfmalloc-ref-1";

SEXP m_serialized_state(SEXP x) {
    const Alloc *a = A(x);
    if (a->transient) return nullptr;
    if (a->name.empty() || !a->rt->persistent) return nullptr;
    SEXP opt = Rf_GetOption1(Rf_install("rfmalloc.serialize"));
    if (TYPEOF(opt) == STRSXP && XLENGTH(opt) == 1 && std::strcmp(CHAR(STRING_ELT(opt, 0)), "value") == 0)
        return nullptr;
    SEXP s = PROTECT(Rf_allocVector(STRSXP, 6));
    SET_STRING_ELT(s, 0, Rf_mkChar(kRefFormat));
    SET_STRING_ELT(s, 1, Rf_mkChar(a->rt->uuid.c_str()));
    SET_STRING_ELT(s, 2, Rf_mkCharCE(a->name.c_str(), CE_UTF8));
    SET_STRING_ELT(s, 3, Rf_mkCharCE(a->rt->path.c_str(), CE_UTF8));
    SET_STRING_ELT(s, 4, Rf_mkChar(type_name(a->sexptype)));
    SET_STRING_ELT(s, 5, Rf_mkChar(std::to_string(static_cast<long long>(a->length)).c_str()));
    UNPROTECT(1);
    return s;
}

SEXP load_reference(SEXP state);

SEXP m_unserialize(SEXP, SEXP state) { return load_reference(state); }

// Elements and regions of the fixed-width types.
template <class T> T elt(SEXP x, R_xlen_t i) { return static_cast<const T *>(A(x)->ptr)[i]; }

template <class T> R_xlen_t region(SEXP x, R_xlen_t i, R_xlen_t n, T *buf) {
    const Alloc *a = A(x);
    R_xlen_t k = std::max<R_xlen_t>(0, std::min(n, a->length - i));
    if (k > 0) std::memcpy(buf, static_cast<const T *>(a->ptr) + i, static_cast<size_t>(k) * sizeof(T));
    return k;
}

SEXP m_str_elt(SEXP x, R_xlen_t i) { return str_elt(A(x), i); }

void m_str_set_elt(SEXP x, R_xlen_t i, SEXP v) {
    Alloc *a = A(x);
    guarded([&] {
        str_set(a, i, v);
        return 0;
    });
}

void set_common_methods(R_altrep_class_t c) {
    R_set_altrep_Length_method(c, m_length);
    R_set_altrep_Inspect_method(c, m_inspect);
    R_set_altrep_Duplicate_method(c, m_duplicate);
    R_set_altrep_Serialized_state_method(c, m_serialized_state);
    R_set_altrep_Unserialize_method(c, m_unserialize);
    R_set_altvec_Dataptr_method(c, m_dataptr);
    R_set_altvec_Dataptr_or_null_method(c, m_dataptr_or_null);
    R_set_altvec_Extract_subset_method(c, m_extract_subset);
}

} // namespace

// ---------------------------------------------------------------- shared
double transient_threshold() {
    SEXP opt = Rf_GetOption1(Rf_install("rfmalloc.transient_threshold"));
    if ((TYPEOF(opt) == REALSXP || TYPEOF(opt) == INTSXP) && XLENGTH(opt) == 1) {
        double v = Rf_asReal(opt);
        if (!ISNAN(v) && v >= 0) return v;
    }
    return 1048576.0;
}

SEXP make_vector(Alloc *a, bool mutable_) {
    SEXP ep = PROTECT(R_MakeExternalPtr(a, vec_tag(), a->rt->robj));
    ++a->refs;
    R_RegisterCFinalizerEx(ep, vec_finalizer, TRUE);
    SEXP x = PROTECT(R_new_altrep(class_for(a->sexptype), ep, R_NilValue));
    if (!mutable_) MARK_NOT_MUTABLE(x);
    UNPROTECT(2);
    return x;
}

Alloc *alloc_of(SEXP x) {
    for (int depth = 0; depth < 16 && ALTREP(x); ++depth) {
        if (ours(x)) return A(x);
        // base R's wrapper classes keep the wrapped vector in data1.
        SEXP d = R_altrep_data1(x);
        if (!ALTREP(d) || TYPEOF(d) != TYPEOF(x) || XLENGTH(d) != XLENGTH(x)) return nullptr;
        x = d;
    }
    return nullptr;
}

void *blob_from(Runtime *rt, SEXP x, R_xlen_t length, bool transient, uint64_t *bytes_out) {
    const void *vmax = vmaxget();
    uint64_t heap = 8;
    if (x != R_NilValue) {
        for (R_xlen_t i = 0; i < length; ++i) {
            SEXP c = STRING_ELT(x, i);
            if (c == NA_STRING) continue;
            size_t len;
            uint8_t enc;
            encode(c, &len, &enc);
            if (len) heap += record_bytes(len);
            if ((i & 1023) == 0) vmaxset(vmax);
        }
    }
    heap += 64; // room for a few small assignments before the first regrowth
    uint64_t total = blob_bytes(static_cast<uint64_t>(length), heap);
    if (total == 0) fail("nomem", "the character vector is too large");
    void *b = heap_alloc(rt, total, false, transient, "a character vector");
    auto *h = static_cast<StrHeader *>(b);
    *h = StrHeader{};
    h->magic = kStrMagic;
    h->length = static_cast<uint64_t>(length);
    h->heap_used = 8;
    h->heap_cap = heap;
    uint64_t *slots = str_slots(b);
    for (R_xlen_t i = 0; i < length; ++i) {
        SEXP c = x == R_NilValue ? R_BlankString : STRING_ELT(x, i);
        if (c == NA_STRING) {
            slots[i] = kNaSlot;
            continue;
        }
        size_t len;
        uint8_t enc;
        const char *bytes = encode(c, &len, &enc);
        slots[i] = len ? put_record(b, bytes, len, enc) : 0;
        if ((i & 1023) == 0) vmaxset(vmax);
    }
    vmaxset(vmax);
    *bytes_out = total;
    return b;
}

Alloc *copy_into(Runtime *rt, SEXP x, bool transient) {
    const int t = TYPEOF(x);
    const R_xlen_t n = XLENGTH(x);
    void *p;
    if (t == STRSXP) {
        uint64_t bytes;
        p = blob_from(rt, x, n, transient, &bytes);
    } else {
        const size_t es = element_size(t);
        if (es == 0) fail("type", std::string("cannot store an object of type '") + Rf_type2char(static_cast<SEXPTYPE>(t)) + "'");
        const uint64_t bytes = static_cast<uint64_t>(n) * es;
        p = heap_alloc(rt, bytes, false, transient, "a vector");
        const void *src = DATAPTR_OR_NULL(x);
        if (src) {
            std::memcpy(p, src, bytes);
        } else {
            // An ALTREP source without a data pointer: copy by regions.
            for (R_xlen_t i = 0; i < n;) {
                R_xlen_t k = 0, want = std::min<R_xlen_t>(n - i, 65536);
                char *d = static_cast<char *>(p) + static_cast<size_t>(i) * es;
                switch (t) {
                case LGLSXP: k = LOGICAL_GET_REGION(x, i, want, reinterpret_cast<int *>(d)); break;
                case INTSXP: k = INTEGER_GET_REGION(x, i, want, reinterpret_cast<int *>(d)); break;
                case REALSXP: k = REAL_GET_REGION(x, i, want, reinterpret_cast<double *>(d)); break;
                case CPLXSXP: k = COMPLEX_GET_REGION(x, i, want, reinterpret_cast<Rcomplex *>(d)); break;
                default: k = RAW_GET_REGION(x, i, want, reinterpret_cast<Rbyte *>(d)); break;
                }
                if (k <= 0) break;
                i += k;
            }
        }
    }
    Alloc *a = alloc_get(rt, p, t, n);
    own(a, fmrt_usable_size(rt->h, p));
    a->transient = transient;
    return a;
}

void register_classes(DllInfo *dll) {
    const char *pkg = "Rfmalloc";
    // Class names are part of the serialized form: never rename them.
    cls_lgl = R_make_altlogical_class("Rfmalloc_logical", pkg, dll);
    cls_int = R_make_altinteger_class("Rfmalloc_integer", pkg, dll);
    cls_real = R_make_altreal_class("Rfmalloc_double", pkg, dll);
    cls_cplx = R_make_altcomplex_class("Rfmalloc_complex", pkg, dll);
    cls_raw = R_make_altraw_class("Rfmalloc_raw", pkg, dll);
    cls_str = R_make_altstring_class("Rfmalloc_character", pkg, dll);
    for (auto c : {cls_lgl, cls_int, cls_real, cls_cplx, cls_raw, cls_str}) set_common_methods(c);
    R_set_altrep_Coerce_method(cls_int, m_coerce);
    R_set_altrep_Coerce_method(cls_lgl, m_coerce);

    R_set_altlogical_Elt_method(cls_lgl, [](SEXP x, R_xlen_t i) { return elt<int>(x, i); });
    R_set_altlogical_Get_region_method(cls_lgl, region<int>);
    R_set_altinteger_Elt_method(cls_int, [](SEXP x, R_xlen_t i) { return elt<int>(x, i); });
    R_set_altinteger_Get_region_method(cls_int, region<int>);
    R_set_altreal_Elt_method(cls_real, [](SEXP x, R_xlen_t i) { return elt<double>(x, i); });
    R_set_altreal_Get_region_method(cls_real, region<double>);
    R_set_altcomplex_Elt_method(cls_cplx, [](SEXP x, R_xlen_t i) { return elt<Rcomplex>(x, i); });
    R_set_altcomplex_Get_region_method(cls_cplx, region<Rcomplex>);
    R_set_altraw_Elt_method(cls_raw, [](SEXP x, R_xlen_t i) { return elt<Rbyte>(x, i); });
    R_set_altraw_Get_region_method(cls_raw, region<Rbyte>);
    R_set_altstring_Elt_method(cls_str, m_str_elt);
    R_set_altstring_Set_elt_method(cls_str, m_str_set_elt);
}

// ---------------------------------------------------------------- attributes
namespace {
struct AttrJob {
    SEXP v;
    SEXP attrs;
};

SEXP set_attrs_job(void *data) {
    auto *job = static_cast<AttrJob *>(data);
    SEXP names = Rf_getAttrib(job->attrs, R_NamesSymbol);
    if (TYPEOF(names) != STRSXP) return R_NilValue;
    for (R_xlen_t i = 0; i < XLENGTH(job->attrs); ++i)
        Rf_setAttrib(job->v, Rf_installChar(STRING_ELT(names, i)), VECTOR_ELT(job->attrs, i));
    return R_NilValue;
}

SEXP attrs_failed(SEXP, void *data) {
    *static_cast<bool *>(data) = true;
    return R_NilValue;
}
} // namespace

bool set_attributes_from(SEXP v, const uint8_t *blob, size_t len) {
    // In C, without an R closure holding v: R would count that as a second
    // reference and copy a writable vector before its first write.
    SEXP raw = PROTECT(Rf_allocVector(RAWSXP, static_cast<R_xlen_t>(len)));
    std::memcpy(RAW(raw), blob, len);
    SEXP call = PROTECT(Rf_lang2(Rf_install("unserialize"), raw));
    int err = 0;
    SEXP attrs = PROTECT(R_tryEvalSilent(call, R_BaseEnv, &err));
    bool ok = false;
    if (!err && TYPEOF(attrs) == VECSXP) {
        AttrJob job{v, attrs};
        bool failed = false;
        R_tryCatchError(set_attrs_job, &job, attrs_failed, &failed);
        ok = !failed;
        if (!ok) SET_ATTRIB(v, R_NilValue); // all or nothing
    }
    UNPROTECT(3);
    return ok;
}

// ---------------------------------------------------------------- loading
SEXP load_vector(Runtime *rt, const std::string &name, bool mutable_, bool with_attributes);

namespace {
SEXP load_reference(SEXP state) {
    if (TYPEOF(state) != STRSXP || XLENGTH(state) != 6 || std::strcmp(CHAR(STRING_ELT(state, 0)), kRefFormat) != 0)
        raise("format", "cannot read an Rfmalloc reference written by another version of Rfmalloc");
    return guarded([&] {
        std::string uuid = CHAR(STRING_ELT(state, 1));
        std::string name = Rf_translateCharUTF8(STRING_ELT(state, 2));
        std::string path = Rf_translateCharUTF8(STRING_ELT(state, 3));
        Runtime *rt = find_runtime_by_uuid(uuid);
        if (!rt) {
            try {
                rt = runtime_open(path, 0, false, true);
            } catch (Failure &e) {
                fail("unresolved", "cannot resolve the Rfmalloc vector '" + name + "' of heap " + uuid +
                                       ": no open runtime has that heap, and its last path '" + path +
                                       "' cannot be opened (" + e.message +
                                       "); open the file with open_fmalloc() first");
            }
            if (rt->uuid != uuid) {
                rt->close_requested = true;
                runtime_unref(rt);
                fail("unresolved", "cannot resolve the Rfmalloc vector '" + name + "': the file at '" + path +
                                       "' is a different heap (" + uuid + " was expected)");
            }
            make_runtime_object(rt);
        }
        PROTECT(rt->robj);
        SEXP v;
        try {
            v = load_vector(rt, name, false, false);
        } catch (...) {
            UNPROTECT(1);
            throw;
        }
        UNPROTECT(1);
        // R puts the serialized attributes (dims...) back on what we return:
        // it must still be the vector that was written.
        const std::string type = CHAR(STRING_ELT(state, 4));
        const std::string length = CHAR(STRING_ELT(state, 5));
        if (type != type_name(TYPEOF(v)) || length != std::to_string(static_cast<long long>(XLENGTH(v))))
            fail("unresolved", "cannot resolve the Rfmalloc vector '" + name + "': when saved it was of type " + type + " and length " +
                                   length + ", now it is of type " + type_name(TYPEOF(v)) + " and length " +
                                   std::to_string(static_cast<long long>(XLENGTH(v))));
        return v;
    });
}
} // namespace

SEXP load_vector(Runtime *rt, const std::string &name, bool mutable_, bool with_attributes) {
    fmrt_entry e = FMRT_ENTRY_INIT;
    int st = fmrt_catalog_get(&e, rt->h, name.c_str());
    if (st == FMRT_ENOTFOUND) fail("notfound", "no vector named '" + name + "' in '" + rt->path + "'");
    if (st != FMRT_OK) fail_status(st, "cannot look up '" + name + "'");
    if (e.type != kEntryTag || e.meta_len < sizeof(VecMeta) || !e.ptr)
        fail("type", "the entry '" + name + "' was not stored by Rfmalloc");
    VecMeta m;
    std::memcpy(&m, e.meta, sizeof m);
    if (m.magic != kMetaMagic) fail("format", "the entry '" + name + "' has damaged metadata");
    if (m.version != kMetaVersion)
        fail("version", "the entry '" + name + "' was stored by a newer Rfmalloc (metadata version " +
                            std::to_string(m.version) + ")");
    if (m.attr_len > e.meta_len - sizeof(VecMeta)) fail("format", "the entry '" + name + "' has damaged metadata");
    const int t = static_cast<int>(m.sexptype);
    if (t == VECSXP) fail("type", "the entry '" + name + "' is a list, not a vector");
    if (type_from_name(type_name(t)) < 0) fail("format", "the entry '" + name + "' has an unknown vector type");
    if (m.length > static_cast<uint64_t>(R_XLEN_T_MAX))
        fail("format", "the entry '" + name + "' is longer than R allows");
    const uint64_t usable = std::min<uint64_t>(fmrt_usable_size(rt->h, e.ptr), e.size);
    if (t == STRSXP) {
        check_blob(e.ptr, usable, m.length, name);
    } else {
        const uint64_t es = element_size(t);
        if (m.length > UINT64_MAX / es || m.length * es > usable)
            fail("format", "the entry '" + name + "' is damaged: its data are shorter than its length");
    }
    if (mutable_ && rt->readonly)
        fail("readonly", "cannot load '" + name + "' writable: the runtime for '" + rt->path + "' is read-only");
    std::vector<uint8_t> attrs;
    if (with_attributes) {
        const uint8_t *p = static_cast<const uint8_t *>(e.meta) + sizeof(VecMeta);
        attrs.assign(p, p + m.attr_len);
    }
    Alloc *a = alloc_get(rt, e.ptr, t, static_cast<R_xlen_t>(m.length));
    if (a->name.empty() && !a->owned) a->name = name;
    SEXP v = PROTECT(make_vector(a, mutable_));
    const bool ok = attrs.empty() || set_attributes_from(v, attrs.data(), attrs.size());
    UNPROTECT(1);
    if (!ok) fail("format", "the attributes stored with '" + name + "' are damaged or do not fit it");
    return v;
}

} // namespace rfm
