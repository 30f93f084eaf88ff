// Unit tests of format.{h,cc}: the span header word (encoding, the check
// bound to the offset, range checks), the superblock checks and their order,
// and the size class table with its run layouts.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "error.h"
#include "format.h"
#include "unit_util.h"

namespace {

using fmrt::decode_span;
using fmrt::encode_span;
using fmrt::kNumClasses;
using fmrt::SpanHeader;
using fmrt::SpanKind;

const uint32_t kPageCounts[] = {1, 2, 3, 255, 256, 65535, 65536, 0x7FFFFFFFu, 0x80000000u,
                                0xFFFFFFFEu, 0xFFFFFFFFu};
const uint64_t kOffsets[] = {fmrt::kHeapStart, fmrt::kHeapStart + fmrt::kPageSize, 1u << 20,
                             uint64_t{1} << 40, (uint64_t{1} << 52) - fmrt::kPageSize};

bool same(const SpanHeader &a, const SpanHeader &b) {
    return a.kind == b.kind && a.size_class == b.size_class && a.flags == b.flags && a.pages == b.pages;
}

// Every legal header: each kind, each class a run may have (0 otherwise),
// each 4-bit flag value and each page count of kPageCounts.
std::vector<SpanHeader> legal_headers() {
    std::vector<SpanHeader> v;
    for (SpanKind k : {SpanKind::kFree, SpanKind::kRun, SpanKind::kLarge}) {
        uint32_t classes = k == SpanKind::kRun ? kNumClasses : 1;
        for (uint32_t c = 0; c < classes; ++c) {
            for (uint8_t f = 0; f < 16; ++f) {
                for (uint32_t p : kPageCounts) {
                    v.push_back(SpanHeader{k, static_cast<uint8_t>(c), f, p});
                }
            }
        }
    }
    return v;
}

TEST(SpanHeader, EncodeThenDecodeReturnsTheSameFieldsForEveryKindClassFlagAndPageEdge) {
    size_t checked = 0;
    for (const SpanHeader &h : legal_headers()) {
        for (uint64_t off : kOffsets) {
            uint64_t w = encode_span(off, h);
            SpanHeader got;
            ASSERT_TRUE(decode_span(off, w, &got))
                << "kind " << int(h.kind) << " class " << int(h.size_class) << " flags " << int(h.flags)
                << " pages " << h.pages << " at " << off;
            ASSERT_TRUE(same(got, h));
            ++checked;
        }
    }
    // 3 kinds: (1 + 44 + 1) class values x 16 flags x 11 page counts x 5 offsets.
    EXPECT_EQ(checked, size_t{46} * 16 * 11 * 5);
}

TEST(SpanHeader, WordPlacesEachFieldInItsDocumentedBits) {
    SpanHeader h{SpanKind::kRun, 43, 0xA, 0xFFFFFFFFu};
    uint64_t w = encode_span(fmrt::kHeapStart, h);
    EXPECT_EQ(w & 0xFFFFFFFFu, 0xFFFFFFFFu);
    EXPECT_EQ((w >> 32) & 0xF, 2u);
    EXPECT_EQ((w >> 36) & 0xFF, 43u);
    EXPECT_EQ((w >> 44) & 0xF, 0xAu);
}

TEST(SpanHeader, DecodeLeavesOutputUntouchedOnRejection) {
    SpanHeader out{SpanKind::kLarge, 0, 3, 77};
    uint64_t w = encode_span(fmrt::kHeapStart, SpanHeader{SpanKind::kFree, 0, 0, 5});
    EXPECT_FALSE(decode_span(fmrt::kHeapStart + fmrt::kPageSize, w, &out));
    EXPECT_TRUE(same(out, SpanHeader{SpanKind::kLarge, 0, 3, 77}));
}

TEST(SpanHeader, CheckRejectsTheSameWordAtAnotherOffset) {
    // Words of every kind, moved to the neighbouring pages and to far offsets:
    // the places a stale or misdirected header would be read from.
    std::vector<SpanHeader> hs = {
        {SpanKind::kFree, 0, 0, 1},           {SpanKind::kFree, 0, fmrt::kSpanZeroed, 254},
        {SpanKind::kRun, 0, 0, 16},           {SpanKind::kRun, 43, 0, 256},
        {SpanKind::kLarge, 0, 0, 2},          {SpanKind::kLarge, 0, fmrt::kSpanTransient, 0xFFFFFFFFu},
    };
    for (const SpanHeader &h : hs) {
        for (uint64_t base : {fmrt::kHeapStart, uint64_t{1} << 30}) {
            uint64_t w = encode_span(base, h);
            for (int64_t dp = -8; dp <= 8; ++dp) {
                if (dp == 0) continue;
                uint64_t other = base + static_cast<uint64_t>(dp * 4096);
                SpanHeader got;
                EXPECT_FALSE(decode_span(other, w, &got)) << "word of " << base << " accepted at " << other;
            }
            SpanHeader got;
            EXPECT_FALSE(decode_span(base + (uint64_t{1} << 32), w, &got));
            EXPECT_FALSE(decode_span(base ^ (uint64_t{1} << 45), w, &got));
        }
    }
}

TEST(SpanHeader, CheckAcceptsAMovedWordAboutOnceInSixtyFiveThousand) {
    // The check is a 16-bit hash of (fields, offset): a word read at a wrong
    // offset passes with probability 2^-16.  More than 4x that is a weak check.
    std::mt19937_64 rng(42);
    const int kTrials = 1 << 21;
    int accepted = 0;
    for (int i = 0; i < kTrials; ++i) {
        SpanHeader h{SpanKind::kFree, 0, 0, static_cast<uint32_t>(rng() % 100000 + 1)};
        uint64_t off = (rng() % (uint64_t{1} << 28)) * fmrt::kPageSize;
        uint64_t other = off + (rng() % 1000 + 1) * fmrt::kPageSize;
        SpanHeader got;
        accepted += decode_span(other, encode_span(off, h), &got) ? 1 : 0;
    }
    EXPECT_LT(accepted, 4 * (kTrials >> 16)) << accepted << " of " << kTrials;
}

TEST(SpanHeader, CheckRejectsEverySingleFlippedBit) {
    std::vector<std::pair<uint64_t, SpanHeader>> words = {
        {fmrt::kHeapStart, {SpanKind::kFree, 0, fmrt::kSpanZeroed, 254}},
        {fmrt::kHeapStart + 17 * fmrt::kPageSize, {SpanKind::kRun, 7, 0, 16}},
        {uint64_t{1} << 33, {SpanKind::kRun, 43, 0, 256}},
        {uint64_t{3} << 20, {SpanKind::kLarge, 0, 0, 2}},
        {(uint64_t{1} << 52) - fmrt::kPageSize, {SpanKind::kLarge, 0, fmrt::kSpanTransient, 0xFFFFFFFFu}},
        {fmrt::kHeapStart + fmrt::kPageSize, {SpanKind::kFree, 0, 0, 1}},
    };
    for (const auto &[off, h] : words) {
        const uint64_t w = encode_span(off, h);
        for (int bit = 0; bit < 64; ++bit) {
            SpanHeader got;
            EXPECT_FALSE(decode_span(off, w ^ (uint64_t{1} << bit), &got))
                << "flipping bit " << bit << " of the word at " << off << " went unnoticed";
        }
    }
}

TEST(SpanHeader, DecodeRejectsKindZeroAndKindsFiveToFifteen) {
    for (uint8_t k : {0, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}) {
        // encode_span computes a valid check for whatever kind bits it gets.
        uint64_t w = encode_span(fmrt::kHeapStart, SpanHeader{static_cast<SpanKind>(k), 0, 0, 1});
        EXPECT_EQ((w >> 32) & 0xF, k);
        SpanHeader got;
        EXPECT_FALSE(decode_span(fmrt::kHeapStart, w, &got)) << "kind " << int(k);
    }
}

TEST(SpanHeader, DecodeRejectsZeroPages) {
    for (SpanKind k : {SpanKind::kFree, SpanKind::kRun, SpanKind::kLarge}) {
        SpanHeader got;
        EXPECT_FALSE(decode_span(fmrt::kHeapStart, encode_span(fmrt::kHeapStart, SpanHeader{k, 0, 0, 0}), &got));
    }
}

TEST(SpanHeader, DecodeRejectsRunClassesFromNumClassesUp) {
    for (uint32_t c = kNumClasses; c < 256; ++c) {
        uint64_t w = encode_span(fmrt::kHeapStart, SpanHeader{SpanKind::kRun, static_cast<uint8_t>(c), 0, 16});
        SpanHeader got;
        EXPECT_FALSE(decode_span(fmrt::kHeapStart, w, &got)) << "class " << c;
    }
    SpanHeader got;
    EXPECT_TRUE(decode_span(fmrt::kHeapStart,
                            encode_span(fmrt::kHeapStart, SpanHeader{SpanKind::kRun, kNumClasses - 1, 0, 16}), &got));
}

TEST(SpanHeader, DecodeRejectsANonzeroClassOnFreeAndLargeSpans) {
    for (SpanKind k : {SpanKind::kFree, SpanKind::kLarge}) {
        for (uint32_t c = 1; c < 256; ++c) {
            uint64_t w = encode_span(fmrt::kHeapStart, SpanHeader{k, static_cast<uint8_t>(c), 0, 2});
            SpanHeader got;
            EXPECT_FALSE(decode_span(fmrt::kHeapStart, w, &got)) << "kind " << int(k) << " class " << c;
        }
    }
}

TEST(SpanHeader, ZeroWordIsNeverAHeader) {
    SpanHeader got;
    for (uint64_t off : kOffsets) EXPECT_FALSE(decode_span(off, 0, &got));
}

// ---- Superblock -----------------------------------------------------------

fmrt::Superblock valid_superblock() {
    fmrt::Superblock sb;
    std::memset(&sb, 0, sizeof sb);
    std::memcpy(sb.magic, fmrt::kMagic, sizeof sb.magic);
    sb.format_major = fmrt::kFormatMajor;
    sb.format_minor = fmrt::kFormatMinor;
    sb.byte_order = fmrt::kByteOrderTag;
    sb.page_size = fmrt::kPageSize;
    sb.generation = 7;
    sb.heap_start = fmrt::kHeapStart;
    sb.heap_end = fmrt::kHeapStart + 16 * fmrt::kPageSize;
    sb.max_size = uint64_t{1} << 30;
    sb.flags = fmrt::kSbDirty;
    for (int i = 0; i < 16; ++i) sb.uuid[i] = static_cast<uint8_t>(i * 17 + 1);
    sb.created_unix_ns = 1700000000000000000ull;
    sb.catalog_root = 0;
    sb.checksum = fmrt::superblock_checksum(sb);
    return sb;
}

TEST(Superblock, ByteSwappedTagIsAVersionErrorAndAnyOtherTagIsDamage) {
    fmrt::Superblock sb = valid_superblock();
    sb.byte_order = __builtin_bswap32(fmrt::kByteOrderTag);
    EXPECT_STATUS(fmrt::check_superblock(sb), FMRT_EVERSION);
    sb.byte_order = 0;
    EXPECT_STATUS(fmrt::check_superblock(sb), FMRT_EFORMAT);
}

TEST(Superblock, ValidCopyPassesTheCheck) {
    fmrt::Superblock sb = valid_superblock();
    EXPECT_STATUS(fmrt::check_superblock(sb), FMRT_OK);
}

TEST(Superblock, FlippingAnyByteBeforeTheChecksumFailsTheCheck) {
    const fmrt::Superblock good = valid_superblock();
    const size_t covered = offsetof(fmrt::Superblock, checksum);
    for (size_t i = 0; i < sizeof good; ++i) {
        for (uint8_t mask : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xFF}}) {
            fmrt::Superblock sb = good;
            reinterpret_cast<uint8_t *>(&sb)[i] ^= mask;
            int rc = fmrt::check_superblock(sb);
            // Magic, byte order and major version are checked before the
            // checksum; a changed major version is a version error, and so
            // is a byte-order tag that reads byte-swapped (a single flipped
            // byte never does); everything else, the checksum itself
            // included, is damage.
            int want = FMRT_EFORMAT;
            if (i >= offsetof(fmrt::Superblock, format_major) && i < offsetof(fmrt::Superblock, format_minor)) {
                want = FMRT_EVERSION;
            }
            EXPECT_EQ(fmrt_unit::status_name(rc), fmrt_unit::status_name(want))
                << "byte " << i << " ^ " << int(mask) << (i < covered ? "" : " (checksum field)") << ": "
                << fmrt::error_message();
        }
    }
}

TEST(Superblock, ChecksumIsXxh3OfExactlyTheBytesBeforeIt) {
    fmrt::Superblock a = valid_superblock();
    fmrt::Superblock b = a;
    b.checksum ^= 0x5555;  // the checksum field does not feed itself
    EXPECT_EQ(fmrt::superblock_checksum(a), fmrt::superblock_checksum(b));
    b.reserved[151] ^= 1;  // the last covered byte
    EXPECT_NE(fmrt::superblock_checksum(a), fmrt::superblock_checksum(b));
}

TEST(Superblock, CheckTestsMagicBeforeByteOrderBeforeVersionBeforeChecksum) {
    fmrt::Superblock sb = valid_superblock();
    sb.magic[0] = 'X';
    sb.byte_order = 0x04030201u;
    sb.format_major = 99;
    sb.checksum ^= 1;
    EXPECT_STATUS(fmrt::check_superblock(sb), FMRT_EFORMAT);
    EXPECT_NE(std::strstr(fmrt::error_message(), "magic"), nullptr) << fmrt::error_message();

    std::memcpy(sb.magic, fmrt::kMagic, sizeof sb.magic);
    EXPECT_STATUS(fmrt::check_superblock(sb), FMRT_EVERSION);
    EXPECT_NE(std::strstr(fmrt::error_message(), "byte order"), nullptr) << fmrt::error_message();

    sb.byte_order = fmrt::kByteOrderTag;
    EXPECT_STATUS(fmrt::check_superblock(sb), FMRT_EVERSION);
    EXPECT_NE(std::strstr(fmrt::error_message(), "format version 99"), nullptr) << fmrt::error_message();

    sb.format_major = fmrt::kFormatMajor;
    EXPECT_STATUS(fmrt::check_superblock(sb), FMRT_EFORMAT);
    EXPECT_NE(std::strstr(fmrt::error_message(), "checksum"), nullptr) << fmrt::error_message();

    sb.checksum ^= 1;
    EXPECT_STATUS(fmrt::check_superblock(sb), FMRT_OK);
}

TEST(Superblock, AnotherMinorVersionWithAValidChecksumIsAccepted) {
    fmrt::Superblock sb = valid_superblock();
    sb.format_minor = 12;
    sb.checksum = fmrt::superblock_checksum(sb);
    EXPECT_STATUS(fmrt::check_superblock(sb), FMRT_OK);
}

TEST(Superblock, BadGeometryWithAValidChecksumIsAFormatError) {
    auto with = [](auto change) {
        fmrt::Superblock sb = valid_superblock();
        change(sb);
        sb.checksum = fmrt::superblock_checksum(sb);
        return fmrt::check_superblock(sb);
    };
    EXPECT_STATUS(with([](fmrt::Superblock &s) { s.page_size = 8192; }), FMRT_EFORMAT);
    EXPECT_STATUS(with([](fmrt::Superblock &s) { s.heap_start = 3 * fmrt::kPageSize; }), FMRT_EFORMAT);
    EXPECT_STATUS(with([](fmrt::Superblock &s) { s.heap_end = fmrt::kPageSize; }), FMRT_EFORMAT);
    EXPECT_STATUS(with([](fmrt::Superblock &s) { s.heap_end += 8; }), FMRT_EFORMAT);
    EXPECT_STATUS(with([](fmrt::Superblock &s) { s.heap_end = (uint64_t{1} << 52) + fmrt::kPageSize; }),
                  FMRT_EFORMAT);
    EXPECT_STATUS(with([](fmrt::Superblock &s) { s.heap_end = fmrt::kHeapStart; }), FMRT_OK);
    EXPECT_STATUS(with([](fmrt::Superblock &s) { s.heap_end = uint64_t{1} << 52; }), FMRT_OK);
}

// ---- Size classes and run layouts ------------------------------------------

TEST(SizeClasses, TableIsStrictlyIncreasingFromSixteenToMaxSmall) {
    EXPECT_EQ(fmrt::run_layout(0).slot_size, 16u);
    EXPECT_EQ(fmrt::run_layout(kNumClasses - 1).slot_size, fmrt::kMaxSmall);
    for (uint32_t c = 1; c < kNumClasses; ++c) {
        EXPECT_LT(fmrt::run_layout(c - 1).slot_size, fmrt::run_layout(c).slot_size) << "class " << c;
        EXPECT_EQ(fmrt::run_layout(c).slot_size % 16, 0u) << "class " << c;
    }
}

TEST(SizeClasses, SizeClassOfIsTheSmallestClassThatFitsForEverySize) {
    for (size_t s = 0; s <= fmrt::kMaxSmall; ++s) {
        uint32_t c = fmrt::size_class_of(s);
        ASSERT_LT(c, kNumClasses) << "size " << s;
        ASSERT_GE(fmrt::run_layout(c).slot_size, s) << "size " << s;
        if (c > 0) {
            ASSERT_LT(fmrt::run_layout(c - 1).slot_size, s) << "size " << s;
        }
    }
}

TEST(SizeClasses, EveryLayoutFitsItsHeaderBitmapsAndSlotsInItsPages) {
    for (uint32_t c = 0; c < kNumClasses; ++c) {
        const fmrt::RunLayout &l = fmrt::run_layout(c);
        const uint64_t bytes = uint64_t{l.pages} * fmrt::kPageSize;
        SCOPED_TRACE("class " + std::to_string(c) + " slot " + std::to_string(l.slot_size));
        EXPECT_EQ(l.data_offset % 64, 0u);
        EXPECT_GE(l.data_offset, fmrt::kRunBitmapOffset + 2 * uint64_t{l.bitmap_words} * 8);
        EXPECT_LE(uint64_t{l.slots} * l.slot_size + l.data_offset, bytes);
        // No room left for one more slot.
        EXPECT_GT(uint64_t{l.slots + 1} * l.slot_size + l.data_offset, bytes);
        EXPECT_GE(uint64_t{l.bitmap_words} * 64, l.slots);
        EXPECT_GE(l.slots, 8u);
        EXPECT_GE(bytes, 64 * fmrt_unit::KiB);
        EXPECT_EQ(l.pages & (l.pages - 1), 0u) << "run pages are a power of two";
    }
}

TEST(SizeClasses, SlotIndexIsExactForEveryDistanceWithinTheRun) {
    uint64_t checked = 0;
    for (uint32_t c = 0; c < kNumClasses; ++c) {
        const fmrt::RunLayout &l = fmrt::run_layout(c);
        const uint64_t bytes = uint64_t{l.pages} * fmrt::kPageSize;
        for (uint64_t d = 0; d < bytes; ++d) {
            if (fmrt::slot_index(l, d) != d / l.slot_size) {
                FAIL() << "class " << c << " slot " << l.slot_size << " distance " << d << ": index "
                       << fmrt::slot_index(l, d) << ", want " << d / l.slot_size;
            }
        }
        checked += bytes;
    }
    EXPECT_GT(checked, uint64_t{44} * 64 * 1024);
}

TEST(SizeClasses, SlotIndexMapsEachSlotStartAndEndToItsSlot) {
    for (uint32_t c = 0; c < kNumClasses; ++c) {
        const fmrt::RunLayout &l = fmrt::run_layout(c);
        for (uint64_t i = 0; i < l.slots; ++i) {
            for (uint64_t r : {uint64_t{0}, uint64_t{1}, uint64_t{l.slot_size / 2}, uint64_t{l.slot_size - 1}}) {
                uint64_t d = i * l.slot_size + r;
                ASSERT_EQ(fmrt::slot_index(l, d), i) << "class " << c << " d " << d;
            }
        }
    }
}

TEST(LargeHeader, HeaderWordAndRequestedSizeFitInSixteenBytes) {
    EXPECT_EQ(sizeof(fmrt::LargeHeader), 16u);
    EXPECT_EQ(offsetof(fmrt::LargeHeader, requested), 8u);
    // The run bitmaps start at kRunBitmapOffset, interleaved word by word.
    alignas(64) uint8_t buf[256] = {};
    auto *h = reinterpret_cast<fmrt::RunHeader *>(buf);
    EXPECT_EQ(reinterpret_cast<uint8_t *>(h->alloc_word(0)) - buf, static_cast<long>(fmrt::kRunBitmapOffset));
    EXPECT_EQ(reinterpret_cast<uint8_t *>(h->transient_word(0)) - buf, static_cast<long>(fmrt::kRunBitmapOffset + 8));
    EXPECT_EQ(reinterpret_cast<uint8_t *>(h->alloc_word(3)) - buf, static_cast<long>(fmrt::kRunBitmapOffset + 48));
}

}  // namespace
