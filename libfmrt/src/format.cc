// Encoding and checking of the on-disk structures (format.h), and the size
// class table, which is part of the format: changing it is a new major
// format version.
#include "format.h"

#include <array>
#include <cstring>
#include <xxhash.h>

#include "error.h"

namespace fmrt {

uint64_t superblock_checksum(const Superblock &sb) {
    return XXH3_64bits(&sb, offsetof(Superblock, checksum));
}

int check_superblock(const Superblock &sb) {
    if (std::memcmp(sb.magic, kMagic, sizeof kMagic) != 0) {
        return fail(FMRT_EFORMAT, "not a libfmrt heap (bad magic number)");
    }
    if (sb.byte_order == __builtin_bswap32(kByteOrderTag)) {
        return fail(FMRT_EVERSION, "heap written with another byte order");
    }
    if (sb.byte_order != kByteOrderTag) return fail(FMRT_EFORMAT, "superblock byte-order tag is damaged");
    if (sb.format_major != kFormatMajor) {
        return fail(FMRT_EVERSION, "heap has format version %u, this library reads version %u",
                    sb.format_major, kFormatMajor);
    }
    if (sb.checksum != superblock_checksum(sb)) {
        return fail(FMRT_EFORMAT, "superblock checksum mismatch");
    }
    if (sb.page_size != kPageSize || sb.heap_start != kHeapStart || sb.heap_end < sb.heap_start ||
        sb.heap_end % kPageSize != 0 || sb.heap_end > (uint64_t{1} << 52)) {
        return fail(FMRT_EFORMAT, "superblock geometry is invalid");
    }
    return FMRT_OK;
}

namespace {

constexpr uint64_t kLow48 = (uint64_t{1} << 48) - 1;

uint64_t span_check(uint64_t offset, uint64_t low48) {
    uint64_t v[2] = {low48, offset};
    return XXH3_64bits(v, sizeof v) >> 48;
}

}  // namespace

uint64_t encode_span(uint64_t offset, const SpanHeader &h) {
    uint64_t low = uint64_t{h.pages} | (uint64_t{static_cast<uint8_t>(h.kind)} & 0xF) << 32 |
                   uint64_t{h.size_class} << 36 | (uint64_t{h.flags} & 0xF) << 44;
    return low | span_check(offset, low) << 48;
}

bool decode_span(uint64_t offset, uint64_t word, SpanHeader *out) {
    uint64_t low = word & kLow48;
    if ((word >> 48) != span_check(offset, low)) return false;
    SpanHeader h;
    h.pages = static_cast<uint32_t>(low);
    uint8_t kind = static_cast<uint8_t>((low >> 32) & 0xF);
    h.size_class = static_cast<uint8_t>((low >> 36) & 0xFF);
    h.flags = static_cast<uint8_t>((low >> 44) & 0xF);
    if (kind < 1 || kind > 4 || h.pages == 0) return false;
    h.kind = static_cast<SpanKind>(kind);
    if (h.kind == SpanKind::kRun && h.size_class >= kNumClasses) return false;
    if (h.kind != SpanKind::kRun && h.size_class != 0) return false;
    *out = h;
    return true;
}

bool cache_block_entries(const uint8_t *block, uint64_t pages, std::vector<uint64_t> *out) {
    const auto *cb = reinterpret_cast<const CacheBlock *>(block);
    const uint64_t bytes = pages * kPageSize;
    if (bytes < sizeof(CacheBlock) || cb->magic != kCacheMagic || cb->nbins != kNumClasses) return false;
    for (uint32_t c = 0; c < kNumClasses; ++c) {
        const CacheBin &b = cb->bins[c];
        if (b.count > b.cap || b.stack_off < sizeof(CacheBlock) || b.stack_off % 8 != 0 ||
            b.stack_off > bytes || uint64_t{b.cap} > (bytes - b.stack_off) / 8) {
            return false;
        }
    }
    for (uint32_t c = 0; c < kNumClasses; ++c) {
        const CacheBin &b = cb->bins[c];
        const auto *stack = reinterpret_cast<const uint64_t *>(block + b.stack_off);
        for (uint32_t i = 0; i < b.count; ++i) out->push_back(stack[i]);
    }
    return true;
}

uint64_t freed_slot_key(const uint8_t *uuid) { return XXH3_64bits(uuid, 16) | 1; }

uint64_t record_checksum(const CatalogRecord *r) {
    const auto *start = reinterpret_cast<const uint8_t *>(r) + 16;
    return XXH3_64bits(start, record_bytes(r->name_len, r->meta_len) - 16);
}

uint64_t table_check(const CatalogTable *t) {
    uint64_t v[2] = {t->magic, t->capacity};
    return XXH3_64bits(v, sizeof v);
}

namespace {

constexpr std::array<uint32_t, kNumClasses> make_class_sizes() {
    std::array<uint32_t, kNumClasses> s{};
    for (uint32_t c = 0; c < kNumClasses; ++c) s[c] = detail::class_size_at(c);
    return s;
}

constexpr auto kClassSizes = make_class_sizes();

RunLayout compute_layout(uint32_t slot_size) {
    // At least 64 KiB and at least 8 slots per run.
    uint64_t pages = 16;
    while (pages * kPageSize < kRunBitmapOffset + 64 + uint64_t{8} * slot_size) pages *= 2;
    uint64_t bytes = pages * kPageSize;
    uint64_t max_slots = bytes / slot_size;
    uint32_t words = static_cast<uint32_t>((max_slots + 63) / 64);
    uint64_t header = kRunBitmapOffset + uint64_t{2} * words * 8;
    uint64_t data = (header + 63) & ~uint64_t{63};
    RunLayout l{};
    l.slot_size = slot_size;
    l.pages = static_cast<uint32_t>(pages);
    l.slots = static_cast<uint32_t>((bytes - data) / slot_size);
    l.bitmap_words = words;
    l.data_offset = static_cast<uint32_t>(data);
    l.div_magic = ((uint64_t{1} << 40) / slot_size) + 1;
    return l;
}

struct LayoutTable {
    RunLayout layouts[kNumClasses];
    LayoutTable() {
        for (uint32_t c = 0; c < kNumClasses; ++c) layouts[c] = compute_layout(kClassSizes[c]);
    }
};

const LayoutTable &table() {
    static const LayoutTable t;
    return t;
}

}  // namespace

const RunLayout &run_layout(uint32_t size_class) { return table().layouts[size_class]; }


}  // namespace fmrt
