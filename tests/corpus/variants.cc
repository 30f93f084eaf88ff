#include <cstring>
// The damaged variants of the base heap, family by family: file sizes,
// superblock fields, span headers, run bitmaps and large headers, the
// catalog (table, slots, records, cycles), random bytes.  Each variant says
// what open and verify must answer (make_corpus.cc explains the words).
#include <fmrt.h>

#include <algorithm>
#include <functional>

#include "corpus.h"

namespace fmrt_corpus {
namespace {

// What the library's rule for two superblock copies makes of `b`: the open
// and verify expectations of a superblock variant.
std::pair<std::string, std::string> expect_superblocks(const Image &base, const Bytes &b) {
    Superblock c[2] = {sb_at(b, 0), sb_at(b, 1)};
    int verdict[2] = {fmrt::check_superblock(c[0]), fmrt::check_superblock(c[1])};
    int best = -1;
    for (int i = 0; i < 2; ++i)
        if (verdict[i] == FMRT_OK && (best < 0 || c[i].generation > c[best].generation)) best = i;
    if (best < 0) {
        bool version = verdict[0] == FMRT_EVERSION || verdict[1] == FMRT_EVERSION;
        if (version) return {"eversion", "eversion"};
        // No valid copy, but one still recognisable (magic, byte order,
        // version, page size, heap start): verify runs on it and reports the
        // damage (fmrt.h, fmrt_verify_path); open refuses.
        for (const Superblock &x : c) {
            if (std::memcmp(x.magic, fmrt::kMagic, sizeof fmrt::kMagic) == 0 && x.byte_order == fmrt::kByteOrderTag &&
                x.format_major == fmrt::kFormatMajor && x.page_size == fmrt::kPageSize &&
                x.heap_start == fmrt::kHeapStart) {
                return {"eformat", "damaged"};
            }
        }
        return {"eformat", "eformat"};
    }
    const Superblock &s = c[best];
    if (s.heap_end != base.sb.heap_end) {
        if (s.heap_end > b.size()) return {"eformat", "damaged"};
        return {"any", "any"};
    }
    if (s.catalog_root != base.sb.catalog_root) {
        // The table is lost but the records are not: verify reports them
        // as in no slot, and repair indexes them again.
        if (s.catalog_root == 0) return {"ok", "damaged"};
        return {"eformat", "damaged"};
    }
    if (s.max_size > (uint64_t{1} << 40)) return {"any+enomem", "clean"};
    return {"ok", "clean"};
}

template <typename T>
T bswap(T v) {
    if constexpr (sizeof(T) == 4) return static_cast<T>(__builtin_bswap32(v));
    else return static_cast<T>(__builtin_bswap64(v));
}

struct Field {
    const char *name;
    size_t off, width;
};

}  // namespace

void add_sizes(Corpus &c, bool small) {
    const Bytes &b = c.base().bytes;
    c.add("empty", Bytes(), "eformat", "eformat", "zero-length file");
    c.add("one-byte", Bytes(1, 'F'), "eformat", "eformat", "one byte");
    c.add("magic-only", Bytes(b.data(), 8), "eformat", "eformat", "the magic number alone");
    c.add("superblock-only", b.substr(0, 256), "eformat", "eformat", "one superblock copy, nothing else");
    // Truncated at every page boundary (every fourth for the seeds).
    const uint64_t step = small ? 4 * kPageSize : kPageSize;
    for (uint64_t t = kPageSize; t < b.size(); t += step) {
        char name[40];
        std::snprintf(name, sizeof name, "trunc-%07llu", static_cast<unsigned long long>(t));
        c.add(name, b.substr(0, t), "eformat", t < fmrt::kHeapStart ? "eformat" : "damaged",
              "truncated at a page boundary");
    }
    for (uint64_t t : {fmrt::kHeapStart + 100, b.size() / 2 + 1, b.size() - 1}) {
        c.add("trunc-odd-" + std::to_string(t), b.substr(0, t), "eformat", "damaged", "truncated inside a page");
    }
    {
        // Truncated inside the first heap page, the rest of that page
        // garbage: repair cuts the heap to nothing and must rebuild the
        // catalog in fresh growth, which must not trust those bytes.
        Bytes t = b.substr(0, fmrt::kHeapStart) + Bytes(kPageSize - 96, '\xff');
        c.add("trunc-odd-garbage-tail", t, "eformat", "damaged",
              "truncated inside the first heap page, which holds 0xff bytes");
    }
    // Longer than the heap: bytes past heap_end are an unfinished growth.
    c.add("extended-zero-page", b + Bytes(kPageSize, '\0'), "ok", "clean", "a zero page past heap_end");
    Bytes junk(kPageSize + 100, '\0');
    c.rng().fill(&junk[0], junk.size());
    c.add("extended-garbage-unaligned", b + junk, "ok", "clean", "garbage past heap_end, size not page aligned");
}

void add_superblock_fields(Corpus &c) {
    const Image &base = c.base();
    const Field fields[] = {
        {"magic", offsetof(Superblock, magic), 8},
        {"format_major", offsetof(Superblock, format_major), 4},
        {"format_minor", offsetof(Superblock, format_minor), 4},
        {"byte_order", offsetof(Superblock, byte_order), 4},
        {"page_size", offsetof(Superblock, page_size), 4},
        {"generation", offsetof(Superblock, generation), 8},
        {"heap_start", offsetof(Superblock, heap_start), 8},
        {"heap_end", offsetof(Superblock, heap_end), 8},
        {"max_size", offsetof(Superblock, max_size), 8},
        {"flags", offsetof(Superblock, flags), 8},
        {"uuid", offsetof(Superblock, uuid), 8},
        {"created", offsetof(Superblock, created_unix_ns), 8},
        {"catalog_root", offsetof(Superblock, catalog_root), 8},
        {"reserved", offsetof(Superblock, reserved), 8},
        {"checksum", offsetof(Superblock, checksum), 8},
    };
    for (const Field &f : fields) {
        const bool is_checksum = std::strcmp(f.name, "checksum") == 0;
        for (const char *value : {"zero", "ones", "plus1", "random"}) {
            for (const char *copies : {"both", "copy0", "copy1"}) {
                for (bool reseal : {true, false}) {
                    if (is_checksum && reseal) continue;
                    // A stale checksum is refused before the value matters:
                    // once per field and copy is enough.
                    if (!reseal && !is_checksum && std::strcmp(value, "ones") != 0) continue;
                    Bytes b = base.bytes;
                    uint64_t r = c.rng().next();
                    for (int copy = 0; copy < 2; ++copy) {
                        if (std::strcmp(copies, "both") != 0 && copies[4] - '0' != copy) continue;
                        const size_t at = copy * fmrt::kSuperblockSlotBytes + f.off;
                        uint64_t v = 0;
                        std::memcpy(&v, &b[at], f.width);
                        if (std::strcmp(value, "zero") == 0) v = 0;
                        else if (std::strcmp(value, "ones") == 0) v = ~uint64_t{0};
                        else if (std::strcmp(value, "plus1") == 0) v += 1;
                        else v = r;
                        std::memcpy(&b[at], &v, f.width);
                        if (reseal) reseal_sb(b, copy);
                    }
                    auto exp = expect_superblocks(base, b);
                    c.add(std::string("sb-") + f.name + "-" + value + "-" + copies + (reseal ? "-resealed" : "-raw"), b,
                          exp.first, exp.second,
                          std::string("superblock field ") + f.name + " set to " + value + " in " + copies +
                              (reseal ? ", checksum recomputed" : ", checksum left"));
                }
            }
        }
    }
}

void add_superblock_cases(Corpus &c) {
    const Image &base = c.base();
    auto both = [&](const std::function<void(Superblock &)> &f) {
        Bytes b = base.bytes;
        for (int copy = 0; copy < 2; ++copy) {
            Superblock sb = sb_at(b, copy);
            f(sb);
            sb.checksum = fmrt::superblock_checksum(sb);
            put_sb(b, copy, sb);
        }
        return b;
    };
    c.add("version-major-2", both([](Superblock &s) { s.format_major = 2; }), "eversion", "eversion",
          "format_major 2: a newer format");
    c.add("version-major-0", both([](Superblock &s) { s.format_major = 0; }), "eversion", "eversion",
          "format_major 0");
    c.add("version-minor-7", both([](Superblock &s) { s.format_minor = 7; }), "ok", "clean",
          "format_minor 7: any minor of our major is readable");
    c.add("byte-order-swapped-tag", both([](Superblock &s) { s.byte_order = 0x04030201u; }), "eversion", "eversion",
          "byte-order tag as another byte order writes it");
    // A heap as a big-endian machine would write it: every superblock field
    // byte-swapped, the checksum computed over those bytes and stored swapped.
    c.add("byte-order-other-machine", both([](Superblock &s) {
              s.format_major = bswap(s.format_major);
              s.format_minor = bswap(s.format_minor);
              s.byte_order = bswap(s.byte_order);
              s.page_size = bswap(s.page_size);
              s.generation = bswap(s.generation);
              s.heap_start = bswap(s.heap_start);
              s.heap_end = bswap(s.heap_end);
              s.max_size = bswap(s.max_size);
              s.flags = bswap(s.flags);
              s.created_unix_ns = bswap(s.created_unix_ns);
              s.catalog_root = bswap(s.catalog_root);
          }),
          "eversion", "eversion", "a valid heap of the other byte order");
    {
        Bytes b = c.base().bytes;
        for (int copy = 0; copy < 2; ++copy) {
            Superblock sb = sb_at(b, copy);
            sb.checksum = bswap(fmrt::superblock_checksum(sb));
            put_sb(b, copy, sb);
        }
        c.add("byte-order-checksum-swapped", b, "eformat", "damaged", "checksum stored in the other byte order");
    }
    c.add("heap-end-past-file", both([&](Superblock &s) { s.heap_end = base.bytes.size() + kPageSize; }), "eformat",
          "damaged", "heap_end one page past the end of the file");
    c.add("heap-end-far-past-file", both([&](Superblock &s) { s.heap_end = uint64_t{1} << 40; }), "eformat", "damaged",
          "heap_end 1 TiB in a small file");
    c.add("heap-end-unaligned", both([&](Superblock &s) { s.heap_end -= 100; }), "eformat", "damaged",
          "heap_end not page aligned");
    c.add("heap-end-before-start", both([&](Superblock &s) { s.heap_end = fmrt::kHeapStart - kPageSize; }), "eformat",
          "damaged", "heap_end before heap_start");
    {
        // One page into the last span longer than a page (a one-page span at
        // the very end would just drop out of the heap, leaving it valid).
        uint64_t cut = 0;
        for (auto it = base.spans.rbegin(); it != base.spans.rend() && cut == 0; ++it) {
            if (it->h.pages > 1) cut = it->off + kPageSize;
        }
        c.add("heap-end-one-page-short", both([&](Superblock &s) { s.heap_end = cut; }), "eformat", "damaged",
              "heap_end one page into the last span of more than a page: that span runs past it");
    }
    c.add("heap-end-empty-heap", both([&](Superblock &s) { s.heap_end = fmrt::kHeapStart; }), "eformat", "damaged",
          "heap_end == heap_start: the catalog table is outside the heap");
    c.add("heap-empty-no-catalog", both([&](Superblock &s) {
              s.heap_end = fmrt::kHeapStart;
              s.catalog_root = 0;
          }),
          "ok", "clean", "an empty heap without a catalog (the rest of the file is unused)");
    c.add("dirty-flag", both([](Superblock &s) { s.flags |= fmrt::kSbDirty; }), "ok", "clean",
          "not closed cleanly");
    c.add("max-size-below-file", both([](Superblock &s) { s.max_size = kPageSize; }), "ok", "clean",
          "max_size smaller than the file");
    c.add("max-size-huge", both([](Superblock &s) { s.max_size = uint64_t{1} << 62; }), "any+enomem", "clean",
          "max_size 2^62: more than any address space");
    c.add("max-size-wraps", both([](Superblock &s) { s.max_size = ~uint64_t{0} - 4095; }), "any+enomem", "clean",
          "max_size that overflows when rounded up");
    // Generations: the higher valid copy wins, whatever the numbers.
    c.add("generation-max-both", both([](Superblock &s) { s.generation = ~uint64_t{0}; }), "ok", "clean",
          "both copies at the largest generation");
    {
        Bytes b = base.bytes;
        const int old = 1 - base.in_force;
        Superblock sb = sb_at(b, old);
        sb.generation = ~uint64_t{0};
        sb.catalog_root = 0;
        sb.checksum = fmrt::superblock_checksum(sb);
        put_sb(b, old, sb);
        c.add("generation-stale-copy-wins", b, "ok", "damaged",
              "the older copy, without a catalog, has the higher generation: the records are in no slot");
    }
    {
        Bytes b = base.bytes;
        std::memset(&b[base.in_force * fmrt::kSuperblockSlotBytes], 0, 256);
        c.add("superblock-copy-in-force-zeroed", b, "ok", "any", "the copy in force zeroed: the other one is used");
        std::memset(&b[(1 - base.in_force) * fmrt::kSuperblockSlotBytes], 0, 256);
        c.add("superblock-both-zeroed", b, "eformat", "eformat", "both copies zeroed");
    }
    {
        Bytes b = base.bytes;
        b.replace(0, 8, "FMRTHEAQ");
        b.replace(fmrt::kSuperblockSlotBytes, 8, "FMRTHEAQ");
        c.add("magic-wrong-both", b, "eformat", "eformat", "magic number off by one bit in both copies");
    }
    {
        // The unused tail of each superblock page: nobody reads it.
        Bytes b = base.bytes;
        for (int copy = 0; copy < 2; ++copy)
            c.rng().fill(&b[copy * fmrt::kSuperblockSlotBytes + 256], fmrt::kSuperblockSlotBytes - 256);
        c.add("superblock-page-tail-garbage", b, "ok", "clean", "garbage after the 256 bytes of each copy");
    }
}

void add_spans(Corpus &c, bool small) {
    const Image &base = c.base();
    const Bytes &b0 = base.bytes;
    const uint64_t end = base.sb.heap_end;
    for (size_t i = 0; i < base.spans.size(); ++i) {
        const Span &s = base.spans[i];
        const std::string at = "span" + std::to_string(i) + "-" + hex(s.off);
        const std::string what = "span " + std::to_string(i) + " (offset " + std::to_string(s.off) + ")";
        const uint64_t word = get64(b0, s.off);
        // A changed word that no longer decodes: the walk cannot go on.
        auto add_word = [&](const std::string &tag, uint64_t w, const std::string &why) {
            Bytes b = b0;
            put64(b, s.off, w);
            SpanHeader h;
            bool decodes = fmrt::decode_span(s.off, w, &h);
            c.add(at + "-" + tag, b, decodes ? "any" : "eformat", decodes ? "any" : "damaged", what + ": " + why);
        };
        for (int bit : {0, 33, 45, 63}) {
            if (small && bit != 0 && bit != 63) continue;
            add_word("flip" + std::to_string(bit), word ^ (uint64_t{1} << bit),
                     "header bit " + std::to_string(bit) + " flipped");
        }
        add_word("zero", 0, "header word zeroed");
        add_word("ones", ~uint64_t{0}, "header word all ones");
        add_word("moved", fmrt::encode_span(s.off + kPageSize, s.h), "header valid one page further on");
        // Valid checks, impossible contents.
        auto add_header = [&](const std::string &tag, SpanHeader h, const std::string &open_exp,
                              const std::string &verify_exp, const std::string &why) {
            Bytes b = b0;
            put_span(b, s.off, h);
            c.add(at + "-" + tag, b, open_exp, verify_exp, what + ": " + why + ", check recomputed");
        };
        // What a walk finds at `next` after a changed length: a header or not.
        auto lands_on_header = [&](uint64_t next) {
            if (next == end) return true;
            SpanHeader h;
            return next < end && fmrt::decode_span(next, get64(b0, next), &h);
        };
        SpanHeader h = s.h;
        h.pages = 0xFFFFFFFFu;
        add_header("pages-max", h, "eformat", "damaged", "2^32-1 pages");
        h.pages = static_cast<uint32_t>((end - s.off) / kPageSize + 1);
        add_header("pages-past-end", h, "eformat", "damaged", "one page past the heap end");
        const bool run = s.h.kind == SpanKind::kRun;
        h.pages = s.h.pages + 1;
        add_header("pages-plus1", h, run || !lands_on_header(s.end() + kPageSize) ? "eformat" : "any",
                   run || !lands_on_header(s.end() + kPageSize) ? "damaged" : "any",
                   "one page longer: overlaps the next span's header");
        if (s.h.pages > 1) {
            h.pages = s.h.pages - 1;
            add_header("pages-minus1", h, run || !lands_on_header(s.end() - kPageSize) ? "eformat" : "any",
                       run || !lands_on_header(s.end() - kPageSize) ? "damaged" : "any", "one page shorter");
        }
        if (i + 1 < base.spans.size()) {
            h.pages = s.h.pages + base.spans[i + 1].h.pages;
            add_header("swallows-next", h, run ? "eformat" : "any", run ? "damaged" : "any",
                       "covers the next span exactly (overlapping blocks)");
        }
        // Another kind.
        for (SpanKind k : {SpanKind::kFree, SpanKind::kRun, SpanKind::kLarge}) {
            if (k == s.h.kind) continue;
            SpanHeader hk{k, 0, 0, s.h.pages};
            std::string open_exp = "any", verify_exp = "any";
            if (k == SpanKind::kRun) {
                // A class whose runs have another length: refused.
                hk.size_class = fmrt::run_layout(0).pages == s.h.pages ? 43 : 0;
                if (fmrt::run_layout(hk.size_class).pages != s.h.pages) open_exp = "eformat", verify_exp = "damaged";
            }
            if (k == SpanKind::kLarge && s.h.pages < 2) open_exp = "eformat", verify_exp = "damaged";
            const char *kn = k == SpanKind::kFree ? "free" : k == SpanKind::kRun ? "run" : "large";
            add_header(std::string("kind-") + kn, hk, open_exp, verify_exp, std::string("kind changed to ") + kn);
        }
        // Kinds 0 and 5 are invalid even with a valid check.
        for (uint8_t k : {0, 5}) {
            add_header("kind-" + std::to_string(k), SpanHeader{static_cast<SpanKind>(k), 0, 0, s.h.pages}, "eformat",
                       "damaged", "kind " + std::to_string(k) + " (invalid)");
        }
        if (s.h.kind == SpanKind::kRun) {
            h = s.h;
            h.size_class = 44;
            add_header("class-44", h, "eformat", "damaged", "size class 44 (past the table)");
            h.size_class = static_cast<uint8_t>(s.h.size_class == 0 ? 1 : s.h.size_class - 1);
            add_header("class-other", h, fmrt::run_layout(h.size_class).pages == s.h.pages ? "any" : "eformat",
                       fmrt::run_layout(h.size_class).pages == s.h.pages ? "any" : "damaged",
                       "another size class of the same run length");
        } else {
            h = s.h;
            h.size_class = 3;
            add_header("class-on-" + std::string(s.h.kind == SpanKind::kFree ? "free" : "large"), h, "eformat",
                       "damaged", "a size class on a span that is not a run");
        }
        // Flags.
        h = s.h;
        h.flags = static_cast<uint8_t>(s.h.flags ^ fmrt::kSpanTransient);
        if (s.h.kind == SpanKind::kFree) {
            add_header("flag-transient", h, "ok", (h.flags & fmrt::kSpanTransient) ? "damaged" : "clean",
                       "transient flag toggled on a free span");
        } else {
            add_header("flag-transient", h, "any", "any", "transient flag toggled");
        }
        h = s.h;
        h.flags = static_cast<uint8_t>(s.h.flags ^ fmrt::kSpanZeroed);
        add_header("flag-zeroed", h, "any", "any", "zeroed flag toggled");
        h.flags = 0xF;
        add_header("flags-all", h, "any", "any", "every flag bit set");
    }
}

void add_runs(Corpus &c) {
    const Image &base = c.base();
    std::set<uint64_t> named;  // allocations the catalog holds: the table, records, what they name
    named.insert(base.root);
    for (const Record &r : base.records) {
        named.insert(r.off);
        if (r.hdr.alloc_offset) named.insert(r.hdr.alloc_offset);
    }
    int n = 0;
    for (const Span &s : base.spans) {
        if (s.h.kind != SpanKind::kRun) continue;
        const fmrt::RunLayout &l = fmrt::run_layout(s.h.size_class);
        const std::string at =
            "run" + std::to_string(n++) + "-" + hex(s.off) + "-class" + std::to_string(s.h.size_class);
        const uint64_t last = l.bitmap_words - 1;
        const uint64_t aword = s.off + fmrt::kRunBitmapOffset + 16 * last, tword = aword + 8;
        const uint32_t used_bits = l.slots - static_cast<uint32_t>(last) * 64;
        if (used_bits < 64) {
            Bytes b = base.bytes;
            put64(b, aword, get64(b, aword) | (uint64_t{1} << used_bits));
            c.add(at + "-alloc-bit-past-slots", b, "eformat", "damaged",
                  "allocated bit for a slot the run does not have");
            b = base.bytes;
            put64(b, tword, get64(b, tword) | (uint64_t{1} << 63));
            c.add(at + "-transient-bit-past-slots", b, "eformat", "damaged",
                  "transient bit for a slot the run does not have");
        }
        {
            // A transient bit on a free slot: a crash between two stores.
            Bytes b = base.bytes;
            for (uint32_t i = 0; i < l.slots; ++i) {
                uint64_t w = s.off + fmrt::kRunBitmapOffset + 16ull * (i / 64);
                if (!((get64(b, w) >> (i % 64)) & 1)) {
                    put64(b, w + 8, get64(b, w + 8) | (uint64_t{1} << (i % 64)));
                    break;
                }
            }
            c.add(at + "-transient-on-free-slot", b, "ok", "clean", "transient bit without its allocated bit");
        }
        bool holds_table = false, holds_named = false;
        for (uint64_t off : named) {
            if (off >= s.off && off < s.end()) (off == base.root ? holds_table : holds_named) = true;
        }
        {
            Bytes b = base.bytes;
            for (uint32_t w = 0; w < l.bitmap_words; ++w) put64(b, s.off + fmrt::kRunBitmapOffset + 16ull * w, 0);
            c.add(at + "-all-free", b, holds_table ? "eformat" : "ok", holds_table || holds_named ? "damaged" : "clean",
                  "every allocated bit cleared");
        }
        {
            Bytes b = base.bytes;
            for (uint32_t w = 0; w < l.bitmap_words; ++w) {
                uint64_t mask = (w + 1) * 64 <= l.slots ? ~uint64_t{0} : (uint64_t{1} << (l.slots - w * 64)) - 1;
                put64(b, s.off + fmrt::kRunBitmapOffset + 16ull * w, mask);
            }
            c.add(at + "-all-allocated", b, "ok", "clean", "every slot marked allocated (leaks, no damage)");
        }
        {
            Bytes b = base.bytes;
            c.rng().fill(&b[s.off + 8], 56);
            c.add(at + "-reserved-garbage", b, "ok", "clean", "garbage in the run header's reserved bytes");
        }
        {
            Bytes b = base.bytes;
            c.rng().fill(&b[s.off + fmrt::kRunBitmapOffset], 16ull * l.bitmap_words);
            c.add(at + "-bitmaps-random", b, "any", "any", "random bitmaps");
        }
    }
    for (const Span &s : base.spans) {
        if (s.h.kind != SpanKind::kLarge) continue;
        const std::string at = "large-" + hex(s.off);
        Bytes b = base.bytes;
        put64(b, s.off + 8, uint64_t{s.h.pages} * kPageSize);
        c.add(at + "-requested-too-big", b, "ok", "damaged", "a large allocation records more bytes than its span has");
        b = base.bytes;
        put64(b, s.off + 8, ~uint64_t{0});
        c.add(at + "-requested-ones", b, "ok", "damaged", "requested size 2^64-1");
        b = base.bytes;
        c.rng().fill(&b[s.off + kPageSize], kPageSize);
        c.add(at + "-data-garbage", b, "ok", "clean", "random user data");
    }
    for (const Span &s : base.spans) {
        if (s.h.kind != SpanKind::kFree || s.h.pages < 2) continue;
        Bytes b = base.bytes;
        c.rng().fill(&b[s.off + 8], kPageSize);
        c.add("free-" + hex(s.off) + "-body-garbage", b, "ok", (s.h.flags & fmrt::kSpanZeroed) ? "any" : "clean",
              std::string("garbage in a free span's body") +
                  ((s.h.flags & fmrt::kSpanZeroed) ? " flagged zeroed" : ""));
    }
}

void add_catalog(Corpus &c) {
    const Image &base = c.base();
    const Bytes &b0 = base.bytes;
    // The table.
    auto with_root = [&](uint64_t root) {
        Bytes b = b0;
        for (int copy = 0; copy < 2; ++copy) {
            Superblock sb = sb_at(b, copy);
            sb.catalog_root = root;
            sb.checksum = fmrt::superblock_checksum(sb);
            put_sb(b, copy, sb);
        }
        return b;
    };
    const Span *first_free = nullptr;
    const Span *first_large = nullptr;
    for (const Span &s : base.spans) {
        if (!first_free && s.h.kind == SpanKind::kFree) first_free = &s;
        if (!first_large && s.h.kind == SpanKind::kLarge) first_large = &s;
    }
    const Record &r0 = base.records[0], &r1 = base.records[1];
    uint64_t unnamed = 0;  // a live small allocation that is no record and no table
    for (auto &kv : base.allocs) {
        bool used = kv.first == base.root;
        for (const Record &r : base.records) used = used || kv.first == r.off || kv.first == r.hdr.alloc_offset;
        if (!used && kv.second < 65536) {
            unnamed = kv.first;
            break;
        }
    }
    struct Target {
        const char *tag;
        uint64_t off;
    };
    std::vector<Target> targets = {
        {"superblock-a", 8},
        {"superblock-b", fmrt::kSuperblockSlotBytes},
        {"heap-start", fmrt::kHeapStart},
        {"garbage", fmrt::kHeapStart + 12345},
        {"past-file", b0.size() + kPageSize},
        {"ones", ~uint64_t{0}},
        {"top-bit", uint64_t{1} << 63},
        {"record", r0.off},
        {"table-plus-8", base.root + 8},
        {"unnamed-alloc", unnamed},
    };
    if (first_free) {
        targets.push_back({"free-span-header", first_free->off});
        targets.push_back({"free-span-body", first_free->off + kPageSize});
    }
    if (first_large) {
        targets.push_back({"large-header", first_large->off});
        targets.push_back({"large-data", first_large->off + kPageSize});
    }
    for (const Target &t : targets) {
        if (t.off == 0) continue;
        c.add(std::string("catalog-root-") + t.tag, with_root(t.off), "eformat", "damaged",
              std::string("catalog_root points at ") + t.tag);
    }
    auto table_with = [&](const std::function<void(CatalogTable *)> &f, bool recheck) {
        Bytes b = b0;
        auto *t = reinterpret_cast<CatalogTable *>(&b[base.root]);
        f(t);
        if (recheck) t->check = fmrt::table_check(t);
        return b;
    };
    const uint64_t max_cap = (base.table_usable - fmrt::kTableHeaderBytes) / 8;
    c.add("table-capacity-huge", table_with([](CatalogTable *t) { t->capacity = uint64_t{1} << 63; }, true), "eformat",
          "damaged", "table capacity 2^63");
    c.add("table-capacity-ones", table_with([](CatalogTable *t) { t->capacity = ~uint64_t{0}; }, true), "eformat",
          "damaged", "table capacity 2^64-1");
    c.add("table-capacity-one-too-many", table_with([&](CatalogTable *t) { t->capacity = max_cap + 1; }, true),
          "eformat", "damaged", "one slot more than the allocation holds");
    c.add("table-capacity-all-room", table_with([&](CatalogTable *t) { t->capacity = max_cap; }, true), "ok", "clean",
          "every slot the allocation holds (the extra ones are zero)");
    c.add("table-capacity-zero", table_with([](CatalogTable *t) { t->capacity = 0; }, true), "ok", "damaged",
          "an empty table: the records are in no slot (repair indexes them again)");
    c.add("table-capacity-raw", table_with([](CatalogTable *t) { t->capacity += 1; }, false), "eformat", "damaged",
          "capacity changed, check left");
    c.add("table-magic", table_with([](CatalogTable *t) { t->magic ^= 1; }, true), "eformat", "damaged",
          "table magic wrong");
    c.add("table-check", table_with([](CatalogTable *t) { t->check ^= 1; }, false), "eformat", "damaged",
          "table check wrong");
    c.add("table-reserved", table_with([](CatalogTable *t) { t->reserved = 0x1234; }, false), "ok", "clean",
          "table reserved word set");

    // Slots.
    uint64_t empty_slot = 0;
    for (uint64_t s = 0; s < base.capacity; ++s)
        if (get64(b0, base.root + fmrt::kTableHeaderBytes + 8 * s) == 0) {
            empty_slot = base.root + fmrt::kTableHeaderBytes + 8 * s;
            break;
        }
    if (empty_slot == 0) die("base catalog table has no empty slot");
    auto with_slot = [&](uint64_t slot_word, uint64_t value) {
        Bytes b = b0;
        put64(b, slot_word, value);
        return b;
    };
    std::vector<Target> slot_targets = {
        {"table", base.root},
        {"superblock", 64},
        {"past-file", b0.size() + 64},
        {"ones", ~uint64_t{0}},
        {"top-bit", uint64_t{1} << 63},
        {"record-middle", r1.off + 16},
        {"unnamed-alloc", unnamed},
    };
    if (first_free) slot_targets.push_back({"free-span", first_free->off + kPageSize});
    if (first_large) slot_targets.push_back({"large-data", first_large->off + kPageSize});
    for (const Target &t : slot_targets) {
        if (t.off == 0) continue;
        c.add(std::string("slot-to-") + t.tag, with_slot(r0.slot_word, t.off), "ok", "damaged",
              std::string("a used slot points at ") + t.tag);
        c.add(std::string("empty-slot-to-") + t.tag, with_slot(empty_slot, t.off), "ok", "damaged",
              std::string("an empty slot points at ") + t.tag);
    }
    c.add("slot-duplicate-record", with_slot(empty_slot, r0.off), "ok", "any",
          "two slots hold the same record (same name, same seq)");
    c.add("slot-replaced-by-other-record", with_slot(r0.slot_word, r1.off), "ok", "any",
          "a slot overwritten with another slot's record: one entry lost");
    c.add("slot-cleared", with_slot(r0.slot_word, 0), "ok", "damaged",
          "a slot emptied: its record is in no slot (repair indexes it again)");
    {
        Bytes b = b0;
        for (uint64_t s = 0; s < base.capacity; ++s) put64(b, base.root + fmrt::kTableHeaderBytes + 8 * s, base.root);
        c.add("slots-all-to-table", b, "ok", "damaged", "every slot points at the table itself (a catalog cycle)");
    }

    // Records.
    for (size_t i = 0; i < base.records.size() && i < 2; ++i) {
        const Record &r = base.records[i];
        const std::string at = "record" + std::to_string(i) + "-";
        auto rec = [&](const std::function<void(CatalogRecord *, Bytes &)> &f, bool reseal) {
            Bytes b = b0;
            f(reinterpret_cast<CatalogRecord *>(&b[r.off]), b);
            if (reseal) reseal_record(b, r.off);
            return b;
        };
        const std::string who = "record '" + r.name + "'";
        c.add(at + "name-len-huge", rec([](CatalogRecord *x, Bytes &) { x->name_len = 0xFFFFFFFFu; }, false), "ok",
              "damaged", who + ": name_len 2^32-1");
        c.add(at + "name-len-too-long", rec([](CatalogRecord *x, Bytes &) { x->name_len = FMRT_NAME_MAX + 1; }, false),
              "ok", "damaged", who + ": name_len past FMRT_NAME_MAX");
        c.add(at + "name-len-zero", rec([](CatalogRecord *x, Bytes &) { x->name_len = 0; }, true), "ok", "damaged",
              who + ": name_len 0, checksum recomputed");
        c.add(at + "name-len-plus1", rec([](CatalogRecord *x, Bytes &) { x->name_len += 1; }, true), "ok", "damaged",
              who + ": name_len one longer (the NUL is inside the name), checksum recomputed");
        c.add(at + "meta-len-huge", rec([](CatalogRecord *x, Bytes &) { x->meta_len = ~uint64_t{0}; }, false), "ok",
              "damaged", who + ": meta_len 2^64-1");
        c.add(at + "meta-len-slot", rec([&](CatalogRecord *x, Bytes &) { x->meta_len = r.usable; }, false), "ok",
              "damaged", who + ": meta_len as long as the slot");
        c.add(at + "meta-len-past-slot", rec([&](CatalogRecord *x, Bytes &) {
                  x->meta_len = r.usable - fmrt::kRecordHeaderBytes - x->name_len;
              }, false),
              "ok", "damaged", who + ": record one byte past its slot");
        c.add(at + "meta-len-minus1", rec([](CatalogRecord *x, Bytes &) { x->meta_len -= x->meta_len ? 1 : 0; }, true),
              "ok", "clean", who + ": meta one byte shorter, checksum recomputed (a consistent record)");
        c.add(at + "checksum", rec([](CatalogRecord *x, Bytes &) { x->checksum ^= 0x100; }, false), "ok", "damaged",
              who + ": checksum wrong");
        c.add(at + "magic", rec([](CatalogRecord *x, Bytes &) { x->magic ^= 1; }, true), "ok", "damaged",
              who + ": magic wrong");
        c.add(at + "name-not-terminated", rec([](CatalogRecord *x, Bytes &b) {
                  b[static_cast<size_t>(reinterpret_cast<char *>(x + 1) - &b[0]) + x->name_len] = 'x';
              }, true),
              "ok", "damaged", who + ": the name's NUL overwritten, checksum recomputed");
        auto name_byte = [&](size_t i, unsigned char v) {
            return rec([=](CatalogRecord *x, Bytes &) { reinterpret_cast<unsigned char *>(x + 1)[i] = v; }, true);
        };
        c.add(at + "name-bad-utf8", name_byte(0, 0xFF), "ok", "damaged", who + ": name not UTF-8, checksum recomputed");
        c.add(at + "name-inner-nul", name_byte(1, 0), "ok", "damaged", who + ": NUL inside the name, checksum recomputed");
        c.add(at + "body-zeroed", rec([&](CatalogRecord *x, Bytes &) { std::memset(x, 0, r.usable); }, false), "ok",
              "damaged", who + ": zeroed");
        // Where the record's allocation points (checksum recomputed: only
        // the check against the heap can catch these).
        auto alloc_to = [&](const std::string &tag, uint64_t off, uint64_t size, const std::string &verify_exp) {
            c.add(at + "alloc-" + tag, rec([&](CatalogRecord *x, Bytes &) {
                      x->alloc_offset = off;
                      x->size = size;
                  }, true),
                  verify_exp == "damaged" && (tag == "table" || tag == "other-record") ? "any" : "ok", verify_exp,
                  who + ": alloc_offset at " + tag + ", checksum recomputed");
        };
        alloc_to("past-file", b0.size() + kPageSize, 1, "damaged");
        alloc_to("ones", ~uint64_t{0}, 1, "damaged");
        alloc_to("superblock", 64, 1, "damaged");
        alloc_to("superblock-b", fmrt::kSuperblockSlotBytes, 1, "damaged");
        alloc_to("record-middle", r.off + 16, 1, "damaged");
        // Catalog cycles: a record naming catalog storage.  Naming itself
        // is harmless (freeing the entry frees the record once); naming the
        // table or another record is damage: a remove with
        // FMRT_REMOVE_FREE would free storage the catalog still uses.
        alloc_to("itself", r.off, 16, "any");
        alloc_to("itself-too-big", r.off, r.usable + 1, "damaged");
        alloc_to("table", base.root, 8, "damaged");
        alloc_to("other-record", base.records[i + 1].off, 8, "damaged");
        alloc_to("table-too-big", base.root, base.table_usable + 1, "damaged");
        alloc_to("none-with-size", 0, 5, "damaged");
        if (first_free) alloc_to("free-span", first_free->off + kPageSize, 1, "damaged");
        if (first_large) alloc_to("large-header", first_large->off, 1, "damaged");
        if (first_large) {
            const uint64_t data = first_large->off + kPageSize;
            alloc_to("large-data-too-big", data, base.usable_of(data) + 1, "damaged");
        }
        if (r1.hdr.alloc_offset) alloc_to("shared", r1.hdr.alloc_offset, 1, "clean");  // two names, one block
    }
    {
        // A lost table (repair rebuilds it from the records it finds) while
        // an allocation a record names is flagged transient (a crash between
        // an allocation and its put): the rebuilt catalog must keep it.
        std::set<SpanKind> done;
        for (const Record &r : base.records) {
            const Span *s = r.hdr.alloc_offset ? base.span_of(r.hdr.alloc_offset) : nullptr;
            if (s == nullptr || !done.insert(s->h.kind).second) continue;
            Bytes b = b0;
            reinterpret_cast<CatalogTable *>(&b[base.root])->magic ^= 1;
            std::string kind;
            if (s->h.kind == SpanKind::kLarge) {
                put_span(b, s->off, SpanHeader{SpanKind::kLarge, 0, fmrt::kSpanTransient, s->h.pages});
                kind = "large";
            } else {
                const fmrt::RunLayout &l = fmrt::run_layout(s->h.size_class);
                const uint64_t idx = (r.hdr.alloc_offset - s->off - l.data_offset) / l.slot_size;
                const uint64_t tw = s->off + fmrt::kRunBitmapOffset + 16 * (idx / 64) + 8;
                put64(b, tw, get64(b, tw) | (uint64_t{1} << (idx % 64)));
                kind = "small";
            }
            c.add("table-lost-named-transient-" + kind, b, "eformat", "damaged",
                  "catalog table damaged and the " + kind + " allocation of record '" + r.name +
                      "' flagged transient");
        }
        // A lost table and a record whose size exceeds its allocation: the
        // rebuilt catalog must not take the record the normal load refuses.
        for (const Record &r : base.records) {
            if (r.hdr.alloc_offset == 0) continue;
            Bytes b = b0;
            reinterpret_cast<CatalogTable *>(&b[base.root])->magic ^= 1;
            reinterpret_cast<CatalogRecord *>(&b[r.off])->size = base.usable_of(r.hdr.alloc_offset) + 1;
            reseal_record(b, r.off);
            c.add("table-lost-record-too-big", b, "eformat", "damaged",
                  "catalog table damaged and record '" + r.name + "' one byte larger than its allocation");
            break;
        }
    }
    {
        // Two records with the same name and the same seq: record 1's slot
        // gets a copy of record 0 (same class needed for it to fit).
        const Record *a = nullptr, *d = nullptr;
        for (const Record &x : base.records)
            for (const Record &y : base.records)
                if (!a && x.off != y.off && x.usable == y.usable) a = &x, d = &y;
        if (a) {
            const uint64_t len = fmrt::record_bytes(a->hdr.name_len, a->hdr.meta_len);
            Bytes b = b0;
            std::memcpy(&b[d->off], &b0[a->off], len);
            c.add("records-same-name-same-seq", b, "ok", "any",
                  "two records named '" + a->name + "' with the same seq");
            auto *rd = reinterpret_cast<CatalogRecord *>(&b[d->off]);
            rd->seq = a->hdr.seq + 1;
            reseal_record(b, d->off);
            c.add("records-same-name-newer-seq", b, "ok", "any",
                  "two records named '" + a->name + "', the copy newer (a rename cut short)");
            rd->seq = a->hdr.seq - 1;
            reseal_record(b, d->off);
            c.add("records-same-name-older-seq", b, "ok", "any", "two records named '" + a->name + "', the copy older");
        }
    }
}

void add_random(Corpus &c) {
    const Image &base = c.base();
    for (uint64_t n : {100ull, 4096ull, 8192ull, 65536ull, static_cast<unsigned long long>(base.bytes.size())}) {
        Bytes b(n, '\0');
        c.rng().fill(&b[0], n);
        c.add("random-" + std::to_string(n), b, "eformat", "eformat", "random bytes");
    }
    {
        // Valid superblocks over a random heap.
        Bytes b = base.bytes;
        c.rng().fill(&b[fmrt::kHeapStart], b.size() - fmrt::kHeapStart);
        c.add("random-heap-valid-superblocks", b, "eformat", "damaged", "valid superblocks, random heap");
        // And a zeroed heap.
        std::memset(&b[fmrt::kHeapStart], 0, b.size() - fmrt::kHeapStart);
        c.add("zero-heap-valid-superblocks", b, "eformat", "damaged", "valid superblocks, zeroed heap");
    }
    {
        // One random page at each fifth page boundary of the heap.
        int k = 0;
        for (uint64_t off = fmrt::kHeapStart; off < base.bytes.size(); off += 5 * kPageSize, ++k) {
            Bytes b = base.bytes;
            c.rng().fill(&b[off], kPageSize);
            const Span *s = base.span_of(off);
            const bool header = s && s->off == off;
            const bool run_meta = s && s->h.kind == SpanKind::kRun && off == s->off;
            c.add("random-page-" + hex(off), b, header || run_meta ? "eformat" : "any", header ? "damaged" : "any",
                  "one random page at offset " + std::to_string(off));
        }
    }
    {
        // Every byte of the first run's header page set to 0xFF.
        Bytes b = base.bytes;
        std::memset(&b[fmrt::kHeapStart], 0xFF, kPageSize);
        c.add("heap-first-page-ones", b, "eformat", "damaged", "the first heap page all ones");
    }
}

}  // namespace fmrt_corpus
