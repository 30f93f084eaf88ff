// The base heap of the corpus: built through the public API only (small and
// large allocations, a catalog with metadata, a rename, a replaced entry,
// transient leftovers, frees), then read back with format.h so the variants
// know where every structure lies.
#include <fmrt.h>

#include "corpus.h"

namespace fmrt_corpus {
namespace {

void check(int rc, const char *what) {
    if (rc != FMRT_OK) die(std::string(what) + ": " + fmrt_error_message());
}
void *must(void *p, const char *what) {
    if (p == nullptr) die(std::string(what) + ": " + fmrt_error_message());
    return p;
}

}  // namespace

// Builds the base heap in `path` through the public API only.
void build_base(const std::string &path, const Profile &prof) {
    fmrt_options o = FMRT_OPTIONS_INIT;
    o.initial_size = prof.initial_size;
    o.max_size = 64ull << 20;
    fmrt_runtime *rt = nullptr;
    check(fmrt_runtime_open(&rt, path.c_str(), &o), "create the base heap");
    std::vector<void *> small;
    // Small sizes share classes with the records, so the heap stays small:
    // the full profile uses four run classes, the small profile one.
    const std::vector<size_t> sizes = prof.small ? std::vector<size_t>{600} : std::vector<size_t>{24, 100, 700, 20};
    const int nsmall = prof.small ? 10 : 40;
    for (int i = 0; i < nsmall; ++i) {
        size_t n = sizes[static_cast<size_t>(i) % sizes.size()];
        void *p = must(fmrt_malloc(rt, n), "malloc");
        std::memset(p, 0x40 + i, n);
        small.push_back(p);
    }
    void *big1 = must(fmrt_malloc(rt, 70 * 1024), "malloc large");
    std::memset(big1, 0xB1, 70 * 1024);
    void *big2 = nullptr, *big3 = nullptr;
    if (!prof.small) {
        big2 = must(fmrt_malloc(rt, 100 * 1024), "malloc large");
        std::memset(big2, 0xB2, 100 * 1024);
        big3 = must(fmrt_malloc(rt, 80 * 1024), "malloc large");
        std::memset(big3, 0xB3, 80 * 1024);
    }
    // The catalog: entries with metadata, some without an allocation.
    const int nentries = prof.small ? 8 : 20;
    for (int i = 0; i < nentries; ++i) {
        char name[32], meta[600];
        std::snprintf(name, sizeof name, "entry-%02d", i);
        // Small profile: records of ~600 bytes share the 640-byte class
        // with the table and the allocations.
        size_t meta_len = prof.small ? 500 + static_cast<size_t>(i) * 3 : 24 + static_cast<size_t>(i % 4) * 4;
        for (size_t k = 0; k < meta_len; ++k) meta[k] = static_cast<char>('a' + (i + k) % 26);
        void *p = nullptr;
        uint64_t size = 0;
        if (i % 7 == 3) {
            // no allocation
        } else if (i == 1) {
            p = big1;
            size = 70 * 1024;
        } else if (i == 2 && big2) {
            p = big2;
            size = 100 * 1024 - 5;
        } else {
            p = small[static_cast<size_t>(i)];
            size = sizes[static_cast<size_t>(i) % sizes.size()];
        }
        check(fmrt_catalog_put(rt, name, p, size, 1000 + i, meta, meta_len, 0), "catalog put");
    }
    check(fmrt_catalog_rename(rt, "entry-05", "renamed-05", 0), "catalog rename");
    {
        // Replaced: a new record of the same class, the old one freed.
        std::string meta(prof.small ? 520 : 30, 'r');
        check(fmrt_catalog_put(rt, "entry-06", small[6], 1, 77, meta.data(), meta.size(), FMRT_PUT_REPLACE),
              "catalog replace");
    }
    // Transient leftovers, reclaimed at the next read-write open.
    for (int i = 0; i < 3; ++i) must(fmrt_alloc(rt, sizes[0], 0, FMRT_ALLOC_TRANSIENT), "transient alloc");
    if (!prof.small) must(fmrt_alloc(rt, 66 * 1024, 0, FMRT_ALLOC_TRANSIENT), "transient large");
    // Frees, so free slots and a free span in the middle exist.
    for (size_t i = static_cast<size_t>(nentries); i < small.size(); i += 3) check(fmrt_free(rt, small[i]), "free");
    if (big3) check(fmrt_free(rt, big3), "free large");
    check(fmrt_runtime_close(rt), "close the base heap");
}

Image parse(const Bytes &b) {
    Image img;
    img.bytes = b;
    Superblock s0 = sb_at(b, 0), s1 = sb_at(b, 1);
    bool ok0 = fmrt::check_superblock(s0) == FMRT_OK, ok1 = fmrt::check_superblock(s1) == FMRT_OK;
    if (!ok0 && !ok1) die("base heap has no valid superblock");
    img.in_force = (ok0 && (!ok1 || s0.generation > s1.generation)) ? 0 : 1;
    img.sb = img.in_force == 0 ? s0 : s1;
    if (img.sb.heap_end != b.size()) die("base heap does not end at the end of its file");
    for (uint64_t off = fmrt::kHeapStart; off < img.sb.heap_end;) {
        SpanHeader h;
        if (!fmrt::decode_span(off, get64(b, off), &h)) die("base heap has a damaged span");
        img.spans.push_back({off, h});
        if (h.kind == SpanKind::kLarge) img.allocs[off + kPageSize] = (uint64_t{h.pages} - 1) * kPageSize;
        if (h.kind == SpanKind::kRun) {
            const fmrt::RunLayout &l = fmrt::run_layout(h.size_class);
            for (uint32_t i = 0; i < l.slots; ++i) {
                uint64_t w = get64(b, off + fmrt::kRunBitmapOffset + 16ull * (i / 64));
                if ((w >> (i % 64)) & 1) img.allocs[off + l.data_offset + uint64_t{i} * l.slot_size] = l.slot_size;
            }
        }
        off += uint64_t{h.pages} * kPageSize;
    }
    img.root = img.sb.catalog_root;
    if (img.root == 0 || img.usable_of(img.root) == 0) die("base heap has no catalog table");
    img.table_usable = img.usable_of(img.root);
    img.capacity = get64(b, img.root + 8);
    for (uint64_t s = 0; s < img.capacity; ++s) {
        uint64_t word = img.root + fmrt::kTableHeaderBytes + 8 * s;
        uint64_t off = get64(b, word);
        if (off == 0) continue;
        Record r;
        r.slot = s;
        r.slot_word = word;
        r.off = off;
        r.usable = img.usable_of(off);
        std::memcpy(&r.hdr, b.data() + off, sizeof r.hdr);
        r.name.assign(b.data() + off + sizeof(CatalogRecord), r.hdr.name_len);
        img.records.push_back(r);
    }
    if (img.records.size() < 3) die("base heap catalog is too small");
    return img;
}

}  // namespace fmrt_corpus
