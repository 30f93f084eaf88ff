/* A package built against Rfmalloc's installed header, for the tests. */
#include <Rfmalloc.h>
#include <R_ext/Rdynload.h>

static void check(int status) {
    if (status != RFMALLOC_OK) Rf_error("Rfmalloc status %d: %s", status, Rfmalloc_last_error());
}

static SEXP c_api_version(void) { return Rf_ScalarInteger(Rfmalloc_api_version()); }

/* A double vector 1..n made in the file from C. */
static SEXP c_make(SEXP runtime, SEXP n) {
    SEXP out;
    check(Rfmalloc_create(&out, runtime, REALSXP, (R_xlen_t)Rf_asReal(n), NULL));
    PROTECT(out);
    Rfmalloc_vector_info info;
    check(Rfmalloc_describe(&info, out));
    double *d = (double *)info.data;
    for (R_xlen_t i = 0; i < info.length; ++i) d[i] = (double)(i + 1);
    UNPROTECT(1);
    return out;
}

static SEXP c_describe(SEXP x) {
    if (!Rfmalloc_is_vector(x)) return R_NilValue;
    Rfmalloc_vector_info info;
    check(Rfmalloc_describe(&info, x));
    SEXP out = PROTECT(Rf_allocVector(VECSXP, 5));
    SET_VECTOR_ELT(out, 0, Rf_ScalarInteger(info.type));
    SET_VECTOR_ELT(out, 1, Rf_ScalarReal((double)info.length));
    SET_VECTOR_ELT(out, 2, Rf_ScalarReal((double)info.offset));
    SET_VECTOR_ELT(out, 3, Rf_ScalarLogical(info.persistent));
    SET_VECTOR_ELT(out, 4, Rf_ScalarReal(info.type == REALSXP && info.length > 0 ? ((double *)info.data)[0] : NA_REAL));
    SEXP nm = PROTECT(Rf_allocVector(STRSXP, 5));
    const char *names[] = {"type", "length", "offset", "persistent", "first"};
    for (int i = 0; i < 5; ++i) SET_STRING_ELT(nm, i, Rf_mkChar(names[i]));
    Rf_setAttrib(out, R_NamesSymbol, nm);
    UNPROTECT(2);
    return out;
}

/* Saves x under name, then loads it back; errors come back as status codes. */
static SEXP c_save_load(SEXP runtime, SEXP x, SEXP name) {
    SEXP saved, loaded;
    const char *nm = CHAR(STRING_ELT(name, 0));
    int st = Rfmalloc_save(&saved, runtime, x, nm, 0);
    if (st != RFMALLOC_OK) return Rf_ScalarInteger(st);
    PROTECT(saved);
    check(Rfmalloc_load(&loaded, runtime, nm, 0));
    UNPROTECT(1);
    return loaded;
}

static SEXP c_default(void) {
    SEXP rt;
    int st = Rfmalloc_default_runtime(&rt);
    return st == RFMALLOC_OK ? rt : Rf_ScalarInteger(st);
}

static const R_CallMethodDef calls[] = {
    {"c_api_version", (DL_FUNC)&c_api_version, 0}, {"c_make", (DL_FUNC)&c_make, 2},
    {"c_describe", (DL_FUNC)&c_describe, 1},       {"c_save_load", (DL_FUNC)&c_save_load, 3},
    {"c_default", (DL_FUNC)&c_default, 0},         {NULL, NULL, 0}};

void R_init_RfmallocConsumer(DllInfo *dll) {
    R_registerRoutines(dll, NULL, calls, NULL, NULL);
    R_useDynamicSymbols(dll, FALSE);
    R_forceSymbols(dll, TRUE);
}
