// vectors.cpp - creating and saving stored vectors, shared by the .Call
// entry points and the C-callable API.
//
// SPDX-License-Identifier: GPL-2.0-or-later
#include "rfmalloc.h"

#include <cstring>

namespace rfm {

Alloc *create_alloc(Runtime *rt, int t, R_xlen_t n, bool zero, std::string nm) {
    if (rt->readonly) fail("readonly", "cannot create a vector: the runtime for '" + rt->path + "' is read-only");
    if (n < 0) fail("invalid", "the length is negative");
    if (t != STRSXP && element_size(t) == 0) fail("invalid", "unknown vector type");
    if (nm.empty() && rt->persistent) nm = generated_name();
    uint64_t bytes;
    void *p;
    if (t == STRSXP) {
        p = blob_from(rt, R_NilValue, n, true, &bytes);
    } else {
        const uint64_t es = element_size(t);
        if (static_cast<uint64_t>(n) > UINT64_MAX / es) fail("nomem", "the vector is too large");
        bytes = static_cast<uint64_t>(n) * es;
        p = heap_alloc(rt, bytes, zero, true, "the vector");
    }
    if (!nm.empty()) {
        std::vector<uint8_t> meta = make_meta(t, static_cast<uint64_t>(n), nullptr, 0);
        int st = fmrt_catalog_put(rt->h, nm.c_str(), p, bytes, kEntryTag, meta.data(), meta.size(), 0);
        if (st != FMRT_OK) {
            fmrt_free(rt->h, p);
            if (st == FMRT_EEXISTS) fail("exists", "a vector named '" + nm + "' already exists in '" + rt->path + "'");
            fail_status(st, "cannot name the vector '" + nm + "'");
        }
    }
    Alloc *a = alloc_get(rt, p, t, n);
    a->name = nm;
    if (nm.empty()) own(a, bytes);
    a->transient = nm.empty();
    return a;
}

bool orphan_if_live(Runtime *rt, uint64_t offset) {
    auto it = rt->live.find(offset);
    if (it == rt->live.end()) return false;
    Alloc *o = it->second;
    o->name.clear();
    own(o, fmrt_usable_size(rt->h, o->ptr));
    o->transient = true;
    fmrt_set_transient(rt->h, o->ptr, 1);
    return true;
}

Alloc *save_alloc(Runtime *rt, SEXP x, const std::string &name, bool overwrite, const uint8_t *attrs,
                  size_t attr_len) {
    if (rt->readonly) fail("readonly", "cannot save a vector: the runtime for '" + rt->path + "' is read-only");
    const int t = TYPEOF(x);
    if (t != STRSXP && element_size(t) == 0)
        fail("type", std::string("cannot store an object of type '") + Rf_type2char(static_cast<SEXPTYPE>(t)) +
                         "' (logical, integer, double, complex, raw and character vectors can be stored)");
    fmrt_entry old = FMRT_ENTRY_INIT;
    int st = fmrt_catalog_get(&old, rt->h, name.c_str());
    if (st == FMRT_OK && !overwrite)
        fail("exists", "a vector named '" + name + "' already exists in '" + rt->path + "' (use overwrite = TRUE)");
    const bool had_old = st == FMRT_OK;
    const uint64_t old_offset = old.offset;
    Alloc *a = copy_into(rt, x, true);
    const R_xlen_t n = XLENGTH(x);
    uint64_t bytes = t == STRSXP ? blob_bytes(static_cast<uint64_t>(n), static_cast<StrHeader *>(a->ptr)->heap_cap)
                                 : static_cast<uint64_t>(n) * element_size(t);
    std::vector<uint8_t> meta = make_meta(t, static_cast<uint64_t>(n), attrs, attr_len);
    // An old allocation that R still holds is orphaned, not freed.
    const bool keep_old = had_old && old.ptr && rt->live.count(old_offset) != 0;
    unsigned flags = had_old ? (FMRT_PUT_REPLACE | (keep_old ? 0u : FMRT_PUT_FREE_REPLACED)) : 0u;
    st = fmrt_catalog_put(rt->h, name.c_str(), a->ptr, bytes, kEntryTag, meta.data(), meta.size(), flags);
    if (st != FMRT_OK) {
        a->refs = 1;
        alloc_release(a); // frees the copy
        if (st == FMRT_EEXISTS) fail("exists", "a vector named '" + name + "' already exists in '" + rt->path + "'");
        fail_status(st, "cannot save '" + name + "'");
    }
    if (keep_old) orphan_if_live(rt, old_offset);
    a->name = name;
    own(a, 0);
    a->owned = a->transient = false;
    return a;
}

} // namespace rfm
