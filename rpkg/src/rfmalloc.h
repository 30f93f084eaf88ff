// rfmalloc.h - the glue between R and libfmrt, shared by the package's files.
//
// Layers (a file uses only those above it):
//   errors   (Failure, raised as classed R conditions at the outermost frame)
//   store    (how a vector lives in the file: catalog metadata, string blobs)
//   session  (Runtime and Alloc: open files and the allocations R holds)
//   altrep   (the ALTREP classes over an Alloc)
//   api      (the .Call entry points, Rcpp-exported)
//
// SPDX-License-Identifier: GPL-2.0-or-later
#ifndef RFMALLOC_H
#define RFMALLOC_H

#include <cstdint>
#include <new>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#define R_NO_REMAP
#include <Rinternals.h>
#include <R_ext/Altrep.h>

#include <fmrt.h>

namespace rfm {

// ---------------------------------------------------------------- errors
// A failure carries the R condition class suffix ("notfound" gives the class
// c("fmrt_error_notfound", "fmrt_error", "error", "condition")) and a message.
struct Failure {
    std::string kind;
    std::string message;
};

[[noreturn]] void fail(const char *kind, std::string message);
// A libfmrt status code: the kind follows the code, the message names what
// was being done and adds libfmrt's detail.
[[noreturn]] void fail_status(int status, const std::string &doing);

// Signals the failure as a classed R condition.  Call only from a frame that
// holds no C++ object with a destructor (it longjmps).
[[noreturn]] void raise(const char *kind, const char *message);

// ---------------------------------------------------------------- store
// Catalog entries written by Rfmalloc carry this type tag and a metadata
// blob starting with VecMeta (then, optionally, serialized R attributes).
constexpr uint32_t kEntryTag = 0x52464d56u;  // "RFMV"
constexpr uint32_t kMetaMagic = 0x31564652u; // "RFV1"
constexpr uint32_t kMetaVersion = 1;

struct VecMeta {
    uint32_t magic;    // kMetaMagic
    uint32_t version;  // kMetaVersion
    uint32_t sexptype; // LGLSXP, INTSXP, REALSXP, CPLXSXP, RAWSXP or STRSXP
    uint32_t attr_len; // bytes of serialized attributes after this struct
    uint64_t length;   // elements
    uint64_t reserved;
};
static_assert(sizeof(VecMeta) == 32, "VecMeta is part of the file format");

// Bytes per element of the fixed-width types; 0 for others.
size_t element_size(int sexptype);
const char *type_name(int sexptype);
// -1 for an unknown name.  Accepts "numeric" for "double".
int type_from_name(const std::string &name);

// Character vectors live in one allocation (a "string blob"), so the catalog
// names everything they own:
//   StrHeader | uint64 slot[length] | heap of records
// A slot is 0 for "", kNaSlot for NA, else the heap offset of a record
// (uint32 bytes, uint8 encoding, 3 pad, the bytes, padded to 8).
constexpr uint64_t kStrMagic = 0x31305254534d4652ull; // "RFMSTR01"
constexpr uint64_t kNaSlot = ~0ull;
struct StrHeader {
    uint64_t magic;
    uint64_t length;
    uint64_t heap_used; // bytes of the heap in use (records start at 8)
    uint64_t heap_cap;  // bytes of heap space
    uint64_t garbage;   // bytes of records no slot names any more
    uint64_t reserved[3];
};
static_assert(sizeof(StrHeader) == 64, "StrHeader is part of the file format");

// Encodings stored with each record.  The bytes are always UTF-8 (or the
// raw bytes of a "bytes" string); a string that was latin1 or native
// non-ASCII is re-encoded to its original encoding when read back.
enum StrEnc : uint8_t { kEncAscii = 0, kEncUtf8 = 1, kEncLatin1 = 2, kEncBytes = 3, kEncNative = 4 };

inline uint64_t *str_slots(void *blob) {
    return reinterpret_cast<uint64_t *>(static_cast<char *>(blob) + sizeof(StrHeader));
}
inline char *str_heap(void *blob) {
    auto *h = static_cast<StrHeader *>(blob);
    return reinterpret_cast<char *>(str_slots(blob) + h->length);
}
inline uint64_t record_bytes(uint64_t len) { return (8 + len + 7) & ~uint64_t(7); }
// Bytes of a blob for `length` slots and `heap` heap bytes (overflow: 0).
uint64_t blob_bytes(uint64_t length, uint64_t heap);
// Checks a blob found in the file against its allocation size; throws a
// "format" failure describing the first inconsistency.
void check_blob(const void *blob, uint64_t usable, uint64_t length, const std::string &name);

// ---------------------------------------------------------------- session
struct Alloc;

// One open heap file.  Lives while its R object or any Alloc refers to it.
struct Runtime {
    fmrt_runtime *h = nullptr;
    std::string path;
    std::string uuid;     // hex of the file's identity
    bool persistent = true;
    bool readonly = false;
    bool close_requested = false;
    uint64_t refs = 1;    // the R runtime object + one per Alloc
    SEXP robj = R_NilValue; // the R object (an external pointer); not protected
    std::unordered_map<uint64_t, Alloc *> live; // by file offset
};

// One allocation held by R vectors.  Several R objects may share one (the
// same name loaded twice); their count is `refs`.
struct Alloc {
    Runtime *rt = nullptr;
    void *ptr = nullptr;
    uint64_t offset = 0;
    int sexptype = 0;
    R_xlen_t length = 0;
    std::string name;     // its catalog name; "" when it has none
    bool owned = false;   // freed when the last R object goes (transient,
                          // unnamed scratch data, or removed from the catalog)
    bool transient = false; // flagged transient in the file
    uint64_t refs = 0;
    uint64_t owned_bytes = 0; // counted in the session's transient total
    SEXP strcache = nullptr; // character: materialized STRSXP (preserved)
};

std::vector<Runtime *> &open_runtimes();
Runtime *find_runtime_by_uuid(const std::string &uuid);
Runtime *find_runtime_by_path(const std::string &path, bool readonly);
// Opens a file (throws on failure) and registers it; the R object is made by
// the caller (make_runtime_object).
Runtime *runtime_open(const std::string &path, double max_gb, bool scratch, bool readonly);
SEXP make_runtime_object(Runtime *rt);
// The Runtime behind an R object; throws for a foreign or stale object.
Runtime *runtime_from(SEXP robj);
// As runtime_from, and the runtime must still accept new work.
Runtime *usable_runtime(SEXP robj);
// Requests the close; performed when the last vector goes.  Returns false
// when it was requested already.
bool runtime_request_close(Runtime *rt);
void runtime_unref(Runtime *rt);

// Calls f(entry, name) for every catalog entry, in name order.
template <class F> void for_each_entry(Runtime *rt, F &&f) {
    fmrt_entry e = FMRT_ENTRY_INIT;
    std::string name;
    bool first = true;
    while (fmrt_catalog_next(&e, rt->h, first ? nullptr : name.c_str()) == FMRT_OK) {
        first = false;
        name.assign(e.name, e.name_len);
        f(e, name);
    }
}

// The Alloc for an allocation (shared when R already holds it).
Alloc *alloc_get(Runtime *rt, void *ptr, int sexptype, R_xlen_t length);
void alloc_release(Alloc *a);
// Allocates raw space in rt; throws "nomem" etc. on failure.
void *heap_alloc(Runtime *rt, uint64_t bytes, bool zero, bool transient, const char *what);
// Marks a as freed-with-R (owned) and counts its bytes toward the session's
// transient total, which triggers R's garbage collector (see reserve_transient).
void own(Alloc *a, uint64_t bytes);
// Before making a transient copy of `bytes`: when the session's transient
// allocations would pass the trigger, runs R's garbage collector first so
// copies R no longer holds are freed (R cannot see this memory otherwise).
void reserve_transient(uint64_t bytes);
// The name for a vector created without one.
std::string generated_name();
// Writes catalog metadata bytes for a vector.
std::vector<uint8_t> make_meta(int sexptype, uint64_t length, const uint8_t *attrs, size_t attr_len);

// ---------------------------------------------------------------- vectors
// A new stored vector (named `name`, or a generated name in a persistent
// runtime, or unnamed and owned in a scratch one).
Alloc *create_alloc(Runtime *rt, int sexptype, R_xlen_t length, bool zero, std::string name);
// Copies x into rt under `name` with the given serialized attributes.
Alloc *save_alloc(Runtime *rt, SEXP x, const std::string &name, bool overwrite, const uint8_t *attrs,
                  size_t attr_len);
// The allocation at `offset`, if R holds it, loses its name, becomes
// transient and is freed when R lets go.  Returns whether it was held.
bool orphan_if_live(Runtime *rt, uint64_t offset);

// ---------------------------------------------------------------- altrep
void register_classes(DllInfo *dll);
// A new R vector over `a` (takes one reference).  `mutable_`: R may write it
// in place; otherwise it is marked not mutable, so R copies before writing.
SEXP make_vector(Alloc *a, bool mutable_);
// The Alloc of an Rfmalloc vector, seeing through R's wrapper objects; NULL
// for anything else.
Alloc *alloc_of(SEXP x);
// Bytes from which copies become transient allocations in the file.
double transient_threshold();
// A new transient (or, in a scratch runtime, owned) vector in rt copied from
// the ordinary or Rfmalloc vector x; throws on failure.
Alloc *copy_into(Runtime *rt, SEXP x, bool transient);
// Sets the attributes serialized in blob on v (from C, so no R closure holds
// v); false when the blob cannot be read or the attributes do not fit v.
bool set_attributes_from(SEXP v, const uint8_t *blob, size_t len);
// A vector stored under `name` (with its stored attributes when asked).
SEXP load_vector(Runtime *rt, const std::string &name, bool mutable_, bool with_attributes);
// String blob writes: a new blob of `length` slots filled from x (a STRSXP
// or NULL for all ""), in rt.
void *blob_from(Runtime *rt, SEXP x, R_xlen_t length, bool transient, uint64_t *bytes_out);

// ---------------------------------------------------------------- api
// An "rfmalloc_failure" object (list(kind, message)) for the R side to raise.
SEXP failure_object(const std::string &kind, const std::string &message);

// Runs f for a .Call entry point: its result, or the failure object of a
// Failure or C++ exception.  No R error is raised from under a C++ frame.
template <class F> SEXP call_guarded(F &&f) {
    try {
        return f();
    } catch (Failure &e) {
        return failure_object(e.kind, e.message);
    } catch (std::bad_alloc &) {
        return failure_object("nomem", "out of memory");
    } catch (std::exception &e) {
        return failure_object("internal", e.what());
    }
}

} // namespace rfm

#endif
