// ccallable.cpp - the C-callable API for other packages (inst/include/
// Rfmalloc.h declares it).  Each function returns a status code; failures
// never raise an R error from here.
//
// SPDX-License-Identifier: GPL-2.0-or-later
#include "rfmalloc.h"

#include <R_ext/Rdynload.h>

#include <cstring>
#include <string>


using namespace rfm;

// Matches Rfmalloc_vector_info in inst/include/Rfmalloc.h.
struct Rfmalloc_info_out {
    SEXP runtime;
    int type;
    R_xlen_t length;
    void *data;
    uint64_t offset;
    int persistent;
    int transient;
};

namespace {

constexpr int kApiVersion = 1;
std::string g_last_error;

int code_of(const std::string &kind) {
    static const struct {
        const char *kind;
        int code;
    } table[] = {{"invalid", -1}, {"nomem", -2},    {"io", -3},       {"format", -4},
                 {"version", -5}, {"busy", -6},     {"readonly", -7}, {"notfound", -8},
                 {"exists", -9},  {"closed", -10},  {"type", -11},    {"unresolved", -8},
                 {"referenced", -6}};
    for (const auto &t : table)
        if (kind == t.kind) return t.code;
    return -12;
}

template <class F> int guarded(F &&f) {
    try {
        f();
        g_last_error.clear();
        return 0;
    } catch (Failure &e) {
        g_last_error = e.message;
        return code_of(e.kind);
    } catch (std::bad_alloc &) {
        g_last_error = "out of memory";
        return -2;
    } catch (std::exception &e) {
        g_last_error = e.what();
        return -12;
    }
}

// The runtime argument: an object, or R_NilValue for the default runtime.
Runtime *runtime_arg(SEXP runtime) {
    if (runtime == R_NilValue || runtime == nullptr) {
        SEXP ns = R_FindNamespace(Rf_mkString("Rfmalloc"));
        SEXP state = Rf_findVarInFrame(ns, Rf_install("fm_state"));
        if (TYPEOF(state) == PROMSXP) state = Rf_eval(state, ns); // lazy-loaded
        if (TYPEOF(state) != ENVSXP) fail("internal", "Rfmalloc's state is missing");
        runtime = Rf_findVarInFrame(state, Rf_install("default"));
        if (runtime == R_NilValue || runtime == R_UnboundValue)
            fail("notfound", "no default runtime: call init_fmalloc() first");
    }
    return usable_runtime(runtime);
}

int api_version() { return kApiVersion; }

const char *last_error() { return g_last_error.c_str(); }

int open_runtime(SEXP *out, const char *path, int scratch, int readonly, double max_gb) {
    return guarded([&] {
        if (!out) fail("invalid", "out is NULL");
        if (!path && !scratch) fail("invalid", "path is NULL");
        std::string p = path ? path : "";
        if (!scratch)
            if (Runtime *rt = find_runtime_by_path(p, readonly != 0))
                if (rt->robj != R_NilValue) {
                    *out = rt->robj;
                    return;
                }
        *out = make_runtime_object(runtime_open(p, max_gb, scratch != 0, readonly != 0));
    });
}

int default_runtime(SEXP *out) {
    return guarded([&] {
        if (!out) fail("invalid", "out is NULL");
        *out = runtime_arg(R_NilValue)->robj;
    });
}

int create(SEXP *out, SEXP runtime, int type, R_xlen_t length, const char *name) {
    return guarded([&] {
        if (!out) fail("invalid", "out is NULL");
        *out = make_vector(create_alloc(runtime_arg(runtime), type, length, true, name ? name : ""), true);
    });
}

int is_vector(SEXP x) { return alloc_of(x) != nullptr; }

int save(SEXP *out, SEXP runtime, SEXP x, const char *name, int overwrite) {
    return guarded([&] {
        if (!out || !name || !*name) fail("invalid", "out or name is NULL or empty");
        *out = make_vector(save_alloc(runtime_arg(runtime), x, name, overwrite != 0, nullptr, 0), false);
    });
}

int load(SEXP *out, SEXP runtime, const char *name, int writable) {
    return guarded([&] {
        if (!out || !name) fail("invalid", "out or name is NULL");
        *out = load_vector(runtime_arg(runtime), name, writable != 0, true);
    });
}

} // namespace

namespace {
int describe(Rfmalloc_info_out *info, SEXP x) {
    return guarded([&] {
        if (!info) fail("invalid", "info is NULL");
        const Alloc *a = alloc_of(x);
        if (!a) fail("type", "not an Rfmalloc vector");
        info->runtime = a->rt->robj;
        info->type = a->sexptype;
        info->length = a->length;
        info->data = a->ptr;
        info->offset = a->offset;
        info->persistent = a->rt->persistent;
        info->transient = a->transient;
    });
}
} // namespace

namespace rfm {
void register_ccallables() {
    const char *pkg = "Rfmalloc";
    R_RegisterCCallable(pkg, "Rfmalloc_api_version", reinterpret_cast<DL_FUNC>(api_version));
    R_RegisterCCallable(pkg, "Rfmalloc_last_error", reinterpret_cast<DL_FUNC>(last_error));
    R_RegisterCCallable(pkg, "Rfmalloc_open", reinterpret_cast<DL_FUNC>(open_runtime));
    R_RegisterCCallable(pkg, "Rfmalloc_default_runtime", reinterpret_cast<DL_FUNC>(default_runtime));
    R_RegisterCCallable(pkg, "Rfmalloc_create", reinterpret_cast<DL_FUNC>(create));
    R_RegisterCCallable(pkg, "Rfmalloc_is_vector", reinterpret_cast<DL_FUNC>(is_vector));
    R_RegisterCCallable(pkg, "Rfmalloc_describe", reinterpret_cast<DL_FUNC>(describe));
    R_RegisterCCallable(pkg, "Rfmalloc_save", reinterpret_cast<DL_FUNC>(save));
    R_RegisterCCallable(pkg, "Rfmalloc_load", reinterpret_cast<DL_FUNC>(load));
}
} // namespace rfm
