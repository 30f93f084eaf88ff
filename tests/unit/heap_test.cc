// Unit tests of heap.{h,cc}: slots of runs (take/return), large spans with
// alignment, classify() of every kind of address, counts(), release of
// empty runs kept until the page allocator wants them, and load() of a
// heap written by an earlier Heap.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "format.h"
#include "heap.h"
#include "region.h"
#include "unit_util.h"

namespace {

using fmrt::Heap;
using fmrt::kHeapStart;
using fmrt::kLargeClass;
using fmrt::kNotOurs;
using fmrt::kPageSize;
using fmrt::Region;
using fmrt::SpanKind;
using fmrt_unit::KiB;
using fmrt_unit::MiB;
using fmrt_unit::TempDir;

class HeapTest : public ::testing::Test {
protected:
    void open(uint64_t initial = 1 * MiB, uint64_t max = 64 * MiB, bool create = true) {
        ASSERT_STATUS(fmrt_unit::open_region(&region_, path(), initial, max, create), FMRT_OK);
        heap_.reset(new Heap(*region_));
        ASSERT_STATUS(heap_->load(), FMRT_OK);
    }
    void close() {
        heap_.reset();
        region_.reset();
    }
    std::string path() const { return dir_.file("heap.heap"); }

    // Takes `n` slots of `cls`, which must all be granted.
    std::vector<void *> take(uint32_t cls, uint32_t n) {
        std::vector<void *> v = fmrt_unit::take_n(*heap_, *region_, cls, n);
        EXPECT_EQ(v.size(), n) << "class " << cls;
        return v;
    }
    void give_back(uint32_t cls, const std::vector<void *> &slots) {
        fmrt_unit::give_back_n(*heap_, *region_, cls, slots);
    }
    int classify(const void *p) const {
        uint64_t span = 0;
        return heap_->classify(p, &span);
    }
    // The run span holding offset `off`, from a walk of the headers.
    fmrt_unit::WalkedSpan span_of(uint64_t off) {
        for (const fmrt_unit::WalkedSpan &s : fmrt_unit::walk_region(*region_).spans) {
            if (off >= s.off && off < s.end()) return s;
        }
        ADD_FAILURE() << "no span holds offset " << off;
        return {};
    }
    // Every heap byte is in a run, a large span or a free span.
    void expect_counts_cover_the_heap() {
        fmrt::HeapCounts c = heap_->counts(nullptr);
        EXPECT_EQ(c.run_bytes + c.large_span_bytes + c.free_span_bytes, region_->heap_end() - kHeapStart);
        fmrt_unit::Walk w = fmrt_unit::walk_region(*region_);
        ASSERT_TRUE(w.reached_end) << w.error;
        EXPECT_EQ(c.free_span_bytes, w.free_bytes);
        EXPECT_EQ(c.largest_free, w.largest_free);
    }

    TempDir dir_;
    std::unique_ptr<Region> region_;
    std::unique_ptr<Heap> heap_;
};

TEST_F(HeapTest, TakenSlotsAreDistinctSlotStartsOfTheirClass) {
    open();
    for (uint32_t cls : {0u, 1u, 7u, 8u, 19u, 30u, 36u, 43u}) {
        const fmrt::RunLayout &l = fmrt::run_layout(cls);
        const uint32_t n = std::min<uint32_t>(50, 2 * l.slots + 1);  // more than one run
        std::vector<void *> slots = take(cls, n);
        ASSERT_EQ(slots.size(), n);
        EXPECT_EQ(*static_cast<void **>(slots.back()), nullptr) << "the list ends";
        std::set<void *> distinct(slots.begin(), slots.end());
        EXPECT_EQ(distinct.size(), slots.size());
        for (void *p : slots) {
            const uint64_t off = region_->offset(p);
            fmrt_unit::WalkedSpan s = span_of(off);
            ASSERT_EQ(s.h.kind, SpanKind::kRun);
            ASSERT_EQ(s.h.size_class, cls);
            ASSERT_EQ(s.h.pages, l.pages);
            const uint64_t d = off - s.off - l.data_offset;
            EXPECT_EQ(d % l.slot_size, 0u);
            EXPECT_LT(d / l.slot_size, l.slots);
            EXPECT_EQ(classify(p), static_cast<int>(cls));
            if (l.slot_size % 64 == 0) {
                EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
            }
            EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 16, 0u);
        }
    }
    expect_counts_cover_the_heap();
}

TEST_F(HeapTest, CountsFollowTakenAndReturnedSlots) {
    open();
    std::vector<void *> a = take(2, 100), b = take(20, 30);
    fmrt::HeapCounts c = heap_->counts(nullptr);
    EXPECT_EQ(c.live_small, 130u);
    EXPECT_EQ(c.small_bytes, 100u * 48 + 30u * fmrt::run_layout(20).slot_size);
    EXPECT_EQ(c.run_bytes, 2 * 16 * kPageSize);
    EXPECT_EQ(c.small_free_bytes, (fmrt::run_layout(2).slots - 100u) * 48 +
                                      (fmrt::run_layout(20).slots - 30u) * uint64_t{fmrt::run_layout(20).slot_size});
    give_back(2, {a.begin(), a.begin() + 40});
    c = heap_->counts(nullptr);
    EXPECT_EQ(c.live_small, 90u);
    for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(classify(a[i]), i < 40 ? kNotOurs : 2) << i;
    expect_counts_cover_the_heap();
}

TEST_F(HeapTest, ReturnedSlotsAreTakenAgain) {
    open();
    std::vector<void *> a = take(5, 10);
    give_back(5, a);
    std::vector<void *> b = take(5, 10);
    EXPECT_EQ(std::set<void *>(a.begin(), a.end()), std::set<void *>(b.begin(), b.end()));
}

TEST_F(HeapTest, ClassifyRejectsInteriorPointersOfLiveSlots) {
    open();
    for (uint32_t cls : {0u, 3u, 12u, 40u}) {
        std::vector<void *> s = take(cls, 3);
        const uint32_t size = fmrt::run_layout(cls).slot_size;
        for (void *v : s) {
            auto *p = static_cast<uint8_t *>(v);
            EXPECT_EQ(classify(p), static_cast<int>(cls));
            for (uint32_t d : {1u, 8u, 15u, size / 2, size - 1}) {
                EXPECT_EQ(classify(p + d), kNotOurs) << cls << "+" << d;
            }
        }
    }
}

TEST_F(HeapTest, ClassifyRejectsSuperblocksHeadersFreeSpansAndForeignAddresses) {
    open(1 * MiB, 16 * MiB);
    std::vector<void *> s = take(0, 1);
    const uint64_t run = span_of(region_->offset(s[0])).off;
    uint8_t *base = region_->base();
    int on_stack = 0;
    std::vector<const void *> bad = {
        nullptr,
        base,
        base + 100,
        base + kPageSize,
        base + kHeapStart - 16,
        base + run,                                          // run header word
        base + run + fmrt::kRunBitmapOffset,                 // bitmap
        base + run + fmrt::run_layout(0).data_offset - 16,   // just before slot 0
        base + region_->heap_end() - 16,                     // inside the free tail
        base + region_->heap_end(),                          // past the heap, in the reservation
        base + region_->reserved(),                          // just past the reservation
        base + region_->reserved() + 12345,
        base - kPageSize,
        &on_stack,
        reinterpret_cast<const void *>(uintptr_t{16}),
        reinterpret_cast<const void *>(~uintptr_t{15}),
    };
    for (size_t i = 0; i < bad.size(); ++i) EXPECT_EQ(classify(bad[i]), kNotOurs) << "address #" << i;
    // A free slot of a live run.
    EXPECT_EQ(classify(static_cast<uint8_t *>(s[0]) + 16), kNotOurs);
}

TEST_F(HeapTest, LargeAllocationIsRecognisedOnlyAtItsDataStart) {
    open();
    void *p = heap_->alloc_large(100000, 0, false);
    ASSERT_NE(p, nullptr);
    auto *b = static_cast<uint8_t *>(p);
    uint64_t span = 0;
    EXPECT_EQ(heap_->classify(p, &span), kLargeClass);
    EXPECT_EQ(span, region_->offset(p) - kPageSize);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % kPageSize, 0u);
    EXPECT_EQ(heap_->large_usable(span), 25 * kPageSize);
    EXPECT_EQ(static_cast<fmrt::LargeHeader *>(region_->ptr(span))->requested, 100000u);
    for (const void *q : {static_cast<const void *>(b + 1), static_cast<const void *>(b + 16),
                          static_cast<const void *>(b + kPageSize), static_cast<const void *>(b + 99999),
                          static_cast<const void *>(b - kPageSize), static_cast<const void *>(b - 16)}) {
        EXPECT_EQ(classify(q), kNotOurs) << "offset " << static_cast<const uint8_t *>(q) - b;
    }
    fmrt::HeapCounts c = heap_->counts(nullptr);
    EXPECT_EQ(c.live_large, 1u);
    EXPECT_EQ(c.large_bytes, 25 * kPageSize);
    EXPECT_EQ(c.large_span_bytes, 26 * kPageSize);
    expect_counts_cover_the_heap();
    heap_->free_large(span);
    EXPECT_EQ(classify(p), kNotOurs);
    c = heap_->counts(nullptr);
    EXPECT_EQ(c.live_large, 0u);
    EXPECT_EQ(c.large_bytes, 0u);
    EXPECT_EQ(c.large_span_bytes, 0u);
    expect_counts_cover_the_heap();
}

TEST_F(HeapTest, LargeAllocationOfZeroBytesHasOneDataPage) {
    open();
    void *p = heap_->alloc_large(0, 0, false);
    ASSERT_NE(p, nullptr);
    uint64_t span = 0;
    ASSERT_EQ(heap_->classify(p, &span), kLargeClass);
    EXPECT_EQ(heap_->large_usable(span), kPageSize);
}

TEST_F(HeapTest, ZeroedLargeAllocationIsZeroEvenFromDirtyPages) {
    open();
    void *p = heap_->alloc_large(200 * KiB, 0, false);
    std::memset(p, 0xA5, 200 * KiB);
    void *guard = heap_->alloc_large(1, 0, false);
    (void)guard;
    heap_->free_large(region_->offset(p) - kPageSize);
    void *q = heap_->alloc_large(200 * KiB, 0, true);
    ASSERT_EQ(q, p) << "the freed span is the best fit";
    EXPECT_TRUE(fmrt_unit::all_zero(q, 200 * KiB));
}

TEST_F(HeapTest, LargeAllocationsAreAlignedUpToTwoMebibytes) {
    open(1 * MiB, 256 * MiB);
    for (size_t align = 4096; align <= (size_t{2} << 20); align *= 2) {
        for (size_t size : {size_t{1}, size_t{70000}, size_t{3} << 20}) {
            void *p = heap_->alloc_large(size, align, false);
            ASSERT_NE(p, nullptr) << "align " << align << " size " << size << ": " << fmrt::error_message();
            EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % align, 0u) << "align " << align << " size " << size;
            EXPECT_EQ(classify(p), kLargeClass);
        }
    }
    expect_counts_cover_the_heap();
}

TEST_F(HeapTest, LargeAllocationsAreAlignedAboveTwoMebibytesToo) {
    // fmrt.h: alignments are powers of two up to 1 GiB.  The page allocator
    // aligns file offsets, which align addresses only if the mapping's base
    // is aligned as much.  Up to 256 MiB here, to keep the file small.
    open(1 * MiB, uint64_t{2} << 30);
    for (size_t align = size_t{4} << 20; align <= (size_t{256} << 20); align *= 2) {
        void *p = heap_->alloc_large(100, align, false);
        ASSERT_NE(p, nullptr) << "align " << align << ": " << fmrt::error_message();
        EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % align, 0u)
            << "align " << (align >> 20) << " MiB: address " << p << ", file offset " << region_->offset(p)
            << ", mapping base " << static_cast<void *>(region_->base());
    }
}

TEST_F(HeapTest, SizesNearTheTopOfSizeTAreNoMemoryNotAWrappedPageCount) {
    open();
    const size_t huge[] = {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 4094, SIZE_MAX - 4095, size_t{1} << 63};
    for (size_t size : huge) {
        fmrt::fail(FMRT_OK, "%s", "");
        void *p = heap_->alloc_large(size, 0, true);
        EXPECT_EQ(p, nullptr) << "alloc_large(" << size << ") returned a block of "
                              << (p ? heap_->large_usable(region_->offset(p) - kPageSize) : 0) << " bytes";
        EXPECT_EQ(fmrt::last_status(), FMRT_ENOMEM) << size;
        p = heap_->alloc_large(size, 65536, false);
        EXPECT_EQ(p, nullptr) << "aligned alloc_large(" << size << ")";
    }
    EXPECT_EQ(heap_->counts(nullptr).live_large, 0u);
}

TEST_F(HeapTest, ResizeLargeToSizesNearTheTopOfSizeTFailsAndKeepsTheAllocation) {
    open();
    void *p = heap_->alloc_large(100 * KiB, 0, false);
    ASSERT_NE(p, nullptr);
    const uint64_t span = region_->offset(p) - kPageSize;
    for (size_t size : {SIZE_MAX, SIZE_MAX - 4000}) {
        EXPECT_FALSE(heap_->resize_large(span, size)) << size;
        EXPECT_EQ(heap_->large_usable(span), 25 * kPageSize) << "resize_large(" << size << ") changed the span";
        EXPECT_EQ(static_cast<fmrt::LargeHeader *>(region_->ptr(span))->requested, 100 * KiB);
    }
}

TEST_F(HeapTest, ResizeLargeGrowsAndShrinksInPlace) {
    open();
    void *p = heap_->alloc_large(10 * kPageSize, 0, false);
    uint64_t span = region_->offset(p) - kPageSize;
    void *next = heap_->alloc_large(5 * kPageSize, 0, false);
    void *after = heap_->alloc_large(kPageSize, 0, false);
    (void)after;
    heap_->free_large(region_->offset(next) - kPageSize);  // 6 free pages after p
    EXPECT_TRUE(heap_->resize_large(span, 16 * kPageSize));
    EXPECT_EQ(heap_->large_usable(span), 16 * kPageSize);
    EXPECT_EQ(static_cast<fmrt::LargeHeader *>(region_->ptr(span))->requested, 16 * kPageSize);
    EXPECT_FALSE(heap_->resize_large(span, 17 * kPageSize)) << "the neighbour is taken";
    EXPECT_EQ(heap_->large_usable(span), 16 * kPageSize);
    EXPECT_TRUE(heap_->resize_large(span, 2 * kPageSize + 1));
    EXPECT_EQ(heap_->large_usable(span), 3 * kPageSize);
    fmrt::HeapCounts c = heap_->counts(nullptr);
    EXPECT_EQ(c.large_bytes, 3 * kPageSize + kPageSize);
    EXPECT_EQ(c.large_span_bytes, 4 * kPageSize + 2 * kPageSize);
    expect_counts_cover_the_heap();
}

TEST_F(HeapTest, ResizeLargeAtTheEndGrowsTheHeap) {
    open(1 * MiB, 64 * MiB);
    void *p = heap_->alloc_large(100 * KiB, 0, false);
    uint64_t span = region_->offset(p) - kPageSize;
    const uint64_t end = region_->heap_end();
    EXPECT_TRUE(heap_->resize_large(span, 3 * MiB));
    EXPECT_GT(region_->heap_end(), end);
    EXPECT_EQ(heap_->large_usable(span), 3 * MiB);
    std::memset(p, 1, 3 * MiB);  // all of it is backed by the file
    expect_counts_cover_the_heap();
}

TEST_F(HeapTest, EmptyRunsStayWithTheirClassUntilThePageAllocatorWantsTheSpace) {
    open();
    const fmrt::RunLayout &l = fmrt::run_layout(36);
    const uint64_t run_bytes = uint64_t{l.pages} * kPageSize;
    std::vector<void *> s = take(36, 3 * l.slots);
    EXPECT_EQ(heap_->counts(nullptr).run_bytes, 3 * run_bytes);
    const uint64_t free_before = heap_->counts(nullptr).free_span_bytes;
    const uint64_t end_before = region_->heap_end();
    give_back(36, s);
    fmrt::HeapCounts c = heap_->counts(nullptr);
    EXPECT_EQ(c.live_small, 0u);
    EXPECT_EQ(c.run_bytes, 3 * run_bytes) << "empty runs kept";
    EXPECT_EQ(c.free_span_bytes, free_before);
    for (void *p : s) EXPECT_EQ(classify(p), kNotOurs);
    expect_counts_cover_the_heap();
    // The kept runs serve the next requests without new runs.
    std::vector<void *> t = take(36, 2 * l.slots);
    EXPECT_EQ(heap_->counts(nullptr).run_bytes, 3 * run_bytes);
    give_back(36, t);
    // A request that fits only in the free space plus the runs' pages: the
    // runs go back to the page allocator (joining the free tail) instead of
    // the file growing.
    const uint64_t data = free_before + 2 * run_bytes - kPageSize;
    void *big = heap_->alloc_large(data, 0, false);
    ASSERT_NE(big, nullptr) << fmrt::error_message();
    c = heap_->counts(nullptr);
    EXPECT_EQ(c.run_bytes, 0u);
    EXPECT_EQ(region_->heap_end(), end_before) << "the file did not grow";
    expect_counts_cover_the_heap();
}

TEST_F(HeapTest, TakeSlotsStopsWhenTheHeapCannotGrow) {
    open(1 * MiB, 2 * MiB);
    const fmrt::RunLayout &l = fmrt::run_layout(43);  // 1 MiB runs
    std::vector<void *> v = fmrt_unit::take_n(*heap_, *region_, 43, 3 * l.slots);
    const uint32_t got = static_cast<uint32_t>(v.size());
    EXPECT_GE(got, l.slots);
    EXPECT_LT(got, 3 * l.slots);
    EXPECT_EQ(fmrt::last_status(), FMRT_ENOMEM);
    EXPECT_EQ(heap_->counts(nullptr).live_small, got);
}

TEST_F(HeapTest, ReopenFindsTheSameLiveSlotsAndCounts) {
    open();
    std::map<uint64_t, int> live;  // offset -> class
    std::vector<uint64_t> freed;
    for (uint32_t cls : {0u, 9u, 25u, 37u}) {
        std::vector<void *> s = take(cls, 40);
        for (size_t i = 0; i < s.size(); ++i) {
            std::memset(static_cast<uint8_t *>(s[i]) + 8, static_cast<int>(cls + 1), 8);
            live[region_->offset(s[i])] = static_cast<int>(cls);
        }
        std::vector<void *> back(s.begin(), s.begin() + 10);
        give_back(cls, back);
        for (void *p : back) {
            live.erase(region_->offset(p));
            freed.push_back(region_->offset(p));
        }
    }
    void *big = heap_->alloc_large(300 * KiB, 65536, false);
    live[region_->offset(big)] = kLargeClass;
    fmrt::HeapCounts before = heap_->counts(nullptr);
    close();

    open(0, 0, false);
    for (const auto &[off, cls] : live) {
        EXPECT_EQ(classify(region_->ptr(off)), cls) << "offset " << off;
        if (cls != kLargeClass) {
            EXPECT_EQ(static_cast<uint8_t *>(region_->ptr(off))[8], cls + 1);
        }
    }
    for (uint64_t off : freed) EXPECT_EQ(classify(region_->ptr(off)), kNotOurs) << "offset " << off;
    fmrt::HeapCounts after = heap_->counts(nullptr);
    EXPECT_EQ(after.live_small, before.live_small);
    EXPECT_EQ(after.live_small, 4u * 30);
    EXPECT_EQ(after.small_bytes, before.small_bytes);
    EXPECT_EQ(after.small_free_bytes, before.small_free_bytes);
    EXPECT_EQ(after.run_bytes, before.run_bytes);
    EXPECT_EQ(after.live_large, before.live_large);
    EXPECT_EQ(after.large_bytes, before.large_bytes);
    EXPECT_EQ(after.large_span_bytes, before.large_span_bytes);
    EXPECT_EQ(after.free_span_bytes, before.free_span_bytes);
    expect_counts_cover_the_heap();
    // The reopened runs hand out exactly the freed slots first.
    std::vector<void *> again = take(0, 10);
    for (void *p : again) EXPECT_NE(std::find(freed.begin(), freed.end(), region_->offset(p)), freed.end());
}

// A kill between the two stores of a transient slot allocation can leave a
// transient bit on a free slot.  Taking the slot again clears it (also
// before the load fixes ran: a repair's catalog rebuild allocates that
// early); otherwise its next owner, durable, would be reclaimed as
// transient at a later open.
TEST_F(HeapTest, TakingASlotClearsATransientBitLeftOnIt) {
    open();
    std::vector<void *> s = take(0, 4);
    give_back(0, {s[3]});
    const uint64_t off = region_->offset(s[3]);
    const uint64_t data = kHeapStart + fmrt::run_layout(0).data_offset;
    const uint64_t idx = (off - data) / fmrt::run_layout(0).slot_size;
    auto *hdr = static_cast<fmrt::RunHeader *>(region_->ptr(kHeapStart));
    *hdr->transient_word(idx >> 6) |= uint64_t{1} << (idx & 63);
    close();

    open(0, 0, false);  // no apply_load_fixes()
    std::vector<void *> again = take(0, 1);
    ASSERT_EQ(region_->offset(again[0]), off);
    hdr = static_cast<fmrt::RunHeader *>(region_->ptr(kHeapStart));
    EXPECT_EQ((*hdr->transient_word(idx >> 6) >> (idx & 63)) & 1, 0u);
    bool transient = true;
    uint64_t span = 0;
    EXPECT_EQ(heap_->classify(again[0], &span, true, &transient), 0);
    EXPECT_FALSE(transient);
    // Durable across a reopen.
    close();
    open(0, 0, false);
    EXPECT_EQ(heap_->transient_count(), 0u);
    EXPECT_EQ(classify(region_->ptr(off)), 0);
}

TEST_F(HeapTest, LoadRefusesARunWhosePagesDoNotMatchItsClass) {
    open();
    take(0, 1);
    const uint64_t run = kHeapStart;
    ASSERT_EQ(span_of(run).h.kind, SpanKind::kRun);
    // 16 -> 17 pages would overlap the free span; shrink the free span too
    // so the walk itself is valid and only the class check can object.
    fmrt_unit::WalkedSpan tail = span_of(run + 16 * kPageSize);
    *reinterpret_cast<uint64_t *>(region_->ptr(run)) =
        fmrt::encode_span(run, fmrt::SpanHeader{SpanKind::kRun, 0, 0, 17});
    *reinterpret_cast<uint64_t *>(region_->ptr(tail.off + kPageSize)) = fmrt::encode_span(
        tail.off + kPageSize, fmrt::SpanHeader{SpanKind::kFree, 0, 0, tail.h.pages - 1});
    close();
    ASSERT_STATUS(fmrt_unit::open_region(&region_, path(), 0, 0, false), FMRT_OK);
    Heap h(*region_);
    EXPECT_STATUS(h.load(), FMRT_EFORMAT);
    EXPECT_NE(std::strstr(fmrt::error_message(), "size class needs"), nullptr) << fmrt::error_message();
}

TEST_F(HeapTest, LoadRefusesABitmapMarkingSlotsTheRunDoesNotHave) {
    open();
    take(43, 1);  // 15 slots in one bitmap word
    ASSERT_LT(fmrt::run_layout(43).slots, 64u);
    auto *hdr = static_cast<fmrt::RunHeader *>(region_->ptr(kHeapStart));
    *hdr->alloc_word(0) |= uint64_t{1} << 63;
    close();
    ASSERT_STATUS(fmrt_unit::open_region(&region_, path(), 0, 0, false), FMRT_OK);
    Heap h(*region_);
    EXPECT_STATUS(h.load(), FMRT_EFORMAT);
    EXPECT_NE(std::strstr(fmrt::error_message(), "does not have"), nullptr) << fmrt::error_message();
}

TEST_F(HeapTest, LoadRefusesALargeSpanWithoutADataPage) {
    open();
    heap_->alloc_large(1, 0, false);  // 2 pages at kHeapStart
    fmrt_unit::WalkedSpan tail = span_of(kHeapStart + 2 * kPageSize);
    *reinterpret_cast<uint64_t *>(region_->ptr(kHeapStart)) =
        fmrt::encode_span(kHeapStart, fmrt::SpanHeader{SpanKind::kLarge, 0, 0, 1});
    *reinterpret_cast<uint64_t *>(region_->ptr(kHeapStart + kPageSize)) =
        fmrt::encode_span(kHeapStart + kPageSize, fmrt::SpanHeader{SpanKind::kFree, 0, 0, tail.h.pages + 1});
    close();
    ASSERT_STATUS(fmrt_unit::open_region(&region_, path(), 0, 0, false), FMRT_OK);
    Heap h(*region_);
    EXPECT_STATUS(h.load(), FMRT_EFORMAT);
    EXPECT_NE(std::strstr(fmrt::error_message(), "no data page"), nullptr) << fmrt::error_message();
}

TEST_F(HeapTest, HeapIdsAreNeverReused) {
    open();
    std::set<uint64_t> ids;
    for (int i = 0; i < 100; ++i) {
        auto h = std::make_unique<Heap>(*region_);
        EXPECT_TRUE(ids.insert(h->id()).second) << "id " << h->id() << " reused";
        EXPECT_NE(h->id(), 0u) << "0 means 'no heap' in the thread caches";
    }
    EXPECT_EQ(ids.count(heap_->id()), 0u);
}

}  // namespace
