// Catalog (catalog.h).
#include "catalog.h"

#include <cstdio>
#include <cstring>
#include <map>
#include <unordered_set>

#include "error.h"
#include "fmrt.h"
#include "platform.h"

namespace fmrt {
namespace {

constexpr uint64_t kInitialSlots = 64;

// A name as it may appear in an error message: control characters escaped,
// long names cut (at a character boundary).
std::string printable(std::string_view name) {
    std::string out;
    for (size_t i = 0; i < name.size() && out.size() < 200; ++i) {
        const auto c = static_cast<unsigned char>(name[i]);
        if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
    if (!out.empty() && static_cast<unsigned char>(out.back()) >= 0xC0) out.pop_back();
    return out;
}

}  // namespace

bool valid_name(std::string_view name) {
    if (name.empty() || name.size() > FMRT_NAME_MAX) return false;
    // UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF, no NUL.
    const auto *s = reinterpret_cast<const unsigned char *>(name.data());
    size_t i = 0, n = name.size();
    while (i < n) {
        unsigned char c = s[i];
        if (c == 0) return false;
        if (c < 0x80) {
            ++i;
            continue;
        }
        size_t len;
        uint32_t cp;
        if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
        else return false;
        if (i + len > n) return false;
        for (size_t k = 1; k < len; ++k) {
            if ((s[i + k] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        static const uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += len;
    }
    return true;
}

bool record_valid(const CatalogRecord *r, uint64_t usable) {
    if (usable < kRecordHeaderBytes || r->magic != kRecordMagic) return false;
    if (r->name_len == 0 || r->name_len > FMRT_NAME_MAX) return false;
    if (r->meta_len > usable) return false;  // also keeps record_bytes from overflowing
    if (record_bytes(r->name_len, r->meta_len) > usable) return false;
    if (r->checksum != record_checksum(r)) return false;
    const char *name = reinterpret_cast<const char *>(r + 1);
    if (name[r->name_len] != '\0') return false;
    return valid_name(std::string_view(name, r->name_len));
}

void Catalog::fill(const CatalogRecord *r, CatalogEntry *out) const {
    out->name = reinterpret_cast<const char *>(r + 1);
    out->name_len = r->name_len;
    out->alloc_offset = r->alloc_offset;
    out->size = r->size;
    out->type = r->type;
    out->meta_len = r->meta_len;
    out->meta = r->meta_len ? reinterpret_cast<const uint8_t *>(r + 1) + r->name_len + 1 : nullptr;
    out->created_unix_ns = r->created_unix_ns;
}


int Catalog::load(CatalogScan *scan, bool tolerate_damaged_table) {
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t root = region_.superblock().catalog_root;
    if (root == 0) return FMRT_OK;
    uint64_t usable = 0;
    bool transient = false;
    const bool live = root < region_.file_size() && heap_.live(region_.ptr(root), &usable, &transient);
    auto *t = live ? static_cast<CatalogTable *>(region_.ptr(root)) : nullptr;
    if (!live || usable < kTableHeaderBytes || t->magic != kTableMagic || t->check != table_check(t) ||
        t->capacity > (usable - kTableHeaderBytes) / 8) {
        if (tolerate_damaged_table) {
            scan->problems.emplace_back(root, "catalog table damaged");
            return FMRT_OK;
        }
        return fail(FMRT_EFORMAT, "catalog table at offset %llu is damaged",
                    static_cast<unsigned long long>(root));
    }
    table_ = t;
    table_off_ = root;
    if (transient) pending_durable_.push_back(root);
    uint64_t max_seq = 0;
    for (uint64_t s = 0; s < t->capacity; ++s) {
        const uint64_t off = t->slots[s];
        if (off == 0) {
            free_slots_.push_back(s);
            continue;
        }
        uint64_t rec_usable = 0, alloc_usable = 0;
        bool rec_transient = false, alloc_transient = false;
        const CatalogRecord *r = off < region_.file_size() ? record_at(off) : nullptr;
        const char *why = nullptr;
        if (r == nullptr || !heap_.live(r, &rec_usable, &rec_transient)) why = "catalog slot names no record";
        else if (!record_valid(r, rec_usable)) why = "catalog record damaged";
        else if (r->alloc_offset != 0 &&
                 (r->alloc_offset >= region_.file_size() ||
                  !heap_.live(region_.ptr(r->alloc_offset), &alloc_usable, &alloc_transient) ||
                  r->size > alloc_usable)) {
            why = "catalog record names no live allocation";
        } else if (r->alloc_offset == 0 && r->size != 0) {
            why = "catalog record has a size but no allocation";
        }
        if (why != nullptr) {
            ++scan->damaged;
            scan->problems.emplace_back(off, why);
            continue;  // never trusted, and its slot is not reused
        }
        max_seq = std::max(max_seq, r->seq);
        std::string_view name(reinterpret_cast<const char *>(r + 1), r->name_len);
        NameIndex::Entry *dup = index_.find(name);
        if (dup != nullptr) {
            // A rename that replaced an entry was cut between its two slot
            // stores: the newer record wins, the older slot is emptied.
            ++scan->duplicates;
            if (record_at(dup->record)->seq < r->seq) {
                pending_clear_.push_back(dup->slot);
                dup->record = off;
                dup->slot = s;
            } else {
                pending_clear_.push_back(s);
                continue;
            }
        } else {
            index_.insert(name, off, s);
        }
    }
    // A record may not name catalog storage (the table or a record): removing
    // it with FMRT_REMOVE_FREE would free what the catalog stands on.
    {
        std::unordered_set<uint64_t> storage{root};
        index_.for_each([&](const NameIndex::Entry *e) { storage.insert(e->record); });
        std::vector<NameIndex::Entry *> dead;
        index_.for_each([&](NameIndex::Entry *e) {
            const CatalogRecord *r = record_at(e->record);
            if (r->alloc_offset != 0 && storage.count(r->alloc_offset)) {
                ++scan->damaged;
                scan->problems.emplace_back(e->record, "catalog record names catalog storage");
                dead.push_back(e);
            }
        });
        for (NameIndex::Entry *e : dead) index_.erase(e);
    }
    index_.for_each([&](const NameIndex::Entry *e) {
        const CatalogRecord *r = record_at(e->record);
        uint64_t u;
        bool tr = false;
        heap_.live(r, &u, &tr);
        if (tr) pending_durable_.push_back(e->record);
        if (r->alloc_offset != 0) {
            tr = false;
            heap_.live(region_.ptr(r->alloc_offset), &u, &tr);
            if (tr) pending_durable_.push_back(r->alloc_offset);
        }
    });
    next_seq_ = max_seq + 1;
    scan->entries = index_.size();
    return FMRT_OK;
}

void Catalog::apply_load_fixes() {
    std::lock_guard<std::mutex> lock(mu_);
    for (uint64_t off : pending_durable_) heap_.set_transient(region_.ptr(off), false);
    for (uint64_t s : pending_clear_) {
        store_slot(s, 0);
        free_slots_.push_back(s);
    }
    pending_durable_.clear();
    pending_clear_.clear();
}

void Catalog::store_slot(uint64_t slot, uint64_t value) {
    __atomic_store_n(&table_->slots[slot], value, __ATOMIC_RELEASE);
}

CatalogRecord *Catalog::make_record(std::string_view name, uint64_t alloc_off, uint64_t size, uint32_t type,
                                    const void *meta, size_t meta_len, uint64_t created) {
    auto *r = static_cast<CatalogRecord *>(heap_.alloc_transient(record_bytes(name.size(), meta_len)));
    if (r == nullptr) return nullptr;
    r->magic = kRecordMagic;
    r->alloc_offset = alloc_off;
    r->size = size;
    r->created_unix_ns = created;
    r->seq = next_seq_++;
    r->type = type;
    r->name_len = static_cast<uint32_t>(name.size());
    r->meta_len = meta_len;
    char *n = reinterpret_cast<char *>(r + 1);
    std::memcpy(n, name.data(), name.size());
    n[name.size()] = '\0';
    if (meta_len) std::memcpy(n + name.size() + 1, meta, meta_len);
    r->checksum = record_checksum(r);
    return r;
}

int Catalog::grow_table() {
    const uint64_t old_cap = table_ ? table_->capacity : 0;
    const uint64_t cap = old_cap ? old_cap * 2 : kInitialSlots;
    auto *t = static_cast<CatalogTable *>(heap_.alloc_transient(kTableHeaderBytes + cap * 8));
    if (t == nullptr) return last_status();
    t->magic = kTableMagic;
    t->capacity = cap;
    t->check = table_check(t);
    t->reserved = 0;
    if (old_cap) std::memcpy(t->slots, table_->slots, old_cap * 8);
    std::memset(t->slots + old_cap, 0, (cap - old_cap) * 8);
    CatalogTable *old = table_;
    if (old) heap_.set_transient(old, true);
    int rc = region_.set_catalog_root(region_.offset(t));
    if (rc != FMRT_OK) {
        if (old) heap_.set_transient(old, false);
        heap_.release(t);
        return rc;
    }
    heap_.set_transient(t, false);
    if (old) heap_.release(old);
    table_ = t;
    table_off_ = region_.offset(t);
    for (uint64_t s = cap; s-- > old_cap;) free_slots_.push_back(s);
    return FMRT_OK;
}

int Catalog::take_slot(uint64_t *out) {
    if (free_slots_.empty()) {
        int rc = grow_table();
        if (rc != FMRT_OK) return rc;
    }
    *out = free_slots_.back();
    free_slots_.pop_back();
    return FMRT_OK;
}

int Catalog::put(std::string_view name, void *p, uint64_t size, uint32_t type, const void *meta,
                 size_t meta_len, unsigned flags) {
    if (!valid_name(name)) return fail(FMRT_EINVAL, "catalog name is empty, too long or not UTF-8");
    if (meta_len != 0 && meta == nullptr) return fail(FMRT_EINVAL, "metadata is NULL with a length");
    uint64_t alloc_off = 0;
    if (p != nullptr) {
        uint64_t usable = 0;
        bool tr = false;
        if (!heap_.live(p, &usable, &tr)) return fail(FMRT_EINVAL, "%p is not a live allocation of this runtime", p);
        if (size > usable) {
            return fail(FMRT_EINVAL, "size %llu exceeds the allocation's usable size %llu",
                        static_cast<unsigned long long>(size), static_cast<unsigned long long>(usable));
        }
        alloc_off = region_.offset(p);
    } else if (size != 0) {
        return fail(FMRT_EINVAL, "an entry without an allocation must have size 0");
    }
    std::lock_guard<std::mutex> lock(mu_);
    NameIndex::Entry *found = index_.find(name);
    if (found != nullptr && !(flags & FMRT_PUT_REPLACE)) {
        return fail(FMRT_EEXISTS, "catalog entry '%s' exists", printable(name).c_str());
    }
    uint64_t slot = 0;
    if (found == nullptr) {
        int rc = take_slot(&slot);
        if (rc != FMRT_OK) return rc;
    }
    CatalogRecord *r = make_record(name, alloc_off, size, type, meta, meta_len, os::now_unix_ns());
    if (r == nullptr) {
        if (found == nullptr) free_slots_.push_back(slot);
        return last_status();
    }
    const uint64_t rec_off = region_.offset(r);
    if (found != nullptr) {
        NameIndex::Entry *held = found;
        CatalogRecord *old = record_at(held->record);
        void *old_alloc = (flags & FMRT_PUT_FREE_REPLACED) && old->alloc_offset != alloc_off
                              ? alloc_ptr(old->alloc_offset) : nullptr;
        heap_.set_transient(old, true);
        if (old_alloc) heap_.set_transient(old_alloc, true);
        store_slot(held->slot, rec_off);  // commit
        heap_.set_transient(r, false);
        if (p) heap_.set_transient(p, false);
        heap_.release(old);
        if (old_alloc) heap_.release(old_alloc);
        held->record = rec_off;
        return FMRT_OK;
    }
    // Indexed before the commit: a failure to index (no memory) then leaves
    // nothing committed (the record is transient and is given back).
    try {
        index_.insert(name, rec_off, slot);
    } catch (...) {
        heap_.release(r);
        free_slots_.push_back(slot);
        throw;
    }
    store_slot(slot, rec_off);  // commit
    heap_.set_transient(r, false);
    if (p) heap_.set_transient(p, false);
    return FMRT_OK;
}

int Catalog::get(std::string_view name, CatalogEntry *out) {
    if (!valid_name(name)) return fail(FMRT_EINVAL, "catalog name is empty, too long or not UTF-8");
    std::lock_guard<std::mutex> lock(mu_);
    const NameIndex::Entry *it = index_.find(name);
    if (it == nullptr) {
        return fail(FMRT_ENOTFOUND, "no catalog entry '%s'", printable(name).c_str());
    }
    fill(record_at(it->record), out);
    return FMRT_OK;
}

int Catalog::remove(std::string_view name, unsigned flags) {
    if (!valid_name(name)) return fail(FMRT_EINVAL, "catalog name is empty, too long or not UTF-8");
    std::lock_guard<std::mutex> lock(mu_);
    NameIndex::Entry *entry = index_.find(name);
    if (entry == nullptr) {
        return fail(FMRT_ENOTFOUND, "no catalog entry '%s'", printable(name).c_str());
    }
    const Slot held{entry->record, entry->slot};
    CatalogRecord *r = record_at(held.record);
    void *alloc = (flags & FMRT_REMOVE_FREE) ? alloc_ptr(r->alloc_offset) : nullptr;
    heap_.set_transient(r, true);
    if (alloc) heap_.set_transient(alloc, true);
    store_slot(held.slot, 0);  // commit
    index_.erase(entry);
    free_slots_.push_back(held.slot);
    heap_.release(r);
    if (alloc) heap_.release(alloc);
    return FMRT_OK;
}

int Catalog::rename(std::string_view from, std::string_view to, unsigned flags) {
    if (!valid_name(from) || !valid_name(to)) return fail(FMRT_EINVAL, "catalog name is empty, too long or not UTF-8");
    std::lock_guard<std::mutex> lock(mu_);
    NameIndex::Entry *src_it = index_.find(from);
    if (src_it == nullptr) {
        return fail(FMRT_ENOTFOUND, "no catalog entry '%s'", printable(from).c_str());
    }
    if (from == to) return FMRT_OK;
    NameIndex::Entry *dst_it = index_.find(to);
    if (dst_it != nullptr && !(flags & FMRT_PUT_REPLACE)) {
        return fail(FMRT_EEXISTS, "catalog entry '%s' exists", printable(to).c_str());
    }
    const Slot src{src_it->record, src_it->slot};
    CatalogRecord *old = record_at(src.record);
    CatalogRecord *r = make_record(to, old->alloc_offset, old->size, old->type,
                                   reinterpret_cast<const uint8_t *>(old + 1) + old->name_len + 1, old->meta_len,
                                   os::now_unix_ns());
    if (r == nullptr) return last_status();
    const uint64_t rec_off = region_.offset(r);
    CatalogRecord *dst = nullptr;
    void *dst_alloc = nullptr;
    Slot dst_slot{0, 0};
    if (dst_it != nullptr) {
        dst_slot = Slot{dst_it->record, dst_it->slot};
        dst = record_at(dst_slot.record);
        if ((flags & FMRT_PUT_FREE_REPLACED) && dst->alloc_offset != old->alloc_offset) {
            dst_alloc = alloc_ptr(dst->alloc_offset);
        }
    }
    // The index is ready before the commit: a new name is inserted now (a
    // failure to index then leaves nothing committed); a replaced entry's
    // index entry already has the name and is taken over below.
    NameIndex::Entry *to_entry = dst_it;
    if (to_entry == nullptr) {
        try {
            to_entry = index_.insert(to, rec_off, src.slot);
        } catch (...) {
            heap_.release(r);
            throw;
        }
    }
    heap_.set_transient(old, true);
    if (dst) heap_.set_transient(dst, true);
    if (dst_alloc) heap_.set_transient(dst_alloc, true);
    store_slot(src.slot, rec_off);  // commit: the entry now has its new name
    if (dst) store_slot(dst_slot.slot, 0);  // a crash before this: load keeps the newer record
    heap_.set_transient(r, false);
    index_.erase(src_it);
    to_entry->record = rec_off;
    to_entry->slot = src.slot;
    if (dst) free_slots_.push_back(dst_slot.slot);
    heap_.release(old);
    if (dst) heap_.release(dst);
    if (dst_alloc) heap_.release(dst_alloc);
    return FMRT_OK;
}

int Catalog::rebuild(const std::vector<uint64_t> &records) {
    std::lock_guard<std::mutex> lock(mu_);
    table_ = nullptr;
    table_off_ = 0;
    free_slots_.clear();
    // What the load found to make durable or to empty belongs to the table
    // this one replaces.
    pending_durable_.clear();
    pending_clear_.clear();
    index_.clear();
    // As in load, a record may not name catalog storage.  A record naming
    // the place of any record found is left out before the newest of each
    // name is chosen, so an older valid record of that name can stand in
    // (after a power cut a page may hold a record from before a slot was
    // reused).  The new table cannot be at a place a kept record names,
    // since every such place is live.
    const std::unordered_set<uint64_t> storage(records.begin(), records.end());
    std::map<std::string, const CatalogRecord *> newest;
    for (uint64_t off : records) {
        const CatalogRecord *r = record_at(off);
        next_seq_ = std::max(next_seq_, r->seq + 1);
        if (r->alloc_offset != 0 && storage.count(r->alloc_offset)) continue;
        std::string name(reinterpret_cast<const char *>(r + 1), r->name_len);
        auto it = newest.find(name);
        if (it == newest.end() || it->second->seq < r->seq) newest[name] = r;
    }
    for (auto &kv : newest) {
        uint64_t slot = 0;
        int rc = take_slot(&slot);
        if (rc != FMRT_OK) return rc;
        const uint64_t off = region_.offset(kv.second);
        store_slot(slot, off);
        index_.insert(kv.first, off, slot);
        // What the rebuilt catalog names must survive the transient reclaim
        // that follows (apply_load_fixes makes it durable).
        pending_durable_.push_back(off);
        if (kv.second->alloc_offset) pending_durable_.push_back(kv.second->alloc_offset);
    }
    if (table_ == nullptr) return grow_table();  // an empty but valid table
    return FMRT_OK;
}

int Catalog::next(const char *after, CatalogEntry *out) {
    std::lock_guard<std::mutex> lock(mu_);
    const NameIndex::Entry *it = after ? index_.upper_bound(std::string_view(after)) : index_.first();
    if (it == nullptr) return fail(FMRT_ENOTFOUND, "no more catalog entries");
    fill(record_at(it->record), out);
    return FMRT_OK;
}

uint64_t Catalog::count() {
    std::lock_guard<std::mutex> lock(mu_);
    return index_.size();
}

void Catalog::referenced(std::vector<uint64_t> *out) {
    std::lock_guard<std::mutex> lock(mu_);
    if (table_off_) out->push_back(table_off_);
    index_.for_each([&](const NameIndex::Entry *e) {
        out->push_back(e->record);
        uint64_t a = record_at(e->record)->alloc_offset;
        if (a) out->push_back(a);
    });
}

}  // namespace fmrt
