// Power-loss images: a file whose every 4 KiB page comes from one of a
// series of snapshots of the same heap file (S, taken at a sync, then later
// ones up to C), the way a power cut leaves pages written back in any order
// between syncs; torn pages take the bytes from a tear on from a second
// snapshot.  Also the shrinking of a failing image to the fewest pages that
// differ from C, and a readable description of those pages.
//
// Knows the on-disk format only as docs/format.md draws it (the superblock
// fields, page size); no library header beyond fmrt.h.
#ifndef FMRT_INTEGRITY_PAGE_MIX_H
#define FMRT_INTEGRITY_PAGE_MIX_H

#include <algorithm>
#include <cinttypes>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "integrity_util.h"

namespace fmrt_integrity {

// The file's contents at the sync (index 0, S), at later moments, and last
// (C).  Sizes never decrease.
using Snapshots = std::vector<std::string>;

constexpr uint64_t kSuperblockBytes = 256;  // used of each superblock page (docs/format.md)

// ---- Images ------------------------------------------------------------------------------

constexpr uint8_t kZero = 0xFF;  // a page no snapshot had written: zeros

// Where each page of an image comes from.
struct Mix {
    uint64_t size = 0;          // bytes (a snapshot's size)
    std::vector<uint8_t> src;   // per page: snapshot index or kZero
    std::vector<uint8_t> torn;  // per page: second source from `tear` on, or kZero for none
    std::vector<uint16_t> tear; // per page: byte offset of the tear
};

inline std::string snap_name(const Snapshots &snaps, uint8_t k) {
    if (k == kZero) return "zeros";
    if (k == 0) return "S";
    if (k + 1u == snaps.size()) return "C";
    return "M" + std::to_string(k);
}

// The 4 KiB at page `p` of snapshot k (zeros past its end).
inline std::string page_of(const Snapshots &snaps, uint8_t k, uint64_t p) {
    std::string page(kPage, '\0');
    if (k == kZero) return page;
    const std::string &s = snaps[k];
    const uint64_t off = p * kPage;
    if (off < s.size()) page.replace(0, std::min<uint64_t>(kPage, s.size() - off), s, off, kPage);
    return page;
}

// Page p of the image the mix describes.
inline std::string mixed_page(const Snapshots &snaps, const Mix &m, uint64_t p) {
    std::string page = page_of(snaps, m.src[p], p);
    if (m.torn[p] != kZero) {
        std::string other = page_of(snaps, m.torn[p], p);
        page.replace(m.tear[p], kPage - m.tear[p], other, m.tear[p], kPage - m.tear[p]);
    }
    return page;
}

inline std::string build_image(const Snapshots &snaps, const Mix &m) {
    std::string img;
    img.reserve(m.size);
    const uint64_t pages = m.size / kPage;
    for (uint64_t p = 0; p < pages; ++p) img += mixed_page(snaps, m, p);
    return img;
}

// Images of each workload: 0 is all S (a cut right after the sync), 1 all
// C (like a kill); 2..17 take the two superblock pages from each of
// {S, C, C torn over S, S torn over C} in turn over a random body; the rest
// are random throughout.
constexpr int kControlImages = 2;
constexpr int kSuperblockImages = 16;

inline Mix make_mix(const Snapshots &snaps, uint64_t image_seed, int index) {
    Rng rng(image_seed);
    const uint8_t n = static_cast<uint8_t>(snaps.size()), last = n - 1;
    Mix m;
    if (index < kControlImages) {
        m.size = snaps[index == 0 ? 0 : last].size();
    } else {
        m.size = snaps[rng.below(n)].size();
    }
    const uint64_t pages = m.size / kPage;
    m.src.assign(pages, index == 1 ? last : 0);
    m.torn.assign(pages, kZero);
    m.tear.assign(pages, 0);
    if (index < kControlImages) return m;
    static const double kFromS[] = {0.01, 0.1, 0.5, 0.9, 0.99, -1};
    double from_s = kFromS[rng.below(6)];
    if (from_s < 0) from_s = rng.between(0, 1000) / 1000.0;
    auto later = [&]() -> uint8_t { return rng.chance(0.5) ? last : static_cast<uint8_t>(rng.between(1, last)); };
    for (uint64_t p = 0; p < pages; ++p) {
        m.src[p] = rng.chance(from_s) ? 0 : later();
        if (p < 2 ? rng.chance(0.3) : rng.chance(0.02)) {
            uint8_t other = rng.chance(0.5) ? 0 : later();
            if (other == m.src[p]) other = other == 0 ? later() : 0;
            m.torn[p] = other;
            m.tear[p] = p < 2 ? kSuperblockBytes / 2 : static_cast<uint16_t>(512 * rng.between(1, 7));
        }
    }
    if (index < kControlImages + kSuperblockImages) {
        const int combo = index - kControlImages;
        for (uint64_t p = 0; p < 2; ++p) {
            const int how = p == 0 ? combo % 4 : combo / 4;
            m.src[p] = how == 0 || how == 3 ? 0 : last;
            m.torn[p] = how < 2 ? kZero : (how == 2 ? 0 : last);
            m.tear[p] = how < 2 ? 0 : kSuperblockBytes / 2;
        }
    }
    return m;
}

// ---- Shrinking a failing mix and describing its pages --------------------------------------

std::string u64_hex(uint64_t v) {
    char b[24];
    std::snprintf(b, sizeof b, "0x%016" PRIx64, v);
    return b;
}

inline uint64_t word_at(const std::string &page, size_t off) {
    uint64_t w = 0;
    std::memcpy(&w, page.data() + off, 8);
    return w;
}

// A superblock copy as docs/format.md lays it out.
inline std::string describe_superblock(const std::string &page) {
    if (page.compare(0, 8, "FMRTHEAP") != 0) return "no superblock";
    return "generation " + std::to_string(word_at(page, 24)) + ", heap_end " + std::to_string(word_at(page, 40)) +
           ", catalog_root " + std::to_string(word_at(page, 88)) + ", flags " + std::to_string(word_at(page, 56));
}

inline std::string describe_page(const Snapshots &snaps, const Mix &m, uint64_t p) {
    std::string s = "page " + std::to_string(p) + " (offset " + std::to_string(p * kPage) + ") from " +
                    snap_name(snaps, m.src[p]);
    if (m.torn[p] != kZero) {
        s += std::string(", torn at byte ") + std::to_string(m.tear[p]) + ": the rest from " + snap_name(snaps, m.torn[p]);
    }
    const uint8_t last = static_cast<uint8_t>(snaps.size() - 1);
    const std::string mine = mixed_page(snaps, m, p);
    if (p < 2) {
        // A torn copy fails its checksum: the reader ignores it.
        s += std::string("\n      image: ") +
             (m.torn[p] != kZero && m.tear[p] < kSuperblockBytes ? "torn, invalid" : describe_superblock(mine).c_str()) +
             "\n      C:     " + describe_superblock(page_of(snaps, last, p)) + "\n      S:     " +
             describe_superblock(page_of(snaps, 0, p));
    } else {
        s += "; first word " + u64_hex(word_at(mine, 0)) + " (C: " + u64_hex(word_at(page_of(snaps, last, p), 0)) +
             ", S: " + u64_hex(word_at(page_of(snaps, 0, p), 0)) + ")";
    }
    return s;
}

// Pages of the mix that differ from all-C (the latest state, which alone
// is a kill-like crash).
inline std::vector<uint64_t> deviating_pages(const Snapshots &snaps, const Mix &m) {
    const uint8_t last = static_cast<uint8_t>(snaps.size() - 1);
    std::vector<uint64_t> v;
    for (uint64_t p = 0; p < m.src.size(); ++p) {
        if (m.src[p] == last && m.torn[p] == kZero) continue;
        const std::string mine = mixed_page(snaps, m, p);
        if (mine != page_of(snaps, last, p)) v.push_back(p);
    }
    return v;
}

// Sets the pages in `which` back to the latest snapshot (untorn).
inline Mix with_latest(const Snapshots &snaps, Mix m, const std::vector<uint64_t> &which) {
    const uint8_t last = static_cast<uint8_t>(snaps.size() - 1);
    for (uint64_t p : which) {
        m.src[p] = last;
        m.torn[p] = kZero;
    }
    return m;
}

// Greedy shrinking (halves, then quarters, ..., then single pages): the
// fewest deviating pages with which `still_fails(image)` holds, trying at
// most `budget` images.
inline Mix shrink(const Snapshots &snaps, Mix m, const std::function<bool(const std::string &)> &still_fails,
                  int budget) {
    std::vector<uint64_t> dev = deviating_pages(snaps, m);
    size_t chunk = std::max<size_t>(1, dev.size() / 2);
    while (budget > 0 && !dev.empty()) {
        bool progress = false;
        for (size_t i = 0; i < dev.size() && budget > 0;) {
            const size_t end = std::min(dev.size(), i + chunk);
            Mix trial = with_latest(snaps, m, std::vector<uint64_t>(dev.begin() + i, dev.begin() + end));
            --budget;
            if (still_fails(build_image(snaps, trial))) {
                m = trial;
                dev.erase(dev.begin() + i, dev.begin() + end);
                progress = true;
            } else {
                i += chunk;
            }
        }
        if (chunk == 1 && !progress) break;
        if (chunk > 1) chunk /= 2;
    }
    return m;
}

}  // namespace fmrt_integrity

#endif  // FMRT_INTEGRITY_PAGE_MIX_H
