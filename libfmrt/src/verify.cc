// The tolerant walk (verify.h).
#include "verify.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "catalog.h"

namespace fmrt {
namespace {

// Consecutive valid headers that make a resynchronisation point credible
// (each check is 16 bits: a false chain of this length is ~2^-64 likely).
constexpr int kResyncChain = 4;

// One allocation the walk found: 16 bytes each, kept in a vector in file
// order (the walk only moves forward), so a heap of many millions of small
// allocations can be verified without a node per allocation.
struct Allocation {
    uint64_t off;
    uint64_t usable : 62;
    uint64_t transient : 1;
    // A slot whose bit is set but which carries the freed key: given back
    // but not yet cleared (a kill between the two stores of a free), or a
    // power cut that kept the slot's page from before it was handed out.
    // The runtime takes it for free, so nothing may name it; it is a leak.
    uint64_t keyed : 1;
};
static_assert(sizeof(Allocation) == 16, "one allocation takes 16 bytes");

class Walker {
public:
    Walker(const HeapImage &img, const VerifyOptions &opts, fmrt_report *rep, VerifyResult *res)
        : img_(img), opts_(opts), rep_(rep), res_(res), key_(freed_slot_key(img.sb.uuid)) {}

    void run() {
        const uint64_t end = heap_end();
        collect_anchors();
        // With no valid table to go by, what the scan finds stands in for
        // one (strong); beside a valid table it only helps resynchronise.
        // A lost table is itself a sign of damage: a power cut can keep a
        // free header over the table and the entries after it, and the walk
        // would then meet nothing wrong.
        const bool table_lost = strong_.empty() && img_.sb.catalog_root != 0;
        if (table_lost || meets_damage(end)) scan_anchors(end, strong_.empty());
        collect_cached(end);
        walk(end);
        if (!allocs_sorted_) {
            std::sort(allocs_.begin(), allocs_.end(), [](const Allocation &a, const Allocation &b) { return a.off < b.off; });
        }
        check_catalog();
        count_reachability();
    }

private:
    uint64_t word(uint64_t off) const {
        uint64_t w;
        std::memcpy(&w, img_.base + off, sizeof w);
        return w;
    }

    bool header(uint64_t off, uint64_t end, SpanHeader *h) const {
        return off + 8 <= end && decode_span(off, word(off), h) && uint64_t{h->pages} <= (end - off) / kPageSize &&
               !contradicted(off, *h);
    }

    // ---- Anchors ----
    // Between two syncs the kernel may write back any subset of the dirty
    // pages, so after a power cut a header the walk meets can be one left
    // over from an earlier layout (a stale word in a free span, or in an
    // allocation that did not overwrite it).  Such a header would carry the
    // walk over spans that are still live.  Anchors are offsets known to hold
    // an allocation that was live at some moment from the last sync on; a
    // span live over that whole time never moves.
    //
    // Strong anchors are what the tables the superblock copies name: the
    // tables, their records, and the allocations the records name.  A header
    // whose span holds a strong anchor where it could not hold an allocation,
    // and none where it could, is not believed.  (The exemption is for a
    // dangling entry: a caller may free a named allocation, and a healthy
    // span may later cover its place -- that span holds its own entry's
    // allocation where it should.)  When the walk meets damage, every valid
    // table and record found anywhere in the heap, and what those records
    // name, are anchors too: weak ones beside a valid table (one may be a
    // caller's copy of a record), so they only make a header that holds one
    // where it could a resynchronisation point on its own; strong ones when
    // neither superblock names a valid table (a power cut that lost it), as
    // they then stand in for it.

    // The tables both superblock copies name (when they check and belong to
    // this file): the one in force and the one of the other sync epoch.
    void collect_anchors() {
        budget_ = 2 * img_.file_size + (1u << 20);
        max_anchors_ = img_.file_size / 16 + 1024;
        add_table_anchors(img_.sb.catalog_root, true);
        for (int copy = 0; copy < 2; ++copy) {
            const uint64_t at = uint64_t(copy) * kPageSize;
            if (at + sizeof(Superblock) > img_.file_size) continue;
            Superblock sb;
            std::memcpy(&sb, img_.base + at, sizeof sb);
            if (std::memcmp(sb.magic, img_.sb.magic, sizeof sb.magic) != 0 || sb.checksum != superblock_checksum(sb) ||
                std::memcmp(sb.uuid, img_.sb.uuid, sizeof sb.uuid) != 0) {
                continue;
            }
            add_table_anchors(sb.catalog_root, true);
        }
        sort_unique(&strong_);
        sort_unique(&weak_);
    }

    static void sort_unique(std::vector<uint64_t> *v) {
        std::sort(v->begin(), v->end());
        v->erase(std::unique(v->begin(), v->end()), v->end());
    }

    // Whether a walk of the heap meets a header it cannot use.
    bool meets_damage(uint64_t end) const {
        for (uint64_t off = kHeapStart; off < end;) {
            SpanHeader h;
            if (!header(off, end, &h)) return !free_past_end(off, end);
            off += uint64_t{h.pages} * kPageSize;
        }
        return false;
    }

    // A damaged heap (a power cut between syncs) may name no valid table:
    // then every valid table and record found in the heap is a weak anchor.
    // A freed slot or large block carries the freed key where a record keeps
    // its checksum and a table its capacity, and a slot handed out has that
    // word cleared, so what still checks was live when its page was written
    // (from the last sync on, as the pages of a power cut are) -- or is a
    // caller's copy of one, which is why these are weak.  The work is
    // bounded (budget_, max_anchors_), so a file full of record look-alikes
    // costs time and memory in proportion to its size.
    void scan_anchors(uint64_t end, bool strong) {
        for (uint64_t off = kHeapStart; off + kRecordHeaderBytes <= end && budget_ > 0; off += 16) {
            const uint64_t w = word(off);
            if (w == kTableMagic) {
                add_table_anchors(off, strong);
            } else if (w == kRecordMagic) {
                add_record_anchors(off, strong);
            }
        }
        sort_unique(&strong_);
        sort_unique(&weak_);
    }

    bool spend(uint64_t work) {
        if (work > budget_) {
            budget_ = 0;
            return false;
        }
        budget_ -= work;
        return true;
    }

    void add_anchor(std::vector<uint64_t> *v, uint64_t off) {
        if (strong_.size() + weak_.size() < max_anchors_) v->push_back(off);
    }

    // A valid record at `off`: the record itself and the allocation it names.
    void add_record_anchors(uint64_t off, bool strong) {
        const uint64_t size = img_.file_size;
        if (off < kHeapStart || off % 8 != 0 || size < kRecordHeaderBytes || off > size - kRecordHeaderBytes) return;
        const auto *r = reinterpret_cast<const CatalogRecord *>(img_.base + off);
        if (r->magic != kRecordMagic || r->name_len == 0 || r->name_len > FMRT_NAME_MAX || r->meta_len > size - off) {
            return;
        }
        const uint64_t bytes = record_bytes(r->name_len, r->meta_len);
        if (bytes > size - off || !spend(bytes) || !record_valid(r, size - off)) return;
        std::vector<uint64_t> *v = strong ? &strong_ : &weak_;
        add_anchor(v, off);
        if (r->alloc_offset >= kHeapStart && r->alloc_offset < size) add_anchor(v, r->alloc_offset);
    }

    void add_table_anchors(uint64_t root, bool strong) {
        const uint64_t size = img_.file_size;
        if (root < kHeapStart || root % 8 != 0 || size < kTableHeaderBytes || root > size - kTableHeaderBytes) return;
        const auto *t = reinterpret_cast<const CatalogTable *>(img_.base + root);
        if (t->magic != kTableMagic || t->check != table_check(t) || t->capacity > (size - root - kTableHeaderBytes) / 8) {
            return;
        }
        add_anchor(strong ? &strong_ : &weak_, root);
        for (uint64_t s = 0; s < t->capacity && spend(8); ++s) {
            add_record_anchors(word(root + kTableHeaderBytes + 8 * s), strong);
        }
    }

    // Whether the span `h` at `off` could hold an allocation starting at `a`.
    static bool holds(uint64_t off, const SpanHeader &h, uint64_t a) {
        if (h.kind == SpanKind::kLarge) return a == off + kPageSize;
        if (h.kind != SpanKind::kRun) return false;
        const RunLayout &l = run_layout(h.size_class);
        if (h.pages != l.pages || a < off + l.data_offset) return false;
        const uint64_t d = a - off - l.data_offset;
        return d % l.slot_size == 0 && d / l.slot_size < l.slots;
    }

    // True when a strong anchor lies in the span where it could not be, and
    // none where it could.
    bool contradicted(uint64_t off, const SpanHeader &h) const {
        const uint64_t end = off + uint64_t{h.pages} * kPageSize;
        bool misplaced = false;
        for (auto it = std::lower_bound(strong_.begin(), strong_.end(), off); it != strong_.end() && *it < end; ++it) {
            if (holds(off, h, *it)) return false;
            misplaced = true;
        }
        return misplaced;
    }

    // True when an anchor of either kind lies in the span where it could be.
    bool anchored(uint64_t off, const SpanHeader &h) const {
        const uint64_t end = off + uint64_t{h.pages} * kPageSize;
        for (const std::vector<uint64_t> *v : {&strong_, &weak_}) {
            auto it = std::lower_bound(v->begin(), v->end(), off);
            if (it != v->end() && *it < end && holds(off, h, *it)) return true;
        }
        return false;
    }

    void vproblem(uint64_t off, int code, const char *fmt, va_list ap) __attribute__((format(printf, 4, 0))) {
        char buf[160];
        std::vsnprintf(buf, sizeof buf, fmt, ap);
        report_problem(rep_, off, code, buf);
    }

    void problem(uint64_t off, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5))) {
        va_list ap;
        va_start(ap, fmt);
        vproblem(off, code, fmt, ap);
        va_end(ap);
    }

    // A problem of the file's structure (spans, runs, the table, a record
    // no slot names): what a power cut between syncs leaves, and what the
    // first read-write open after a crash refuses (VerifyResult::structural).
    // A damaged or dangling record is reported with problem(): the load
    // never trusts one, so it does not stop an open.
    void damage(uint64_t off, const char *fmt, ...) __attribute__((format(printf, 3, 4))) {
        va_list ap;
        va_start(ap, fmt);
        vproblem(off, FMRT_EFORMAT, fmt, ap);
        va_end(ap);
        res_->structural++;
    }

    // The heap end the walk may use: the superblock's, or (a truncated
    // file) the end of the file rounded down to a page.
    uint64_t heap_end() {
        uint64_t end = img_.sb.heap_end;
        if (end > img_.file_size) {
            damage(img_.file_size, "file truncated: %llu bytes, heap ends at %llu",
                    ull(img_.file_size), ull(end));
            end = std::max(img_.file_size / kPageSize * kPageSize, kHeapStart);
        }
        res_->new_heap_end = end;
        return end;
    }

    // The next offset after `from` where a chain of valid headers starts
    // (kResyncChain long, or reaching `end` exactly); `end` if none.
    uint64_t resync(uint64_t from, uint64_t end) const {
        for (uint64_t q = from; q < end; q += kPageSize) {
            uint64_t at = q;
            int links = 0;
            SpanHeader h;
            if (header(q, end, &h) && anchored(q, h)) return q;
            while (links < kResyncChain && at < end) {
                if (header(at, end, &h)) {
                    at += uint64_t{h.pages} * kPageSize;
                } else if (free_past_end(at, end)) {
                    at = end;
                } else {
                    break;
                }
                ++links;
            }
            if (links > 0 && (links == kResyncChain || at == end)) return q;
        }
        return end;
    }

    // A free span whose header runs past `end`: the file grew, the growth
    // was merged into the free tail, and the superblock in force is one
    // written before (a power cut kept the older copy).  Its pages up to
    // `end` are free all the same.
    bool free_past_end(uint64_t off, uint64_t end) const {
        SpanHeader h;
        return off + 8 <= end && decode_span(off, word(off), &h) && h.kind == SpanKind::kFree &&
               uint64_t{h.pages} > (end - off) / kPageSize &&
               !contradicted(off, SpanHeader{SpanKind::kFree, 0, 0, static_cast<uint32_t>((end - off) / kPageSize)});
    }

    void add_free_header(uint64_t off, uint64_t pages) {
        // Split ranges longer than a header can describe.
        while (pages > 0) {
            uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(pages, 0xFFFFFFFFu));
            res_->fixes.push_back({Fix::kStore, off, encode_span(off, SpanHeader{SpanKind::kFree, 0, 0, n})});
            off += uint64_t{n} * kPageSize;
            pages -= n;
        }
    }

    // Pre-pass: the slots thread-cache blocks list are free, though their
    // bits are set (a live runtime's caches, or a crashed process's, which
    // the next open gives back).
    void collect_cached(uint64_t end) {
        std::vector<uint64_t> entries;
        const uint64_t key = key_;
        for (uint64_t off = kHeapStart; off < end;) {
            SpanHeader h;
            if (!header(off, end, &h)) {
                off = resync(off + kPageSize, end);
                continue;
            }
            if (h.kind == SpanKind::kCache) {
                entries.clear();
                if (cache_block_entries(img_.base + off, h.pages, &entries)) {
                    // As the open does: only a slot carrying the freed key.
                    for (uint64_t e : entries) {
                        if (e >= kHeapStart && e <= img_.file_size - 16 && slot_carries_key(img_.base + e, key)) {
                            cached_.insert(e);
                        }
                    }
                } else {
                    bad_cache_blocks_.insert(off);
                }
            }
            off += uint64_t{h.pages} * kPageSize;
        }
    }

    void walk(uint64_t end) {
        uint64_t off = kHeapStart;
        uint64_t free_run_start = 0, free_run_pages = 0;  // current run of free neighbours
        auto close_free_run = [&] {
            if (free_run_pages == 0) return;
            rep_->free_spans++;
            rep_->free_bytes += free_run_pages * kPageSize;
            free_run_pages = 0;
        };
        while (off < end) {
            SpanHeader h;
            if (!header(off, end, &h) && free_past_end(off, end)) {
                damage(off, "free span at %llu runs past the heap end", ull(off));
                add_free_header(off, (end - off) / kPageSize);
                h = SpanHeader{SpanKind::kFree, 0, 0, static_cast<uint32_t>((end - off) / kPageSize)};
                // (fall through as the free span it now is)
            } else if (!header(off, end, &h)) {
                SpanHeader raw;
                const bool decodes = decode_span(off, word(off), &raw);
                const bool fits = decodes && uint64_t{raw.pages} <= (end - off) / kPageSize;
                uint64_t next = resync(off + kPageSize, end);
                damage(off,
                       fits      ? "span header at %llu is left from an earlier layout (its span holds a catalog "
                                   "record where it cannot); %llu bytes unreadable"
                       : decodes ? "span at %llu runs past the heap end; %llu bytes unreadable"
                                 : "damaged span header at %llu; %llu bytes unreadable",
                       ull(off), ull(next - off));
                // The unreadable range becomes free: whatever it held is lost.
                add_free_header(off, (next - off) / kPageSize);
                rep_->spans++;
                close_free_run();
                off = next;
                continue;
            }
            rep_->spans++;
            const uint64_t bytes = uint64_t{h.pages} * kPageSize;
            if (h.kind == SpanKind::kFree) {
                if (h.flags & kSpanTransient) {
                    damage(off, "free span at %llu flagged transient", ull(off));
                    res_->fixes.push_back({Fix::kStore, off, encode_span(off, SpanHeader{SpanKind::kFree, 0, 0, h.pages})});
                }
                if (free_run_pages != 0 && free_run_pages + h.pages <= 0xFFFFFFFFu) {
                    // Free neighbours (a crash between a free and its join).
                    free_run_pages += h.pages;
                    res_->fixes.push_back({Fix::kStore, free_run_start,
                                           encode_span(free_run_start, SpanHeader{SpanKind::kFree, 0, 0,
                                                                                  static_cast<uint32_t>(free_run_pages)})});
                } else {
                    close_free_run();
                    free_run_start = off;
                    free_run_pages = h.pages;
                }
            } else {
                close_free_run();
                if (h.kind == SpanKind::kRun) check_run(off, h);
                else if (h.kind == SpanKind::kLarge) check_large(off, h);
                else check_cache_block(off, h);
            }
            off += bytes;
        }
        close_free_run();
    }

    void check_run(uint64_t off, const SpanHeader &h) {
        const RunLayout &l = run_layout(h.size_class);
        rep_->runs++;
        if (h.pages != l.pages) {
            damage(off, "run at %llu has %u pages, its class needs %u", ull(off), h.pages, l.pages);
            add_free_header(off, h.pages);
            return;
        }
        const uint64_t data = off + l.data_offset;
        for (uint32_t w = 0; w < l.bitmap_words; ++w) {
            const uint64_t aoff = off + kRunBitmapOffset + 16ull * w, toff = aoff + 8;
            uint64_t a = word(aoff), t = word(toff);
            const uint32_t first = w * 64;
            const uint64_t mask = first >= l.slots          ? 0
                                  : first + 64 <= l.slots ? ~uint64_t{0}
                                                          : (uint64_t{1} << (l.slots - first)) - 1;
            if ((a | t) & ~mask) {
                damage(aoff, "run at %llu marks slots it does not have", ull(off));
                res_->fixes.push_back({Fix::kAnd, aoff, mask});
                res_->fixes.push_back({Fix::kAnd, toff, mask});
                a &= mask;
                t &= mask;
            }
            if (t & ~a) {  // a crash between the two stores of a transient allocation
                res_->fixes.push_back({Fix::kAnd, toff, a});
                t &= a;
            }
            while (a != 0) {
                const uint32_t b = static_cast<uint32_t>(__builtin_ctzll(a));
                a &= a - 1;
                const uint64_t slot_off = data + (uint64_t{first} + b) * l.slot_size;
                if (cached_.count(slot_off)) {
                    res_->cached_free++;
                    if (!opts_.live) {  // a crashed cache's slot: give it back
                        res_->fixes.push_back({Fix::kAnd, aoff, ~(uint64_t{1} << b)});
                        res_->fixes.push_back({Fix::kAnd, toff, ~(uint64_t{1} << b)});
                    }
                    continue;
                }
                const bool tr = (t >> b) & 1;
                const bool keyed = slot_off <= img_.file_size - 16 && slot_carries_key(img_.base + slot_off, key_);
                add_allocation(slot_off, l.slot_size, tr, keyed);
                rep_->small_allocations++;
                rep_->small_bytes += l.slot_size;
                if (tr) {
                    rep_->transient_allocations++;
                    res_->transient.push_back(slot_off);
                }
            }
        }
    }

    void check_cache_block(uint64_t off, const SpanHeader &h) {
        if (bad_cache_blocks_.count(off)) {
            damage(off, "thread cache block at %llu is damaged", ull(off));
        }
        if (!opts_.live) {
            // Left by a process that did not close: the next open frees it.
            res_->fixes.push_back({Fix::kStore, off, encode_span(off, SpanHeader{SpanKind::kFree, 0, 0, h.pages})});
        }
    }

    void check_large(uint64_t off, const SpanHeader &h) {
        if (h.pages < 2) {
            damage(off, "large allocation at %llu has no data page", ull(off));
            add_free_header(off, h.pages);
            return;
        }
        const uint64_t usable = (uint64_t{h.pages} - 1) * kPageSize;
        const uint64_t requested = word(off + 8);
        if (requested > usable) {
            damage(off, "large allocation at %llu records %llu bytes in a %llu-byte span",
                    ull(off), ull(requested), ull(usable));
            res_->fixes.push_back({Fix::kStore, off + 8, usable});
        }
        const bool tr = (h.flags & kSpanTransient) != 0;
        add_allocation(off + kPageSize, usable, tr, false);
        rep_->large_allocations++;
        rep_->large_bytes += usable;
        if (tr) {
            rep_->transient_allocations++;
            res_->transient.push_back(off + kPageSize);
        }
    }

    // A live allocation at `off` as the runtime sees one (not keyed).
    const Allocation *allocation(uint64_t off) const {
        auto it = std::lower_bound(allocs_.begin(), allocs_.end(), off,
                                   [](const Allocation &a, uint64_t o) { return a.off < o; });
        return it == allocs_.end() || it->off != off || it->keyed ? nullptr : &*it;
    }

    void add_allocation(uint64_t off, uint64_t usable, bool transient, bool keyed) {
        if (!allocs_.empty() && allocs_.back().off >= off) allocs_sorted_ = false;
        Allocation a{};
        a.off = off;
        a.usable = usable;
        a.transient = transient;
        a.keyed = keyed;
        allocs_.push_back(a);
    }

    void check_catalog() {
        const uint64_t root = img_.sb.catalog_root;
        if (root == 0) return;
        const Allocation *ta = allocation(root);
        // Offsets from the file are checked before any pointer is formed.
        const auto *t = ta ? reinterpret_cast<const CatalogTable *>(img_.base + root) : nullptr;
        if (ta == nullptr || ta->usable < kTableHeaderBytes || t->magic != kTableMagic ||
            t->check != table_check(t) || t->capacity > (ta->usable - kTableHeaderBytes) / 8) {
            damage(root, "catalog table at %llu is damaged", ull(root));
            res_->table_damaged = true;
            return;
        }
        reachable_.push_back(root);
        auto &names = names_;  // name -> (seq, slot word); the names point into the file
        names.reserve(static_cast<size_t>(std::min<uint64_t>(t->capacity, img_.file_size / kRecordHeaderBytes)));
        std::vector<uint64_t> storage{root};  // the table and every slot's record, sorted
        for (uint64_t s = 0; s < t->capacity; ++s) storage.push_back(word(root + kTableHeaderBytes + 8 * s));
        std::sort(storage.begin(), storage.end());
        for (uint64_t s = 0; s < t->capacity; ++s) {
            const uint64_t slot_off = root + kTableHeaderBytes + 8 * s;
            const uint64_t off = word(slot_off);
            if (off == 0) continue;
            const Allocation *ra = allocation(off);
            const auto *r = ra ? reinterpret_cast<const CatalogRecord *>(img_.base + off) : nullptr;
            if (ra == nullptr || !record_valid(r, ra->usable)) {
                rep_->damaged_records++;
                problem(off, FMRT_EFORMAT, "catalog record at %llu is damaged", ull(off));
                res_->bad_slots.push_back(slot_off);
                continue;
            }
            const Allocation *aa = r->alloc_offset ? allocation(r->alloc_offset) : nullptr;
            if (r->alloc_offset != 0 && std::binary_search(storage.begin(), storage.end(), r->alloc_offset)) {
                problem(off, FMRT_EFORMAT, "catalog record at %llu names catalog storage", ull(off));
                res_->bad_slots.push_back(slot_off);
                continue;
            }
            if ((r->alloc_offset != 0 && (aa == nullptr || r->size > aa->usable)) ||
                (r->alloc_offset == 0 && r->size != 0)) {
                problem(off, FMRT_EINVAL, "catalog entry '%.40s' names no live allocation (offset %llu)",
                        reinterpret_cast<const char *>(r + 1), ull(r->alloc_offset));
                res_->bad_slots.push_back(slot_off);
                continue;
            }
            const std::string_view name(reinterpret_cast<const char *>(r + 1), r->name_len);
            auto [it, fresh] = names.emplace(name, std::make_pair(r->seq, slot_off));
            if (!fresh) {  // a rename cut between its two slot stores
                if (it->second.first < r->seq) {
                    res_->bad_slots.push_back(it->second.second);
                    it->second = {r->seq, slot_off};
                } else {
                    res_->bad_slots.push_back(slot_off);
                    continue;
                }
            } else {
                rep_->catalog_entries++;
            }
            reachable_.push_back(off);
            if (r->alloc_offset) reachable_.push_back(r->alloc_offset);
        }
    }

    void count_reachability() {
        std::sort(reachable_.begin(), reachable_.end());
        for (const Allocation &a : allocs_) {
            if (a.transient || std::binary_search(reachable_.begin(), reachable_.end(), a.off)) continue;
            if (!res_->table_damaged && orphan_record(a)) {
                const auto *r = reinterpret_cast<const CatalogRecord *>(img_.base + a.off);
                damage(a.off, "catalog record at %llu ('%.40s') is in no catalog slot", ull(a.off),
                       reinterpret_cast<const char *>(r + 1));
                res_->orphan_records++;
            }
            rep_->unreachable_allocations++;
            rep_->unreachable_bytes += a.usable;
            res_->unreachable.push_back(a.off);
        }
    }

    // A durable, valid record naming a live allocation, whose name no slot
    // names.  Put, replace, remove and rename make a record transient before
    // any slot lets go of it, so a kill never leaves one; a power cut
    // between syncs can, with a table page older than the record's (an
    // entry made since the sync, or one the table lost to a torn page).
    // Repair then rebuilds the catalog from the records (the newest of a
    // name wins).  An older record of a name the catalog holds is garbage,
    // counted unreachable like any leak.
    bool orphan_record(const Allocation &a) const {
        if (a.keyed || a.usable < kRecordHeaderBytes) return false;
        const auto *r = reinterpret_cast<const CatalogRecord *>(img_.base + a.off);
        if (r->magic != kRecordMagic || !record_valid(r, a.usable)) return false;
        if (names_.count(std::string_view(reinterpret_cast<const char *>(r + 1), r->name_len))) return false;
        if (r->alloc_offset == 0) return r->size == 0;
        const Allocation *named = allocation(r->alloc_offset);
        if (named == nullptr || r->size > named->usable) return false;
        // Naming catalog storage (a table or a record), it would be dropped
        // by the rebuild as by a load.
        if (r->alloc_offset == img_.sb.catalog_root) return false;
        if (named->usable < kRecordHeaderBytes) return true;
        const auto *n = reinterpret_cast<const CatalogRecord *>(img_.base + r->alloc_offset);
        return !(n->magic == kRecordMagic && record_valid(n, named->usable)) && n->magic != kTableMagic;
    }

    static unsigned long long ull(uint64_t v) { return static_cast<unsigned long long>(v); }

    const HeapImage &img_;
    const VerifyOptions &opts_;
    fmrt_report *rep_;
    VerifyResult *res_;
    const uint64_t key_;  // the freed-slot key of this file
    std::vector<uint64_t> strong_, weak_;  // anchors, sorted; see collect_anchors
    uint64_t budget_ = 0;                   // bytes scan_anchors may still hash or read
    uint64_t max_anchors_ = 0;
    std::vector<Allocation> allocs_;  // in file order (see add_allocation)
    bool allocs_sorted_ = true;
    std::unordered_set<uint64_t> cached_;            // slots thread caches list as free
    std::unordered_set<uint64_t> bad_cache_blocks_;
    std::vector<uint64_t> reachable_;  // what the catalog keeps alive (sorted before use)
    // The catalog's names (pointing into the mapped file) -> (seq, slot word).
    std::unordered_map<std::string_view, std::pair<uint64_t, uint64_t>> names_;
};

}  // namespace

void report_problem(fmrt_report *rep, uint64_t off, int code, const std::string &what) {
    if (rep->problems < FMRT_REPORT_PROBLEMS) {
        fmrt_problem &p = rep->first[rep->problems];
        p.offset = off;
        p.code = code;
        std::snprintf(p.what, sizeof p.what, "%s", what.c_str());
    }
    rep->problems++;
}

void verify_image(const HeapImage &img, const VerifyOptions &opts, fmrt_report *rep, VerifyResult *res) {
    rep->file_bytes = img.file_size;
    rep->heap_bytes = img.sb.heap_end > kHeapStart ? img.sb.heap_end - kHeapStart : 0;
    rep->clean = (img.sb.flags & kSbDirty) ? 0 : 1;
    Walker(img, opts, rep, res).run();
    rep->repairs = res->fixes.size() + res->bad_slots.size() + res->transient.size() +
                   (res->table_damaged ? 1 : 0) + (res->new_heap_end != img.sb.heap_end ? 1 : 0);
}

}  // namespace fmrt
