// Unit tests of pages.{h,cc}: the page allocator checked against a model of
// spans after every operation (random, seeded), and its individual promises:
// best fit, alignment, coalescing, in-place resize, growth, the zeroed flag,
// and load() of a heap with damaged or unmerged headers.
//
// Every check walks the headers from heap_start to heap_end with
// decode_span (unit_util.h), independently of the allocator's RAM index.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "format.h"
#include "pages.h"
#include "region.h"
#include "unit_util.h"

namespace {

using fmrt::kHeapStart;
using fmrt::kPageSize;
using fmrt::PageAllocator;
using fmrt::Region;
using fmrt::SpanHeader;
using fmrt::SpanKind;
using fmrt_unit::MiB;
using fmrt_unit::TempDir;
using fmrt_unit::Walk;
using fmrt_unit::WalkedSpan;

const SpanHeader kLargeHeader{SpanKind::kLarge, 0, 0, 0};

uint64_t round_up(uint64_t v, uint64_t to) { return (v + to - 1) / to * to; }

// A region and a loaded page allocator over a temporary file.
class Pages : public ::testing::Test {
protected:
    void open(uint64_t initial = 1 * MiB, uint64_t max = 64 * MiB) {
        initial_ = initial;
        max_ = max;
        ASSERT_STATUS(fmrt_unit::open_region(&region_, path(), initial, max), FMRT_OK);
        pages_.reset(new PageAllocator(*region_));
        ASSERT_STATUS(pages_->load([](uint64_t, const SpanHeader &) { return FMRT_OK; }), FMRT_OK);
    }
    // Closes and reopens, returning the allocated spans load() visited.
    std::map<uint64_t, SpanHeader> reopen() {
        pages_.reset();
        region_.reset();
        std::map<uint64_t, SpanHeader> seen;
        EXPECT_STATUS(fmrt_unit::open_region(&region_, path(), initial_, max_, false), FMRT_OK);
        pages_.reset(new PageAllocator(*region_));
        EXPECT_STATUS(pages_->load([&](uint64_t off, const SpanHeader &h) {
            seen[off] = h;
            return FMRT_OK;
        }),
                      FMRT_OK);
        // A read-write open writes its load-time fixes once everything
        // checked out (the runtime does this after the catalog loaded too).
        if (region_->writable()) pages_->apply_load_fixes();
        return seen;
    }
    std::string path() const { return dir_.file("pages.heap"); }
    uint8_t *at(uint64_t off) { return region_->base() + off; }
    Walk walk() { return fmrt_unit::walk_region(*region_); }

    // Allocation that must succeed.
    uint64_t alloc(uint64_t pages, uint64_t align = 0, uint64_t skew = 0, bool *zeroed = nullptr) {
        uint64_t off = 0;
        bool z = false;
        EXPECT_STATUS(pages_->alloc(pages, align, skew, kLargeHeader, nullptr, &off, &z), FMRT_OK);
        if (zeroed) *zeroed = z;
        return off;
    }

    // The allocator's accounting agrees with a fresh walk of the headers.
    void expect_accounting(const Walk &w) {
        EXPECT_EQ(pages_->free_bytes(), w.free_bytes);
        EXPECT_EQ(pages_->largest_free(), w.largest_free);
        EXPECT_EQ(pages_->free_spans(), w.free_spans);
    }

    TempDir dir_;
    uint64_t initial_ = 0, max_ = 0;
    std::unique_ptr<Region> region_;
    std::unique_ptr<PageAllocator> pages_;
};

TEST_F(Pages, FirstAllocationOfAFreshHeapTakesTheFirstPagesZeroed) {
    open();
    bool zeroed = false;
    uint64_t off = alloc(4, 0, 0, &zeroed);
    EXPECT_EQ(off, kHeapStart);
    EXPECT_TRUE(zeroed);
    Walk w = walk();
    ASSERT_TRUE(w.reached_end) << w.error;
    ASSERT_EQ(w.spans.size(), 2u);
    EXPECT_EQ(w.spans[0].h.kind, SpanKind::kLarge);
    EXPECT_EQ(w.spans[0].h.pages, 4u);
    EXPECT_EQ(w.spans[1].h.kind, SpanKind::kFree);
    EXPECT_EQ(w.spans[1].h.flags, fmrt::kSpanZeroed);
    EXPECT_EQ(w.spans[1].off, kHeapStart + 4 * kPageSize);
    expect_accounting(w);
    EXPECT_EQ(pages_->free_bytes(), 1 * MiB - kHeapStart - 4 * kPageSize);
}

TEST_F(Pages, InitRunsBeforeTheHeaderIsPublishedWithTheZeroedFlag) {
    open();
    uint64_t seen_off = 0;
    bool seen_zeroed = false;
    uint64_t word_during_init = 0;
    uint64_t off = 0;
    bool zeroed = false;
    ASSERT_STATUS(pages_->alloc(3, 0, 0, kLargeHeader,
                                [&](uint64_t o, bool z) {
                                    seen_off = o;
                                    seen_zeroed = z;
                                    std::memcpy(&word_during_init, at(o), 8);
                                },
                                &off, &zeroed),
                  FMRT_OK);
    EXPECT_EQ(seen_off, off);
    EXPECT_TRUE(seen_zeroed);
    SpanHeader h;
    ASSERT_TRUE(fmrt::decode_span(off, word_during_init, &h));
    EXPECT_EQ(h.kind, SpanKind::kFree) << "during init the span is still the free span";
}

TEST_F(Pages, BestFitTakesTheSmallestFreeSpanThatFits) {
    open();
    // [a:4][b:1][c:8][d:1][e:2][f:1][rest]: free a, c and e, leaving holes of 4, 8, 2.
    uint64_t a = alloc(4), b = alloc(1), c = alloc(8), d = alloc(1), e = alloc(2), f = alloc(1);
    (void)b, (void)d, (void)f;
    pages_->free(a);
    pages_->free(c);
    pages_->free(e);
    EXPECT_EQ(alloc(2), e);
    EXPECT_EQ(alloc(3), a);
    EXPECT_EQ(alloc(5), c);
    Walk w = walk();
    ASSERT_TRUE(w.reached_end) << w.error;
    expect_accounting(w);
    EXPECT_EQ(w.free_spans, 3u) << "a's and c's leftovers, and the tail";
}

TEST_F(Pages, AlignedAllocationSplitsAPrefixAndASuffixThatKeepTheZeroedFlag) {
    open(4 * MiB);
    for (uint64_t align : {uint64_t{8192}, uint64_t{65536}, uint64_t{1} << 20}) {
        for (uint64_t skew : {uint64_t{0}, kPageSize, 3 * kPageSize}) {
            uint64_t off = alloc(3, align, skew);
            EXPECT_EQ((off + skew) % align, 0u) << "align " << align << " skew " << skew;
        }
    }
    Walk w = walk();
    ASSERT_TRUE(w.reached_end) << w.error;
    EXPECT_FALSE(w.adjacent_free);
    expect_accounting(w);
    for (const WalkedSpan &s : w.spans) {
        if (s.h.kind == SpanKind::kFree) {
            EXPECT_EQ(s.h.flags, fmrt::kSpanZeroed) << "free span at " << s.off;
            EXPECT_TRUE(fmrt_unit::all_zero(at(s.off) + 8, s.h.pages * kPageSize - 8)) << s.off;
        }
    }
}

TEST_F(Pages, AlignmentUpToTwoMebibytesInAHeapThatMustGrow) {
    open(1 * MiB, 256 * MiB);
    for (int i = 0; i < 6; ++i) {
        uint64_t off = alloc(2, uint64_t{2} << 20, kPageSize);
        EXPECT_EQ((off + kPageSize) % (uint64_t{2} << 20), 0u);
    }
    Walk w = walk();
    ASSERT_TRUE(w.reached_end) << w.error;
    EXPECT_FALSE(w.adjacent_free);
    expect_accounting(w);
}

TEST_F(Pages, FreeCoalescesWithBothNeighboursIntoOneSpan) {
    open();
    uint64_t a = alloc(2), b = alloc(3), c = alloc(4), d = alloc(1);
    pages_->free(a);
    pages_->free(c);
    EXPECT_EQ(walk().free_spans, 3u);
    pages_->free(b);
    Walk w = walk();
    ASSERT_TRUE(w.reached_end) << w.error;
    EXPECT_FALSE(w.adjacent_free);
    ASSERT_EQ(w.spans.size(), 3u);
    EXPECT_EQ(w.spans[0].off, a);
    EXPECT_EQ(w.spans[0].h.kind, SpanKind::kFree);
    EXPECT_EQ(w.spans[0].h.pages, 9u);
    EXPECT_EQ(w.spans[0].h.flags, 0) << "a freed span is not known zero";
    EXPECT_EQ(w.spans[1].off, d);
    expect_accounting(w);
    pages_->free(d);
    w = walk();
    ASSERT_EQ(w.spans.size(), 1u);
    EXPECT_EQ(w.spans[0].h.pages, (1 * MiB - kHeapStart) / kPageSize);
    expect_accounting(w);
}

TEST_F(Pages, ResizeGrowsInPlaceIntoAFreeNeighbour) {
    open();
    uint64_t a = alloc(2), b = alloc(5), c = alloc(1);
    (void)c;
    pages_->free(b);
    std::memset(at(a) + 8, 0xAB, 2 * kPageSize - 8);
    bool zt = true;
    ASSERT_STATUS(pages_->resize(a, 4, &zt), FMRT_OK);
    EXPECT_FALSE(zt) << "the neighbour was a freed span";
    Walk w = walk();
    ASSERT_TRUE(w.reached_end) << w.error;
    EXPECT_EQ(w.spans[0].off, a);
    EXPECT_EQ(w.spans[0].h.pages, 4u);
    EXPECT_EQ(w.spans[1].h.kind, SpanKind::kFree);
    EXPECT_EQ(w.spans[1].h.pages, 3u);
    EXPECT_EQ(at(a)[2 * kPageSize - 1], 0xAB) << "data kept";
    expect_accounting(w);
    // All of the neighbour: no free span is left between a and c.
    ASSERT_STATUS(pages_->resize(a, 7, &zt), FMRT_OK);
    w = walk();
    EXPECT_EQ(w.spans[0].h.pages, 7u);
    EXPECT_EQ(w.spans[1].off, c);
    expect_accounting(w);
}

TEST_F(Pages, ResizeIntoATakenNeighbourIsNoMemoryAndChangesNothing) {
    open();
    uint64_t a = alloc(2), b = alloc(1), c = alloc(1);
    (void)c;
    pages_->free(b);
    std::vector<uint8_t> before(at(kHeapStart), at(region_->heap_end()));
    bool zt = true;
    EXPECT_EQ(pages_->resize(a, 4, &zt), FMRT_ENOMEM) << "needs 2 pages, the hole has 1";
    EXPECT_FALSE(zt);
    std::vector<uint8_t> after(at(kHeapStart), at(region_->heap_end()));
    EXPECT_EQ(before, after);
    expect_accounting(walk());
}

TEST_F(Pages, ResizeAtTheEndOfTheHeapGrowsTheFile) {
    open(1 * MiB, 64 * MiB);
    const uint64_t all = (1 * MiB - kHeapStart) / kPageSize;
    uint64_t a = alloc(all);
    ASSERT_EQ(region_->heap_end(), 1 * MiB);
    const uint64_t gen = region_->superblock().generation;
    bool zt = false;
    ASSERT_STATUS(pages_->resize(a, all + 10, &zt), FMRT_OK);
    EXPECT_GT(region_->heap_end(), 1 * MiB);
    EXPECT_GE(region_->file_size(), region_->heap_end());
    EXPECT_EQ(region_->superblock().generation, gen + 1);
    EXPECT_EQ(region_->superblock().heap_end, region_->heap_end());
    Walk w = walk();
    ASSERT_TRUE(w.reached_end) << w.error;
    EXPECT_EQ(w.spans[0].h.pages, all + 10);
    ASSERT_EQ(w.spans.size(), 2u);
    EXPECT_EQ(w.spans[1].h.flags, fmrt::kSpanZeroed);
    expect_accounting(w);
    // A free tail too short to hold the growth is extended, then absorbed.
    const uint64_t tail = w.spans[1].h.pages;
    const uint64_t end_before = region_->heap_end();
    ASSERT_STATUS(pages_->resize(a, all + 10 + tail + 3, &zt), FMRT_OK);
    EXPECT_GT(region_->heap_end(), end_before);
    w = walk();
    ASSERT_TRUE(w.reached_end) << w.error;
    EXPECT_FALSE(w.adjacent_free);
    EXPECT_EQ(w.spans[0].off, a);
    EXPECT_EQ(w.spans[0].h.pages, all + 13 + tail);
    expect_accounting(w);
}

TEST_F(Pages, ResizeShrinksInPlaceAndMergesTheCutWithAFreeNeighbour) {
    open();
    uint64_t a = alloc(10), b = alloc(2), c = alloc(1);
    (void)c;
    pages_->free(b);
    bool zt = true;
    ASSERT_STATUS(pages_->resize(a, 3, &zt), FMRT_OK);
    EXPECT_FALSE(zt);
    Walk w = walk();
    ASSERT_TRUE(w.reached_end) << w.error;
    EXPECT_FALSE(w.adjacent_free);
    EXPECT_EQ(w.spans[0].h.pages, 3u);
    EXPECT_EQ(w.spans[1].h.kind, SpanKind::kFree);
    EXPECT_EQ(w.spans[1].h.pages, 9u) << "7 cut pages + the 2 free after them";
    EXPECT_EQ(w.spans[2].off, c);
    expect_accounting(w);
    // Shrinking with an allocated neighbour leaves a free span of its own.
    uint64_t d = alloc(9);
    EXPECT_EQ(d, a + 3 * kPageSize);
    ASSERT_STATUS(pages_->resize(d, 4, &zt), FMRT_OK);
    w = walk();
    EXPECT_EQ(w.spans[1].h.pages, 4u);
    EXPECT_EQ(w.spans[2].h.kind, SpanKind::kFree);
    EXPECT_EQ(w.spans[2].h.pages, 5u);
    expect_accounting(w);
}

TEST_F(Pages, ResizeToTheSameSizeChangesNothing) {
    open();
    uint64_t a = alloc(3);
    const uint64_t gen = region_->superblock().generation;
    bool zt = true;
    EXPECT_STATUS(pages_->resize(a, 3, &zt), FMRT_OK);
    EXPECT_FALSE(zt);
    EXPECT_EQ(walk().spans[0].h.pages, 3u);
    EXPECT_EQ(region_->superblock().generation, gen);
}

TEST_F(Pages, SpanFromFreshGrowthIsZeroed) {
    open(1 * MiB, 64 * MiB);
    const uint64_t all = (1 * MiB - kHeapStart) / kPageSize;
    uint64_t a = alloc(all);
    std::memset(at(a) + 8, 0xEE, all * kPageSize - 8);
    bool zeroed = false;
    uint64_t b = alloc(40, 0, 0, &zeroed);
    EXPECT_EQ(b, 1 * MiB) << "placed in the new pages";
    EXPECT_TRUE(zeroed);
    EXPECT_TRUE(fmrt_unit::all_zero(at(b) + 8, 40 * kPageSize - 8));
    EXPECT_EQ(region_->heap_end(), 2 * MiB) << "growth is at least 1 MiB";
    // Bytes written and freed are not zero any more, and not claimed to be.
    std::memset(at(b) + 8, 0x11, 40 * kPageSize - 8);
    pages_->free(b);
    uint64_t c = alloc(40, 0, 0, &zeroed);
    EXPECT_EQ(c, b);
    EXPECT_FALSE(zeroed);
}

TEST_F(Pages, ResizeReportsAZeroedTailOnlyWhenEveryTailByteIsZero) {
    open();
    // The neighbour is the zeroed free span of a fresh heap.
    uint64_t a = alloc(2);
    bool zt = false;
    ASSERT_STATUS(pages_->resize(a, 4, &zt), FMRT_OK);
    if (zt) {
        EXPECT_TRUE(fmrt_unit::all_zero(at(a + 2 * kPageSize), 2 * kPageSize))
            << "resize reported a zeroed tail, but the tail's first word is "
            << *reinterpret_cast<uint64_t *>(at(a + 2 * kPageSize)) << " (the absorbed free header)";
    }
    // The neighbour is fresh growth at the end of the heap.
    const uint64_t rest = walk().spans[1].h.pages;
    uint64_t b = alloc(rest);
    ASSERT_EQ(b + rest * kPageSize, region_->heap_end());
    const uint64_t old_end = region_->heap_end();
    ASSERT_STATUS(pages_->resize(b, rest + 5, &zt), FMRT_OK);
    if (zt) {
        EXPECT_TRUE(fmrt_unit::all_zero(at(old_end), 5 * kPageSize))
            << "resize reported a zeroed tail, but the tail's first word is "
            << *reinterpret_cast<uint64_t *>(at(old_end)) << " (the absorbed free header)";
    }
}

TEST_F(Pages, AllocationNeedingGrowthJoinsTheFreeTail) {
    open(1 * MiB, 64 * MiB);
    uint64_t a = alloc(200);
    const uint64_t tail = a + 200 * kPageSize;
    const uint64_t tail_pages = (1 * MiB - tail) / kPageSize;
    bool zeroed = false;
    uint64_t b = alloc(tail_pages + 30, 0, 0, &zeroed);
    EXPECT_EQ(b, tail) << "the tail was extended in place";
    EXPECT_TRUE(zeroed) << "tail and growth were both zero";
    EXPECT_TRUE(fmrt_unit::all_zero(at(b) + 8, (tail_pages + 30) * kPageSize - 8))
        << "the absorbed header word of the growth was cleared";
    EXPECT_EQ(region_->heap_end(), 2 * MiB);
    Walk w = walk();
    ASSERT_TRUE(w.reached_end) << w.error;
    EXPECT_FALSE(w.adjacent_free);
    expect_accounting(w);
}

TEST_F(Pages, GrowthStopsAtTheReservationAndAFailureChangesNothing) {
    open(1 * MiB, 4 * MiB);
    ASSERT_EQ(region_->reserved(), 4 * MiB);
    const std::vector<uint8_t> before(at(0), at(region_->heap_end()));
    uint64_t off = 0;
    bool z = false;
    EXPECT_STATUS(pages_->alloc(1100, 0, 0, kLargeHeader, nullptr, &off, &z), FMRT_ENOMEM);
    EXPECT_EQ(region_->heap_end(), 1 * MiB);
    EXPECT_EQ(std::vector<uint8_t>(at(0), at(region_->heap_end())), before);
    // Exactly the reservation fits.
    uint64_t all = alloc((4 * MiB - kHeapStart) / kPageSize);
    EXPECT_EQ(all, kHeapStart);
    EXPECT_EQ(region_->heap_end(), 4 * MiB);
    EXPECT_STATUS(pages_->alloc(1, 0, 0, kLargeHeader, nullptr, &off, &z), FMRT_ENOMEM);
    bool zt = false;
    EXPECT_EQ(pages_->resize(all, (4 * MiB - kHeapStart) / kPageSize + 1, &zt), FMRT_ENOMEM);
    Walk w = walk();
    ASSERT_TRUE(w.reached_end) << w.error;
    EXPECT_EQ(w.spans.size(), 1u);
    expect_accounting(w);
}

TEST_F(Pages, SpansBeyondTheHeaderPageCountAreNoMemory) {
    open();
    uint64_t off = 0;
    bool z = false;
    EXPECT_STATUS(pages_->alloc(uint64_t{1} << 32, 0, 0, kLargeHeader, nullptr, &off, &z), FMRT_ENOMEM);
    EXPECT_STATUS(pages_->alloc(0xFFFFFFFFull - 3, 65536, 0, kLargeHeader, nullptr, &off, &z), FMRT_ENOMEM);
    uint64_t a = alloc(1);
    bool zt = false;
    EXPECT_EQ(pages_->resize(a, uint64_t{1} << 32, &zt), FMRT_ENOMEM);
    expect_accounting(walk());
}

// ---- load() ------------------------------------------------------------------

// Splits the free tail of a fresh heap (after one 2-page allocation) into
// free spans of the given lengths, as a merge cut short by a crash leaves it.
void split_tail(Region &r, uint64_t tail, const std::vector<uint32_t> &lengths) {
    uint64_t off = tail;
    for (uint32_t n : lengths) {
        *reinterpret_cast<uint64_t *>(r.ptr(off)) = fmrt::encode_span(off, SpanHeader{SpanKind::kFree, 0, 0, n});
        off += n * kPageSize;
    }
}

TEST_F(Pages, LoadJoinsAdjacentFreeSpansAndWritesTheJoinBack) {
    open();
    uint64_t a = alloc(2);
    const uint64_t tail = a + 2 * kPageSize;
    const uint32_t tail_pages = static_cast<uint32_t>((region_->heap_end() - tail) / kPageSize);
    split_tail(*region_, tail, {10, 20, tail_pages - 30});
    ASSERT_EQ(walk().free_spans, 3u);
    std::map<uint64_t, SpanHeader> seen = reopen();
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen.begin()->first, a);
    EXPECT_EQ(pages_->free_spans(), 1u);
    EXPECT_EQ(pages_->largest_free(), uint64_t{tail_pages} * kPageSize);
    Walk w = walk();
    ASSERT_TRUE(w.reached_end) << w.error;
    ASSERT_EQ(w.spans.size(), 2u) << "the joined header was stored";
    EXPECT_EQ(w.spans[1].h.pages, tail_pages);
    EXPECT_EQ(w.spans[1].h.flags, 0) << "a joined span is not claimed zero";
    expect_accounting(w);
    EXPECT_EQ(alloc(tail_pages), tail);
}

TEST_F(Pages, ReadOnlyLoadJoinsInMemoryButWritesNothing) {
    open();
    uint64_t a = alloc(2);
    const uint64_t tail = a + 2 * kPageSize;
    const uint32_t tail_pages = static_cast<uint32_t>((region_->heap_end() - tail) / kPageSize);
    split_tail(*region_, tail, {1, tail_pages - 1});
    pages_.reset();
    region_.reset();
    const std::vector<uint8_t> before = fmrt_unit::read_file(path());
    fmrt::RegionParams p;
    p.path = path();
    p.create = false;
    p.readonly = true;
    ASSERT_STATUS(Region::open(&region_, p), FMRT_OK);
    pages_.reset(new PageAllocator(*region_));
    ASSERT_STATUS(pages_->load([](uint64_t, const SpanHeader &) { return FMRT_OK; }), FMRT_OK);
    EXPECT_EQ(pages_->free_spans(), 1u);
    EXPECT_EQ(pages_->free_bytes(), uint64_t{tail_pages} * kPageSize);
    pages_.reset();
    region_.reset();
    EXPECT_EQ(fmrt_unit::read_file(path()), before);
}

TEST_F(Pages, LoadRefusesADamagedHeaderAndWritesNothing) {
    open();
    uint64_t a = alloc(2), b = alloc(3);
    (void)a;
    // Two free spans to join, behind a damaged header: load must not write.
    uint64_t tail = b + 3 * kPageSize;
    const uint32_t tail_pages = static_cast<uint32_t>((region_->heap_end() - tail) / kPageSize);
    split_tail(*region_, tail, {4, tail_pages - 4});
    *reinterpret_cast<uint64_t *>(at(b)) ^= uint64_t{1} << 40;
    pages_.reset();
    region_.reset();
    const std::vector<uint8_t> before = fmrt_unit::read_file(path());
    ASSERT_STATUS(fmrt_unit::open_region(&region_, path(), 0, 0, false), FMRT_OK);
    PageAllocator pa(*region_);
    EXPECT_STATUS(pa.load([](uint64_t, const SpanHeader &) { return FMRT_OK; }), FMRT_EFORMAT);
    EXPECT_NE(std::strstr(fmrt::error_message(), std::to_string(b).c_str()), nullptr) << fmrt::error_message();
    region_.reset();
    EXPECT_EQ(fmrt_unit::read_file(path()), before);
}

TEST_F(Pages, LoadRefusesASpanRunningPastTheHeapEnd) {
    open();
    uint64_t a = alloc(2);
    const uint64_t tail = a + 2 * kPageSize;
    const uint32_t tail_pages = static_cast<uint32_t>((region_->heap_end() - tail) / kPageSize);
    split_tail(*region_, tail, {tail_pages + 1});
    pages_.reset();
    region_.reset();
    ASSERT_STATUS(fmrt_unit::open_region(&region_, path(), 0, 0, false), FMRT_OK);
    PageAllocator pa(*region_);
    EXPECT_STATUS(pa.load([](uint64_t, const SpanHeader &) { return FMRT_OK; }), FMRT_EFORMAT);
    EXPECT_NE(std::strstr(fmrt::error_message(), "past the end"), nullptr) << fmrt::error_message();
}

TEST_F(Pages, LoadStopsAtTheFirstVisitError) {
    open();
    alloc(1);
    alloc(2);
    alloc(3);
    pages_.reset();
    region_.reset();
    ASSERT_STATUS(fmrt_unit::open_region(&region_, path(), 0, 0, false), FMRT_OK);
    PageAllocator pa(*region_);
    int visits = 0;
    EXPECT_STATUS(pa.load([&](uint64_t, const SpanHeader &h) {
        EXPECT_EQ(h.pages, static_cast<uint32_t>(visits + 1));
        return ++visits == 2 ? FMRT_EFORMAT : FMRT_OK;
    }),
                  FMRT_EFORMAT);
    EXPECT_EQ(visits, 2);
}

// ---- Differential test against a model of spans ------------------------------

struct LiveSpan {
    uint64_t pages;
    SpanHeader h;
    uint64_t tag;
};

class PagesModel : public Pages {
protected:
    void tag(uint64_t off, const LiveSpan &l) {
        std::memcpy(at(off) + 8, &l.tag, 8);
        uint64_t t2 = ~l.tag;
        std::memcpy(at(off + l.pages * kPageSize - 8), &t2, 8);
    }

    // After every operation: the walk reaches heap_end, holds exactly the
    // model's allocated spans, never two free neighbours, and agrees with
    // the allocator's accounting; no allocation was written over.
    void check(const char *what) {
        SCOPED_TRACE(std::string("after ") + what + " #" + std::to_string(step_));
        Walk w = walk();
        ASSERT_TRUE(w.reached_end) << w.error;
        ASSERT_FALSE(w.adjacent_free);
        auto it = live_.begin();
        for (const WalkedSpan &s : w.spans) {
            if (s.h.kind == SpanKind::kFree) continue;
            ASSERT_NE(it, live_.end()) << "unexpected allocated span at " << s.off;
            ASSERT_EQ(s.off, it->first);
            ASSERT_EQ(s.h.pages, it->second.pages);
            ASSERT_EQ(s.h.kind, it->second.h.kind);
            ASSERT_EQ(s.h.size_class, it->second.h.size_class);
            uint64_t t1, t2;
            std::memcpy(&t1, at(s.off) + 8, 8);
            std::memcpy(&t2, at(s.end() - 8), 8);
            ASSERT_EQ(t1, it->second.tag) << "span at " << s.off << " was written over";
            ASSERT_EQ(t2, ~it->second.tag) << "span at " << s.off << " was written over";
            ++it;
        }
        ASSERT_EQ(it, live_.end()) << "allocated span missing at " << it->first;
        ASSERT_EQ(pages_->free_bytes(), w.free_bytes);
        ASSERT_EQ(pages_->largest_free(), w.largest_free);
        ASSERT_EQ(pages_->free_spans(), w.free_spans);
        ASSERT_LE(region_->heap_end(), region_->file_size());
    }

    // The free span at the end of the heap, if any: (offset, pages).
    static std::pair<uint64_t, uint64_t> free_tail(const Walk &w) {
        if (w.spans.empty() || w.spans.back().h.kind != SpanKind::kFree) return {0, 0};
        return {w.spans.back().off, w.spans.back().h.pages};
    }

    void do_alloc() {
        uint64_t pages;
        uint64_t r = rng_() % 100;
        if (r < 70) pages = 1 + rng_() % 8;
        else if (r < 95) pages = 9 + rng_() % 56;
        else pages = 65 + rng_() % 500;
        static const uint64_t kAligns[] = {0, 0, 0, 0, 0, 0, 4096, 8192, 16384, 65536, 1 << 20, 2 << 20};
        static const uint64_t kSkews[] = {0, 4096, 12288};
        uint64_t align = kAligns[rng_() % (sizeof kAligns / sizeof kAligns[0])];
        uint64_t skew = align > kPageSize ? kSkews[rng_() % 3] : 0;
        uint64_t need = pages + (align > kPageSize ? align / kPageSize - 1 : 0);

        // Predict the placement: best fit by (pages, offset), else growth.
        Walk w = walk();
        uint64_t fit = 0, fit_pages = UINT64_MAX;
        for (const WalkedSpan &s : w.spans) {
            if (s.h.kind == SpanKind::kFree && s.h.pages >= need && s.h.pages < fit_pages) {
                fit = s.off;
                fit_pages = s.h.pages;
            }
        }
        bool expect_ok = true;
        if (fit_pages == UINT64_MAX) {
            auto [tail, have] = free_tail(w);
            fit = have ? tail : region_->heap_end();
            expect_ok = region_->heap_end() + (need - have) * kPageSize <= region_->reserved();
        }
        uint64_t want = align > kPageSize ? round_up(fit + skew, align) - skew : fit;

        SpanHeader h = kLargeHeader;
        if (rng_() % 2) h = SpanHeader{SpanKind::kRun, static_cast<uint8_t>(rng_() % fmrt::kNumClasses), 0, 0};
        uint64_t off = 0;
        bool zeroed = false;
        int rc = pages_->alloc(pages, align, skew, h, nullptr, &off, &zeroed);
        if (!expect_ok) {
            ASSERT_EQ(rc, FMRT_ENOMEM);
            return;
        }
        ASSERT_STATUS(rc, FMRT_OK) << pages << " pages, align " << align;
        ASSERT_EQ(off, want) << pages << " pages, align " << align << " skew " << skew;
        if (align > kPageSize) {
            ASSERT_EQ((off + skew) % align, 0u);
        }
        if (zeroed) {
            ASSERT_TRUE(fmrt_unit::all_zero(at(off) + 8, pages * kPageSize - 8))
                << "span at " << off << " claimed zeroed";
            ++zeroed_allocs_;
        }
        h.pages = static_cast<uint32_t>(pages);
        LiveSpan l{pages, h, rng_() | 1};
        tag(off, l);
        live_[off] = l;
    }

    void do_free() {
        auto it = std::next(live_.begin(), static_cast<long>(rng_() % live_.size()));
        pages_->free(it->first);
        live_.erase(it);
    }

    void do_resize() {
        auto it = std::next(live_.begin(), static_cast<long>(rng_() % live_.size()));
        const uint64_t off = it->first, old = it->second.pages;
        uint64_t now = 1 + rng_() % (2 * old + 4);
        Walk w = walk();
        // Predict: shrinking always works in place; growing needs a free
        // neighbour big enough, or the end of the heap (growth).
        int expect = FMRT_OK;
        if (now > old) {
            const uint64_t next = off + old * kPageSize, need = now - old;
            const WalkedSpan *n = nullptr;
            for (const WalkedSpan &s : w.spans) {
                if (s.off == next) n = &s;
            }
            bool free_next = n && n->h.kind == SpanKind::kFree;
            bool at_end = next == region_->heap_end() || (free_next && n->end() == region_->heap_end());
            if (free_next && n->h.pages >= need) {
                expect = FMRT_OK;
            } else if (at_end) {
                uint64_t have = free_next ? n->h.pages : 0;
                expect = region_->heap_end() + (need - have) * kPageSize <= region_->reserved() ? FMRT_OK : FMRT_ENOMEM;
            } else {
                expect = FMRT_ENOMEM;
            }
        }
        bool zt = false;
        int rc = pages_->resize(off, now, &zt);
        ASSERT_EQ(fmrt_unit::status_name(rc), fmrt_unit::status_name(expect))
            << "resize " << old << " -> " << now << " pages at " << off;
        if (rc != FMRT_OK) return;
        if (zt && now > old) {
            // Lenient reading: the tail past the absorbed header word.
            ASSERT_TRUE(fmrt_unit::all_zero(at(off + old * kPageSize) + 8, (now - old) * kPageSize - 8));
        }
        it->second.pages = now;
        it->second.h.pages = static_cast<uint32_t>(now);
        tag(off, it->second);
        ++resizes_;
    }

    void run(uint64_t seed, int ops) {
        rng_.seed(seed);
        open(1 * MiB, 64 * MiB);
        for (step_ = 0; step_ < ops; ++step_) {
            uint64_t live_pages = 0;
            for (auto &[o, l] : live_) live_pages += l.pages;
            uint64_t r = rng_() % 100;
            const char *what;
            if (live_.empty() || (r < 45 && live_pages < 3000)) {
                what = "alloc";
                do_alloc();
            } else if (r < 80) {
                what = "free";
                do_free();
            } else {
                what = "resize";
                do_resize();
            }
            if (HasFatalFailure()) return;
            check(what);
            if (HasFatalFailure()) return;
            if (step_ % 1000 == 999) {
                std::map<uint64_t, SpanHeader> seen = reopen();
                ASSERT_EQ(seen.size(), live_.size());
                for (auto &[o, l] : live_) {
                    ASSERT_EQ(seen.count(o), 1u) << o;
                    ASSERT_EQ(seen[o].pages, l.pages);
                }
                check("reopen");
                if (HasFatalFailure()) return;
            }
        }
        EXPECT_GT(zeroed_allocs_, 0u) << "no allocation came from fresh growth";
        EXPECT_GT(resizes_, 50u);
        EXPECT_GT(region_->heap_end(), 1 * MiB) << "the run exercised growth";
    }

    std::mt19937_64 rng_;
    std::map<uint64_t, LiveSpan> live_;
    int step_ = 0;
    uint64_t zeroed_allocs_ = 0, resizes_ = 0;
};

TEST_F(PagesModel, RandomAllocFreeResizeMatchesTheModelSeed1) { run(1, 8000); }
TEST_F(PagesModel, RandomAllocFreeResizeMatchesTheModelSeed2) { run(2, 8000); }
TEST_F(PagesModel, RandomAllocFreeResizeMatchesTheModelSeed3) { run(0xC0FFEE, 8000); }

TEST_F(PagesModel, LongRandomRunMatchesTheModel) {
    run(static_cast<uint64_t>(fmrt_unit::env_long("FMRT_PAGES_SEED", 77)),
        static_cast<int>(fmrt_unit::env_long("FMRT_PAGES_OPS", 4000)));
}

}  // namespace
