// The catalog: names for allocations, kept in the file (format.h draws the
// table and the records).  A slot table of record offsets is the committed
// state; RAM holds an index by name (ordered, for iteration, and hashed, for
// lookups), rebuilt at open.
//
// Commit protocol (docs/format.md): a record is written complete and
// checksummed in an allocation flagged transient, then one 8-byte store
// puts it in a slot; only then is it made durable.  Whatever a change makes
// unreachable is flagged transient before the commit store and freed after.
// So a crash at any point leaves each name either before or after the
// change, and anything half-made is reclaimed at the next open (which first
// makes durable whatever committed slots reference).
#ifndef FMRT_CATALOG_H
#define FMRT_CATALOG_H

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "format.h"
#include "name_index.h"
#include "region.h"

namespace fmrt {

// What the catalog needs from the heap; the runtime provides it.
class CatalogHeap {
public:
    virtual ~CatalogHeap() = default;
    virtual void *alloc_transient(size_t size) = 0;  // NULL with the error recorded
    virtual void release(void *p) = 0;
    virtual void set_transient(void *p, bool transient) = 0;
    // True for the start of a live allocation; fills its usable size and flag.
    virtual bool live(const void *p, uint64_t *usable, bool *transient) const = 0;
};

struct CatalogEntry {
    const char *name = nullptr;
    size_t name_len = 0;
    uint64_t alloc_offset = 0;
    uint64_t size = 0;
    uint32_t type = 0;
    const void *meta = nullptr;
    size_t meta_len = 0;
    uint64_t created_unix_ns = 0;
};

// What load() found, for statistics and verify.
struct CatalogScan {
    uint64_t entries = 0;
    uint64_t damaged = 0;     // slots whose record fails its checks
    uint64_t duplicates = 0;  // slots that lost a duplicate name to a newer record
    std::vector<std::pair<uint64_t, std::string>> problems;  // offset, description
};

// Checks a record in place: magic, lengths against its allocation, checksum,
// name well-formed.  `usable` is the allocation's usable size.
bool record_valid(const CatalogRecord *r, uint64_t usable);
// UTF-8 without NUL, 1..FMRT_NAME_MAX bytes.
bool valid_name(std::string_view name);

class Catalog {
public:
    Catalog(Region &region, CatalogHeap &heap) : region_(region), heap_(heap) {}

    // Builds the index from the file.  Writes nothing: the fixes a
    // read-write open makes (durability of what committed slots reference,
    // clearing slots that lost a duplicate) wait for apply_load_fixes().
    // `tolerate_damaged_table` treats a damaged table as empty (repair).
    int load(CatalogScan *scan, bool tolerate_damaged_table = false);
    void apply_load_fixes();

    int put(std::string_view name, void *p, uint64_t size, uint32_t type, const void *meta,
            size_t meta_len, unsigned flags);
    int get(std::string_view name, CatalogEntry *out);
    int remove(std::string_view name, unsigned flags);
    int rename(std::string_view from, std::string_view to, unsigned flags);
    int next(const char *after, CatalogEntry *out);
    uint64_t count();

    // Runs fn with the catalog lock held (verify).
    void with_lock(const std::function<void()> &fn) {
        std::lock_guard<std::mutex> lock(mu_);
        fn();
    }
    // Repair of a lost table: a new table holding `records` (valid records
    // found by scanning the heap; the newest wins a duplicate name).
    int rebuild(const std::vector<uint64_t> &records);

    // Offsets the catalog keeps alive: the table, every record and every
    // allocation a record names.
    void referenced(std::vector<uint64_t> *out);

private:
    struct Slot {
        uint64_t record;  // record offset
        uint64_t slot;    // index in the table
    };

    CatalogRecord *record_at(uint64_t off) const {
        return static_cast<CatalogRecord *>(region_.ptr(off));
    }
    void fill(const CatalogRecord *r, CatalogEntry *out) const;
    // A new record (transient, checksummed) copying `like`'s payload unless
    // given explicitly.
    CatalogRecord *make_record(std::string_view name, uint64_t alloc_off, uint64_t size, uint32_t type,
                               const void *meta, size_t meta_len, uint64_t created);
    int take_slot(uint64_t *out);
    int grow_table();
    void store_slot(uint64_t slot, uint64_t value);
    void *alloc_ptr(uint64_t off) const { return off ? region_.ptr(off) : nullptr; }

    Region &region_;
    CatalogHeap &heap_;
    std::mutex mu_;
    CatalogTable *table_ = nullptr;
    uint64_t table_off_ = 0;
    std::vector<uint64_t> free_slots_;
    uint64_t next_seq_ = 1;
    NameIndex index_;  // by name: hashed for lookups, ordered for next()
    // Fixes found by load().
    std::vector<uint64_t> pending_clear_;    // slots to empty
    std::vector<uint64_t> pending_durable_;  // offsets to make durable
};

}  // namespace fmrt

#endif  // FMRT_CATALOG_H
