// Verification and repair.  One tolerant walk of a mapped heap image
// checks every invariant of the format without trusting any of it: it
// reads only inside the file, always moves forward, and bounds every scan,
// so it ends on any input.  What it finds is either a problem (damage) or a
// repairable crash state (free neighbours not yet joined, transient leftovers,
// a rename cut between its two stores); both come with the fix that repair
// would write.
#ifndef FMRT_VERIFY_H
#define FMRT_VERIFY_H

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fmrt.h"
#include "format.h"

namespace fmrt {

// A read-only view of a heap file's bytes.
struct HeapImage {
    const uint8_t *base = nullptr;  // byte 0 of the file
    uint64_t file_size = 0;
    Superblock sb{};                // the superblock copy in force
};

// A store repair would make, at a file offset.
struct Fix {
    enum Kind { kStore, kAnd } kind;
    uint64_t off;    // 8-aligned file offset of a word
    uint64_t value;  // stored, or and-ed in
};

struct VerifyOptions {
    // True for an open runtime: its cache blocks belong to live threads
    // (their slots are free but not to be given back).
    bool live = false;
};

struct VerifyResult {
    std::vector<Fix> fixes;           // structural fixes (spans, bitmaps)
    std::vector<uint64_t> bad_slots;  // catalog slot word offsets to empty
    std::vector<uint64_t> transient;  // transient allocations (data offsets)
    std::vector<uint64_t> unreachable;// durable allocations nothing names
    bool table_damaged = false;
    uint64_t orphan_records = 0;      // durable records no slot names (the catalog is rebuilt)
    uint64_t structural = 0;          // problems of the structure (spans, runs, table, orphans)
    uint64_t new_heap_end = 0;        // != sb.heap_end when truncation is repaired
    uint64_t cached_free = 0;         // slots skipped as held by thread caches
};

// Checks the image; fills `rep` (counts and the first problems) and `res`.
void verify_image(const HeapImage &img, const VerifyOptions &opts, fmrt_report *rep, VerifyResult *res);

// Adds one problem to the report (counted; the first few kept with text).
void report_problem(fmrt_report *rep, uint64_t off, int code, const std::string &what);

}  // namespace fmrt

#endif  // FMRT_VERIFY_H
