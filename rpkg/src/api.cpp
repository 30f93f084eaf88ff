// api.cpp - the .Call entry points behind the R functions (Rcpp-exported).
//
// Each returns its result, or on failure an object of class
// "rfmalloc_failure" (list(kind, message)) that the R side turns into a
// classed condition: no R error is raised from under a C++ frame here.
// Arguments arrive validated and coerced by the R functions.
//
// SPDX-License-Identifier: GPL-2.0-or-later
#include <Rcpp.h>

#include "rfmalloc.h"

#include <cstring>


using namespace rfm;

namespace {

std::string str_arg(SEXP s) { return Rf_translateCharUTF8(STRING_ELT(s, 0)); }

Runtime *writable_runtime(SEXP robj, const char *doing) {
    Runtime *rt = usable_runtime(robj);
    if (rt->readonly) fail("readonly", std::string("cannot ") + doing + ": the runtime for '" + rt->path + "' is read-only");
    return rt;
}

} // namespace

namespace rfm {
void register_ccallables();
}

// [[Rcpp::init]]
void rfm_init(DllInfo *dll) {
    register_classes(dll);
    register_ccallables();
}

// [[Rcpp::export(rng = false)]]
SEXP rfm_open_(SEXP path, double max_gb, bool scratch, bool readonly) {
    return call_guarded([&]() -> SEXP {
        std::string p = path == R_NilValue ? std::string() : str_arg(path);
        if (!scratch) {
            if (Runtime *rt = find_runtime_by_path(p, readonly)) {
                if (rt->robj != R_NilValue) return rt->robj;
            }
        }
        Runtime *rt = runtime_open(p, max_gb, scratch, readonly);
        return make_runtime_object(rt);
    });
}

// [[Rcpp::export(rng = false)]]
SEXP rfm_cleanup_(SEXP robj) {
    return call_guarded([&]() -> SEXP {
        Runtime *rt = runtime_from(robj);
        if (!runtime_request_close(rt)) return Rf_ScalarLogical(FALSE);
        R_ClearExternalPtr(robj);
        rt->robj = R_NilValue;
        runtime_unref(rt);
        return Rf_ScalarLogical(TRUE);
    });
}

// [[Rcpp::export(rng = false)]]
SEXP rfm_sync_(SEXP robj) {
    return call_guarded([&]() -> SEXP {
        Runtime *rt = runtime_from(robj);
        if (!rt->readonly) {
            int st = fmrt_runtime_sync(rt->h);
            if (st != FMRT_OK) fail_status(st, "cannot sync '" + rt->path + "'");
        }
        return Rf_ScalarLogical(TRUE);
    });
}

// A consistent copy of the runtime's file at `path` (fmrt_runtime_copy).
// [[Rcpp::export(rng = false)]]
SEXP rfm_copy_(SEXP robj, SEXP path) {
    return call_guarded([&]() -> SEXP {
        Runtime *rt = runtime_from(robj);
        const std::string dst = Rcpp::as<std::string>(path);
        int st = fmrt_runtime_copy(rt->h, dst.c_str());
        if (st != FMRT_OK) fail_status(st, "cannot copy '" + rt->path + "' to '" + dst + "'");
        return Rf_ScalarLogical(TRUE);
    });
}

// What this session knows of a runtime (libfmrt's figures: rfm_stats_).
// [[Rcpp::export(rng = false)]]
SEXP rfm_info_(SEXP robj) {
    return call_guarded([&]() -> SEXP {
        Runtime *rt = runtime_from(robj);
        uint64_t vectors = 0;
        for (auto &kv : rt->live) vectors += kv.second->refs;
        return Rcpp::wrap(Rcpp::List::create(
            Rcpp::Named("path") = rt->path, Rcpp::Named("uuid") = rt->uuid,
            Rcpp::Named("mode") = rt->persistent ? "persistent" : "scratch",
            Rcpp::Named("readonly") = rt->readonly, Rcpp::Named("cleanup_requested") = rt->close_requested,
            Rcpp::Named("live_vectors") = static_cast<double>(vectors),
            Rcpp::Named("live_allocations_held") = static_cast<double>(rt->live.size())));
    });
}

// [[Rcpp::export(rng = false)]]
SEXP rfm_create_(SEXP robj, std::string type, double length, bool zero, SEXP name) {
    return call_guarded([&]() -> SEXP {
        Runtime *rt = writable_runtime(robj, "create a vector");
        const int t = type_from_name(type);
        if (t < 0 || t == VECSXP) fail("invalid", "unknown type '" + type + "'");
        std::string nm = name == R_NilValue ? std::string() : str_arg(name);
        return make_vector(create_alloc(rt, t, static_cast<R_xlen_t>(length), zero, nm), true);
    });
}

// [[Rcpp::export(rng = false)]]
SEXP rfm_save_(SEXP robj, SEXP x, std::string name, bool overwrite, SEXP attrs) {
    return call_guarded([&]() -> SEXP {
        Runtime *rt = writable_runtime(robj, "save a vector");
        const uint8_t *ab = attrs == R_NilValue ? nullptr : RAW(attrs);
        size_t al = attrs == R_NilValue ? 0 : static_cast<size_t>(XLENGTH(attrs));
        // Not mutable: what was saved stays as saved unless loaded writable.
        return make_vector(save_alloc(rt, x, name, overwrite, ab, al), false);
    });
}

// The vector alone: a list holding it would count as a second reference,
// and R would then copy it before every write.
// [[Rcpp::export(rng = false)]]
SEXP rfm_load_(SEXP robj, std::string name, bool writable) {
    return call_guarded([&]() -> SEXP {
        Runtime *rt = usable_runtime(robj);
        return load_vector(rt, name, writable, true);
    });
}

// The serialized attributes stored with an entry (NULL when none).
// [[Rcpp::export(rng = false)]]
SEXP rfm_entry_attributes_(SEXP robj, std::string name) {
    return call_guarded([&]() -> SEXP {
        Runtime *rt = runtime_from(robj);
        fmrt_entry e = FMRT_ENTRY_INIT;
        int st = fmrt_catalog_get(&e, rt->h, name.c_str());
        if (st != FMRT_OK) fail_status(st, "cannot look up '" + name + "'");
        if (e.type != kEntryTag || e.meta_len < sizeof(VecMeta)) return R_NilValue;
        VecMeta m;
        std::memcpy(&m, e.meta, sizeof m);
        if (m.attr_len == 0 || m.attr_len > e.meta_len - sizeof(VecMeta)) return R_NilValue;
        SEXP r = PROTECT(Rf_allocVector(RAWSXP, static_cast<R_xlen_t>(m.attr_len)));
        std::memcpy(RAW(r), static_cast<const uint8_t *>(e.meta) + sizeof(VecMeta), m.attr_len);
        UNPROTECT(1);
        return r;
    });
}

// Sets attributes (a named list) on x in place, from C.
// [[Rcpp::export(rng = false)]]
SEXP rfm_set_attributes_(SEXP x, SEXP attrs) {
    SEXP names = Rf_getAttrib(attrs, R_NamesSymbol);
    if (TYPEOF(attrs) != VECSXP || TYPEOF(names) != STRSXP) return x;
    for (R_xlen_t i = 0; i < XLENGTH(attrs); ++i)
        Rf_setAttrib(x, Rf_installChar(STRING_ELT(names, i)), VECTOR_ELT(attrs, i));
    return x;
}

// A list element: the vector stored under `name`, with the attributes the
// list record kept for it (raw, or NULL for the entry's own).
// [[Rcpp::export(rng = false)]]
SEXP rfm_load_element_(SEXP robj, std::string name, bool writable, SEXP attrs) {
    return call_guarded([&]() -> SEXP {
        Runtime *rt = usable_runtime(robj);
        SEXP v = PROTECT(load_vector(rt, name, writable, attrs == R_NilValue));
        const bool ok = attrs == R_NilValue || set_attributes_from(v, RAW(attrs), static_cast<size_t>(XLENGTH(attrs)));
        UNPROTECT(1);
        if (!ok) fail("format", "the attributes a list keeps for its element '" + name + "' are damaged");
        return v;
    });
}

// [[Rcpp::export(rng = false)]]
SEXP rfm_remove_(SEXP robj, std::string name) {
    return call_guarded([&]() -> SEXP {
        Runtime *rt = writable_runtime(robj, "remove a vector");
        fmrt_entry e = FMRT_ENTRY_INIT;
        int st = fmrt_catalog_get(&e, rt->h, name.c_str());
        if (st == FMRT_ENOTFOUND) fail("notfound", "no vector named '" + name + "' in '" + rt->path + "'");
        if (st != FMRT_OK) fail_status(st, "cannot look up '" + name + "'");
        bool live = e.ptr && rt->live.count(e.offset) != 0;
        fmrt_entry copy = e;
        st = fmrt_catalog_remove(rt->h, name.c_str(), live ? 0u : FMRT_REMOVE_FREE);
        if (st != FMRT_OK) fail_status(st, "cannot remove '" + name + "'");
        if (live) orphan_if_live(rt, copy.offset);
        return Rf_ScalarLogical(TRUE);
    });
}

// [[Rcpp::export(rng = false)]]
SEXP rfm_list_(SEXP robj) {
    return call_guarded([&]() -> SEXP {
        Runtime *rt = runtime_from(robj);
        std::vector<std::string> names, types, status;
        std::vector<double> lengths, bytes, created;
        for_each_entry(rt, [&](const fmrt_entry &e, const std::string &after) {
            names.push_back(after);
            double len = NA_REAL;
            std::string type = "unknown";
            if (e.type == kEntryTag && e.meta_len >= sizeof(VecMeta)) {
                VecMeta m;
                std::memcpy(&m, e.meta, sizeof m);
                if (m.magic == kMetaMagic) {
                    type = type_name(static_cast<int>(m.sexptype));
                    len = static_cast<double>(m.length);
                }
            }
            types.push_back(type);
            lengths.push_back(len);
            bytes.push_back(static_cast<double>(e.ptr ? e.size : e.meta_len)); // a list: its record
            created.push_back(static_cast<double>(e.created_unix_ns) / 1e9);
            status.push_back("durable");
        });
        for (auto &kv : rt->live) {
            const Alloc *a = kv.second;
            if (!a->name.empty()) continue;
            names.push_back(std::string());
            types.push_back(type_name(a->sexptype));
            lengths.push_back(static_cast<double>(a->length));
            bytes.push_back(static_cast<double>(fmrt_usable_size(rt->h, a->ptr)));
            created.push_back(NA_REAL);
            status.push_back(rt->persistent ? "transient" : "scratch");
        }
        Rcpp::CharacterVector nm(names.begin(), names.end());
        for (size_t i = 0; i < names.size(); ++i)
            if (names[i].empty() && status[i] != "durable") nm[i] = NA_STRING;
        return Rcpp::wrap(Rcpp::List::create(Rcpp::Named("name") = nm, Rcpp::Named("type") = types,
                                             Rcpp::Named("length") = lengths, Rcpp::Named("bytes") = bytes,
                                             Rcpp::Named("status") = status, Rcpp::Named("created") = created));
    });
}

// [[Rcpp::export(rng = false)]]
bool rfm_is_(SEXP x) { return alloc_of(x) != nullptr; }

// [[Rcpp::export(rng = false)]]
SEXP rfm_vector_info_(SEXP x) {
    const Alloc *a = alloc_of(x);
    if (!a) return R_NilValue;
    return Rcpp::wrap(Rcpp::List::create(
        Rcpp::Named("path") = a->rt->path, Rcpp::Named("name") = a->name.empty() ? Rcpp::String(NA_STRING) : Rcpp::String(a->name),
        Rcpp::Named("type") = type_name(a->sexptype), Rcpp::Named("length") = static_cast<double>(a->length),
        Rcpp::Named("offset") = static_cast<double>(a->offset), Rcpp::Named("transient") = a->transient,
        Rcpp::Named("mode") = a->rt->persistent ? "persistent" : "scratch"));
}

// An ordinary in-memory copy with the same attributes.
// [[Rcpp::export(rng = false)]]
SEXP rfm_materialize_(SEXP x) {
    const int t = TYPEOF(x);
    const R_xlen_t n = XLENGTH(x);
    SEXP out = PROTECT(Rf_allocVector(static_cast<SEXPTYPE>(t), n));
    if (t == STRSXP) {
        for (R_xlen_t i = 0; i < n; ++i) SET_STRING_ELT(out, i, STRING_ELT(x, i));
    } else if (n > 0) {
        std::memcpy(DATAPTR(out), DATAPTR_RO(x), static_cast<size_t>(n) * element_size(t));
    }
    DUPLICATE_ATTRIB(out, x);
    UNPROTECT(1);
    return out;
}

// [[Rcpp::export(rng = false)]]
SEXP rfm_is_open_(SEXP robj) {
    try {
        Runtime *rt = runtime_from(robj);
        return Rf_ScalarLogical(!rt->close_requested);
    } catch (Failure &e) {
        // NA: not a runtime at all (as opposed to a closed one).
        return Rf_ScalarLogical(e.kind == "closed" ? FALSE : NA_LOGICAL);
    }
}

SEXP rfm::failure_object(const std::string &kind, const std::string &message) {
    SEXP out = PROTECT(Rf_allocVector(VECSXP, 2));
    SET_VECTOR_ELT(out, 0, Rf_mkString(kind.c_str()));
    SET_VECTOR_ELT(out, 1, Rf_mkString(message.c_str()));
    SEXP nm = PROTECT(Rf_allocVector(STRSXP, 2));
    SET_STRING_ELT(nm, 0, Rf_mkChar("kind"));
    SET_STRING_ELT(nm, 1, Rf_mkChar("message"));
    Rf_setAttrib(out, R_NamesSymbol, nm);
    Rf_setAttrib(out, R_ClassSymbol, Rf_mkString("rfmalloc_failure"));
    UNPROTECT(2);
    return out;
}
