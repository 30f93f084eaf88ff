// lists.cpp - lists stored as list records: the catalog names of their
// children, never R pointers.
//
// A list entry (VecMeta.sexptype VECSXP, length = element count) names no
// allocation: its record follows the list's own attributes in the entry's
// metadata, which libfmrt checksums (a damaged record is never handed to
// R's unserialize()):
//   uint64 magic "RFMLST01" | uint64 count |
//   count x ( uint32 name bytes (0xffffffff: NULL) | name |
//             uint32 attribute bytes | the element's attributes, serialized )
// The element's own attributes are kept in the record, so a list restores
// each element as it was when saved (a column with a view's dims, say).
// The R side builds the R list from the children it loads by name.
//
// SPDX-License-Identifier: GPL-2.0-or-later
#include <Rcpp.h>

#include "rfmalloc.h"

#include <cstring>

using namespace rfm;

namespace {

constexpr uint64_t kListMagic = 0x313054534c4d4652ull; // "RFMLST01"
constexpr uint32_t kNullChild = 0xffffffffu;

// The decoded record of a list entry; throws "format" on damage.
struct ListRecord {
    std::vector<std::string> children; // "" with is_null
    std::vector<bool> is_null;
    std::vector<std::vector<uint8_t>> attrs;
};

bool read_list(Runtime *rt, const fmrt_entry &e, const std::string &name, ListRecord *out) {
    if (e.type != kEntryTag || e.meta_len < sizeof(VecMeta)) return false;
    VecMeta m;
    std::memcpy(&m, e.meta, sizeof m);
    if (m.magic != kMetaMagic || m.sexptype != VECSXP) return false;
    auto bad = [&] { fail("format", "the list '" + name + "' is damaged"); };
    (void)rt;
    if (m.attr_len > e.meta_len - sizeof(VecMeta)) bad();
    const uint64_t size = e.meta_len - sizeof(VecMeta) - m.attr_len;
    const auto *p = static_cast<const uint8_t *>(e.meta) + sizeof(VecMeta) + m.attr_len;
    if (size < 16) bad();
    uint64_t magic, count;
    std::memcpy(&magic, p, 8);
    std::memcpy(&count, p + 8, 8);
    if (magic != kListMagic || count != m.length || count > (size - 16) / 8) bad();
    uint64_t at = 16;
    auto take32 = [&]() -> uint32_t {
        if (size - at < 4) bad();
        uint32_t v;
        std::memcpy(&v, p + at, 4);
        at += 4;
        return v;
    };
    for (uint64_t i = 0; i < count; ++i) {
        uint32_t nl = take32();
        if (nl == kNullChild) {
            out->children.emplace_back();
            out->is_null.push_back(true);
        } else {
            if (nl == 0 || nl > size - at) bad();
            out->children.emplace_back(reinterpret_cast<const char *>(p + at), nl);
            out->is_null.push_back(false);
            at += nl;
        }
        uint32_t al = take32();
        if (al > size - at) bad();
        out->attrs.emplace_back(p + at, p + at + al);
        at += al;
    }
    return true;
}

} // namespace

// Stores a list record under `name`: children is a character vector of
// catalog names (NA for NULL elements), elem_attrs a list of raw vectors
// (or NULL) with each element's serialized attributes.
// [[Rcpp::export(rng = false)]]
SEXP rfm_save_list_(SEXP robj, std::string name, SEXP children, SEXP elem_attrs, bool overwrite, SEXP attrs) {
    return call_guarded([&]() -> SEXP {
        Runtime *rt = usable_runtime(robj);
        if (rt->readonly) fail("readonly", "cannot save a list: the runtime for '" + rt->path + "' is read-only");
        const R_xlen_t n = XLENGTH(children);
        uint64_t bytes = 16;
        std::vector<std::string> names(static_cast<size_t>(n));
        for (R_xlen_t i = 0; i < n; ++i) {
            SEXP c = STRING_ELT(children, i);
            if (c != NA_STRING) names[i] = Rf_translateCharUTF8(c);
            SEXP a = VECTOR_ELT(elem_attrs, i);
            bytes += 8 + names[i].size() + (a == R_NilValue ? 0 : static_cast<uint64_t>(XLENGTH(a)));
        }
        fmrt_entry old = FMRT_ENTRY_INIT;
        int st = fmrt_catalog_get(&old, rt->h, name.c_str());
        if (st == FMRT_OK && !overwrite)
            fail("exists", "an entry named '" + name + "' already exists in '" + rt->path + "' (use overwrite = TRUE)");
        const bool had_old = st == FMRT_OK;
        const uint8_t *ab = attrs == R_NilValue ? nullptr : RAW(attrs);
        size_t alen = attrs == R_NilValue ? 0 : static_cast<size_t>(XLENGTH(attrs));
        std::vector<uint8_t> meta = make_meta(VECSXP, static_cast<uint64_t>(n), ab, alen);
        const size_t record_at = meta.size();
        meta.resize(record_at + bytes);
        uint8_t *p = meta.data() + record_at;
        uint64_t at = 16;
        uint64_t count = static_cast<uint64_t>(n);
        std::memcpy(p, &kListMagic, 8);
        std::memcpy(p + 8, &count, 8);
        for (R_xlen_t i = 0; i < n; ++i) {
            uint32_t nl = STRING_ELT(children, i) == NA_STRING ? kNullChild : static_cast<uint32_t>(names[i].size());
            std::memcpy(p + at, &nl, 4);
            at += 4;
            if (nl != kNullChild) {
                std::memcpy(p + at, names[i].data(), nl);
                at += nl;
            }
            SEXP a = VECTOR_ELT(elem_attrs, i);
            uint32_t al = a == R_NilValue ? 0 : static_cast<uint32_t>(XLENGTH(a));
            std::memcpy(p + at, &al, 4);
            at += 4;
            if (al) std::memcpy(p + at, RAW(a), al);
            at += al;
        }
        bool keep_old = had_old && old.ptr && rt->live.count(old.offset) != 0;
        unsigned flags = had_old ? (FMRT_PUT_REPLACE | (keep_old ? 0u : FMRT_PUT_FREE_REPLACED)) : 0u;
        fmrt_entry old_copy = old;
        st = fmrt_catalog_put(rt->h, name.c_str(), nullptr, 0, kEntryTag, meta.data(), meta.size(), flags);
        if (st != FMRT_OK) fail_status(st, "cannot save the list '" + name + "'");
        if (keep_old) orphan_if_live(rt, old_copy.offset);
        return Rf_ScalarLogical(TRUE);
    });
}

// list(children = character (NA for NULL), attrs = list of raw or NULL),
// or NULL when the entry is not a list.
// [[Rcpp::export(rng = false)]]
SEXP rfm_load_list_(SEXP robj, std::string name) {
    return call_guarded([&]() -> SEXP {
        Runtime *rt = usable_runtime(robj);
        fmrt_entry e = FMRT_ENTRY_INIT;
        int st = fmrt_catalog_get(&e, rt->h, name.c_str());
        if (st == FMRT_ENOTFOUND) fail("notfound", "no vector named '" + name + "' in '" + rt->path + "'");
        if (st != FMRT_OK) fail_status(st, "cannot look up '" + name + "'");
        ListRecord r;
        if (!read_list(rt, e, name, &r)) return R_NilValue;
        const R_xlen_t n = static_cast<R_xlen_t>(r.children.size());
        Rcpp::CharacterVector ch(n);
        Rcpp::List at(n);
        for (R_xlen_t i = 0; i < n; ++i) {
            if (r.is_null[i]) ch[i] = NA_STRING;
            else ch[i] = Rcpp::String(r.children[i], CE_UTF8);
            if (!r.attrs[i].empty()) {
                Rcpp::RawVector raw(r.attrs[i].begin(), r.attrs[i].end());
                at[i] = raw;
            }
        }
        return Rcpp::wrap(Rcpp::List::create(Rcpp::Named("children") = ch, Rcpp::Named("attrs") = at));
    });
}

// The list entries whose records name `name` as a child.
// [[Rcpp::export(rng = false)]]
SEXP rfm_referrers_(SEXP robj, std::string name) {
    return call_guarded([&]() -> SEXP {
        Runtime *rt = runtime_from(robj);
        std::vector<std::string> out;
        for_each_entry(rt, [&](const fmrt_entry &e, const std::string &after) {
            ListRecord r;
            try {
                if (!read_list(rt, e, after, &r)) return;
            } catch (Failure &) {
                return; // a damaged list refers to nothing we can vouch for
            }
            for (size_t i = 0; i < r.children.size(); ++i)
                if (!r.is_null[i] && r.children[i] == name) {
                    out.push_back(after);
                    break;
                }
        });
        Rcpp::CharacterVector v(out.size());
        for (size_t i = 0; i < out.size(); ++i) v[i] = Rcpp::String(out[i], CE_UTF8);
        return Rcpp::wrap(v);
    });
}

// A new R object over the same allocation as the Rfmalloc vector x, with no
// attributes and never mutable: a reshaped view that changes nothing seen
// through x.
// [[Rcpp::export(rng = false)]]
SEXP rfm_view_(SEXP x) {
    Alloc *a = alloc_of(x);
    if (!a) return R_NilValue;
    return make_vector(a, false);
}

// Replaces the attributes stored with a vector entry (its data untouched).
// [[Rcpp::export(rng = false)]]
SEXP rfm_put_attributes_(SEXP robj, std::string name, SEXP attrs) {
    return call_guarded([&]() -> SEXP {
        Runtime *rt = usable_runtime(robj);
        fmrt_entry e = FMRT_ENTRY_INIT;
        int st = fmrt_catalog_get(&e, rt->h, name.c_str());
        if (st != FMRT_OK) fail_status(st, "cannot look up '" + name + "'");
        if (e.type != kEntryTag || e.meta_len < sizeof(VecMeta)) fail("type", "the entry '" + name + "' was not stored by Rfmalloc");
        VecMeta m;
        std::memcpy(&m, e.meta, sizeof m);
        if (m.magic != kMetaMagic || m.sexptype == VECSXP)
            fail("type", "the entry '" + name + "' is not a stored vector");
        const uint8_t *ab = attrs == R_NilValue ? nullptr : RAW(attrs);
        size_t alen = attrs == R_NilValue ? 0 : static_cast<size_t>(XLENGTH(attrs));
        std::vector<uint8_t> meta = make_meta(static_cast<int>(m.sexptype), m.length, ab, alen);
        st = fmrt_catalog_put(rt->h, name.c_str(), e.ptr, e.size, kEntryTag, meta.data(), meta.size(), FMRT_PUT_REPLACE);
        if (st != FMRT_OK) fail_status(st, "cannot store the attributes of '" + name + "'");
        return Rf_ScalarLogical(TRUE);
    });
}

// [[Rcpp::export(rng = false)]]
SEXP rfm_generated_name_() { return Rf_mkString(generated_name().c_str()); }

// The runtime object a vector belongs to (NULL for other objects).
// [[Rcpp::export(rng = false)]]
SEXP rfm_runtime_of_(SEXP x) {
    Alloc *a = alloc_of(x);
    if (!a || a->rt->robj == R_NilValue) return R_NilValue;
    return a->rt->robj;
}
