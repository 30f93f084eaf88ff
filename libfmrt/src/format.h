// The on-disk format of a libfmrt heap file (docs/format.md draws it).
//
// A file is two superblock copies (pages 0 and 1) followed by the heap: a
// gapless sequence of spans from heap_start to heap_end.  Every span starts
// with one 64-bit header word (kind, size in pages, size class, flags and a
// 16-bit check bound to the span's offset), so the heap can be walked from
// its start, and each change of a header is a single aligned store: a
// process killed at any instant leaves every header either old or new.
//
// Invariants:
//   - offsets are bytes from the start of the file; spans are page aligned;
//   - the walk heap_start -> heap_end visits every span exactly once;
//   - no pointer is ever stored in the file.
#ifndef FMRT_FORMAT_H
#define FMRT_FORMAT_H

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace fmrt {

constexpr uint64_t kPageSize = 4096;
constexpr uint64_t kPageShift = 12;

constexpr uint32_t kFormatMajor = 1;  // equals FMRT_FORMAT_VERSION
constexpr uint32_t kFormatMinor = 0;
constexpr uint32_t kByteOrderTag = 0x01020304u;
constexpr char kMagic[8] = {'F', 'M', 'R', 'T', 'H', 'E', 'A', 'P'};

constexpr uint64_t kSuperblockSlotBytes = kPageSize;
constexpr uint64_t kHeapStart = 2 * kPageSize;  // after the two superblock copies

// Superblock flag bits.
constexpr uint64_t kSbDirty = 1;  // open read-write, or not closed cleanly

// One superblock copy.  Copy (generation % 2) is written at offset
// (generation % 2) * 4096; the valid copy with the higher generation wins,
// so a torn write of one copy leaves the other in force.
struct Superblock {
    char magic[8];             // "FMRTHEAP"
    uint32_t format_major;     // kFormatMajor; another value: FMRT_EVERSION
    uint32_t format_minor;     // readers accept any minor of their major
    uint32_t byte_order;       // kByteOrderTag as written by the creator
    uint32_t page_size;        // kPageSize
    uint64_t generation;       // +1 on every superblock write
    uint64_t heap_start;       // offset of the first span (kHeapStart)
    uint64_t heap_end;         // end of the last span; <= file size
    uint64_t max_size;         // address space the creator asked for
    uint64_t flags;            // kSb* bits
    uint8_t uuid[16];          // random, set once at creation
    uint64_t created_unix_ns;  // creation time
    uint64_t catalog_root;     // offset of the catalog root (0: none yet)
    uint8_t reserved[152];     // zero; room for later fields
    uint64_t checksum;         // XXH3-64 of the bytes before this field
};
static_assert(sizeof(Superblock) == 256, "superblock layout is part of the format");
static_assert(offsetof(Superblock, checksum) == 248, "superblock layout is part of the format");

uint64_t superblock_checksum(const Superblock &sb);

// Checks one copy: magic, byte order, version, checksum, geometry.
// Returns FMRT_OK, FMRT_EFORMAT or FMRT_EVERSION with the detail recorded.
int check_superblock(const Superblock &sb);

// ---- Span header word ----------------------------------------------------
//   bits  0..31  pages      span length in pages (>= 1)
//   bits 32..35  kind       SpanKind (1 free, 2 run, 3 large, 4 thread cache)
//   bits 36..43  size class for runs, 0 otherwise
//   bits 44..47  flags      SpanFlag bits
//   bits 48..63  check      16-bit hash of bits 0..47 and the span's offset
enum class SpanKind : uint8_t { kInvalid = 0, kFree = 1, kRun = 2, kLarge = 3, kCache = 4 };

// Free span whose bytes after its header word are all zero (fresh growth).
constexpr uint8_t kSpanZeroed = 1;
// Allocation flagged transient (reclaimed at the next open).
constexpr uint8_t kSpanTransient = 2;

struct SpanHeader {
    SpanKind kind = SpanKind::kInvalid;
    uint8_t size_class = 0;
    uint8_t flags = 0;
    uint32_t pages = 0;
};

uint64_t encode_span(uint64_t offset, const SpanHeader &h);
// False when the word's check does not match its offset or a field is out of
// range (unknown kind, zero pages).
bool decode_span(uint64_t offset, uint64_t word, SpanHeader *out);

// Large allocations: the span's first page holds the header; the data starts
// on the next page, so it is page aligned.
struct LargeHeader {
    uint64_t word;        // span header word
    uint64_t requested;   // bytes asked for (usable size is pages*4096 - 4096)
};

// ---- Size classes and runs -------------------------------------------------
// Small allocations (<= kMaxSmall) are slots of a run: a span holding slots
// of one size class, with a header and two bitmaps (allocated, transient).
constexpr uint32_t kNumClasses = 44;
constexpr uint64_t kMaxSmall = 64 * 1024;

struct RunLayout {
    uint32_t slot_size;    // bytes per slot
    uint32_t pages;        // run length in pages
    uint32_t slots;        // slots in the run
    uint32_t bitmap_words; // 64-bit words per bitmap
    uint32_t data_offset;  // offset of slot 0 from the run's start (64-aligned)
    uint64_t div_magic;    // slot index = (d * div_magic) >> 40 for d < run bytes
};

// Run header: word, then the allocated and transient bitmaps interleaved
// word by word (allocated word w at bitmaps[2w], transient word w at
// bitmaps[2w+1]), so the free path reads both from one cache line.  Bit b of
// word w is slot 64w + b.  A transient bit is only ever set together with
// its allocated bit.
struct RunHeader {
    uint64_t word;
    uint64_t reserved[7];
    // The bitmaps follow at kRunBitmapOffset; they are addressed from the
    // header's start (their length depends on the class).
    uint64_t *alloc_word(uint64_t w) { return bitmaps() + 2 * w; }
    uint64_t *transient_word(uint64_t w) { return bitmaps() + 2 * w + 1; }

private:
    uint64_t *bitmaps() { return reinterpret_cast<uint64_t *>(reinterpret_cast<uint8_t *>(this) + 64); }
};
constexpr uint32_t kRunBitmapOffset = 64;

const RunLayout &run_layout(uint32_t size_class);

// Class sizes: 16..128 by 16, then four steps per power of two to 64 KiB.
// The table maps (size + 15) / 16 to the smallest class that holds size; it
// is built at compile time so the malloc fast path is one load.
namespace detail {
struct ClassLookup {
    uint8_t by16[kMaxSmall / 16 + 1];
};
constexpr uint32_t class_size_at(uint32_t c) {
    if (c < 8) return 16 * (c + 1);
    const uint32_t k = c - 8;  // 4 steps per power of two from 128
    const uint32_t base = 128u << (k / 4);
    return base + base / 4 * (k % 4 + 1);
}
constexpr ClassLookup make_class_lookup() {
    ClassLookup t{};
    uint32_t c = 0;
    for (uint32_t q = 0; q <= kMaxSmall / 16; ++q) {
        while (class_size_at(c) < q * 16) ++c;
        t.by16[q] = static_cast<uint8_t>(c);
    }
    return t;
}
inline constexpr ClassLookup kClassLookup = make_class_lookup();
static_assert(class_size_at(kNumClasses - 1) == kMaxSmall, "class table must end at kMaxSmall");
}  // namespace detail

inline uint32_t size_class_of(size_t size) {  // size <= kMaxSmall
    return detail::kClassLookup.by16[(size + 15) >> 4];
}

// Slot index of byte distance `d` from the run's data start, exact for every
// d below the run's size.
inline uint64_t slot_index(const RunLayout &l, uint64_t d) { return (d * l.div_magic) >> 40; }

// ---- Thread caches -----------------------------------------------------------
// A thread cache keeps its free slots in stacks inside a span of kind kCache,
// so that after a crash the next open knows which allocated-looking slots
// were really free and gives them back.  Push writes the freed key into the
// slot, then the entry, then the count; pop lowers the count, then clears
// the key; refill publishes entries and count before it marks the slots
// allocated; spill clears the bits before it lowers the count.  The open
// gives back a listed slot only when it is marked and carries the key (a
// power cut can leave a stale entry naming a slot handed out since).  A
// stack entry whose slot is not marked is harmless.
constexpr uint64_t kCacheMagic = 0x4341435454524d46ull;  // "FMRTTCAC"

struct CacheBin {
    uint32_t count;      // entries in use
    uint32_t cap;        // entries the stack holds
    uint64_t stack_off;  // offset of the stack from the block's start
};

struct CacheBlock {
    uint64_t word;       // span header word
    uint64_t magic;      // kCacheMagic
    uint32_t nbins;      // kNumClasses
    uint32_t reserved0;
    uint64_t reserved1;
    CacheBin bins[kNumClasses];
    // uint64_t stacks[]: offsets of free slots, each bin's at stack_off
};

// Offsets of the slots the cache block at `off` (of `pages` pages, mapped at
// `block`) lists as free, for load and verify; false when the block does not
// describe itself consistently (then nothing from it is trusted).
bool cache_block_entries(const uint8_t *block, uint64_t pages, std::vector<uint64_t> *out);

// The word a free small slot carries at byte 8 (derived from the file's
// UUID, never 0).  A listed slot is taken as cached only when it carries
// it: a power cut may leave a block's count and its stack entries from
// different moments, and a stale entry then names a slot handed out since,
// which a handed-out slot's cleared word tells apart.
uint64_t freed_slot_key(const uint8_t *uuid);
inline bool slot_carries_key(const uint8_t *slot, uint64_t key) {
    uint64_t w;
    std::memcpy(&w, slot + 8, sizeof w);
    return w == key;
}

// ---- Catalog -------------------------------------------------------------
// The superblock's catalog_root is the offset of a slot table allocation; a
// non-zero slot holds the offset of a record allocation.  A record is
// complete and checksummed before the single store that puts it in a slot.
constexpr uint64_t kTableMagic = 0x4241544354524d46ull;   // "FMRTCTAB"
constexpr uint64_t kRecordMagic = 0x0043455254524d46ull;  // "FMRTREC\0"

struct CatalogTable {
    uint64_t magic;     // kTableMagic
    uint64_t capacity;  // slots that follow
    uint64_t check;     // XXH3-64 of magic and capacity
    uint64_t reserved;
    uint64_t slots[1];  // [capacity]; 0 = empty
};
constexpr uint64_t kTableHeaderBytes = 32;

struct CatalogRecord {
    uint64_t magic;          // kRecordMagic
    uint64_t checksum;       // XXH3-64 of the bytes after this field (record_bytes)
    uint64_t alloc_offset;   // the named allocation, 0 for none
    uint64_t size;           // the size given at put
    uint64_t created_unix_ns;
    uint64_t seq;            // commit order: the larger wins a duplicate name
    uint32_t type;           // user type tag
    uint32_t name_len;       // bytes, without the NUL
    uint64_t meta_len;       // metadata bytes after the name's NUL
    // char name[name_len + 1]; uint8_t meta[meta_len];
};
constexpr uint64_t kRecordHeaderBytes = sizeof(CatalogRecord);
static_assert(kRecordHeaderBytes == 64, "record layout is part of the format");

inline uint64_t record_bytes(uint64_t name_len, uint64_t meta_len) {
    return kRecordHeaderBytes + name_len + 1 + meta_len;
}
uint64_t record_checksum(const CatalogRecord *r);
uint64_t table_check(const CatalogTable *t);

}  // namespace fmrt

#endif  // FMRT_FORMAT_H
