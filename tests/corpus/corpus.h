// The hostile-file corpus generator's shared parts: the bytes of a heap
// file, what the valid base heap holds (its spans, its catalog), and the
// writer that keeps each variant with its manifest line.  make_corpus.cc has
// the program, base_heap.cc builds and reads the base heap, variants.cc
// damages it.
#ifndef FMRT_CORPUS_H
#define FMRT_CORPUS_H

#include <fmrt.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include "format.h"

namespace fmrt_corpus {

using fmrt::CatalogRecord;
using fmrt::CatalogTable;
using fmrt::kPageSize;
using fmrt::SpanHeader;
using fmrt::SpanKind;
using fmrt::Superblock;
using Bytes = std::string;

[[noreturn]] inline void die(const std::string &why) {
    std::fprintf(stderr, "make_corpus: %s\n", why.c_str());
    std::exit(1);
}

// ---- Byte access -----------------------------------------------------------

inline uint64_t get64(const Bytes &b, uint64_t off) {
    uint64_t v = 0;
    if (off + 8 <= b.size()) std::memcpy(&v, b.data() + off, 8);
    return v;
}
inline void put64(Bytes &b, uint64_t off, uint64_t v) { std::memcpy(&b[off], &v, 8); }

inline Superblock sb_at(const Bytes &b, int copy) {
    Superblock sb;
    std::memcpy(&sb, b.data() + copy * fmrt::kSuperblockSlotBytes, sizeof sb);
    return sb;
}
inline void put_sb(Bytes &b, int copy, const Superblock &sb) {
    std::memcpy(&b[copy * fmrt::kSuperblockSlotBytes], &sb, sizeof sb);
}

// A small deterministic generator (xorshift64*), so the corpus repeats.
class Rng {
public:
    explicit Rng(uint64_t seed) : s_(seed * 0x9E3779B97F4A7C15ull | 1) {}
    uint64_t next() {
        s_ ^= s_ >> 12;
        s_ ^= s_ << 25;
        s_ ^= s_ >> 27;
        return s_ * 0x2545F4914F6CDD1Dull;
    }
    uint64_t below(uint64_t n) { return n ? next() % n : 0; }
    void fill(void *p, size_t n) {
        auto *c = static_cast<unsigned char *>(p);
        for (size_t i = 0; i < n; ++i) c[i] = static_cast<unsigned char>(next() >> 32);
    }

private:
    uint64_t s_;
};

inline uint64_t fnv1a(const Bytes &b) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : b) h = (h ^ c) * 0x100000001b3ull;
    return h ^ b.size();
}

// ---- The base heap ---------------------------------------------------------

struct Profile {
    bool small = false;
    uint64_t initial_size = 0;
};

// Builds the base heap in `path` through the public API only.
void build_base(const std::string &path, const Profile &prof);

// ---- What the base file holds ------------------------------------------------

struct Span {
    uint64_t off;
    SpanHeader h;
    uint64_t end() const { return off + uint64_t{h.pages} * kPageSize; }
};

struct Record {
    uint64_t slot;       // index in the table
    uint64_t slot_word;  // file offset of the slot word
    uint64_t off;        // record offset
    uint64_t usable;     // its slot size
    CatalogRecord hdr;
    std::string name;
};

struct Image {
    Bytes bytes;
    int in_force = 0;
    Superblock sb{};
    std::vector<Span> spans;
    std::map<uint64_t, uint64_t> allocs;  // live allocation offset -> usable bytes
    uint64_t root = 0, table_usable = 0, capacity = 0;
    std::vector<Record> records;

    const Span *span_of(uint64_t off) const {
        for (const Span &s : spans)
            if (off >= s.off && off < s.end()) return &s;
        return nullptr;
    }
    uint64_t usable_of(uint64_t off) const {
        auto it = allocs.find(off);
        return it == allocs.end() ? 0 : it->second;
    }
};

// Reads the base heap: its superblock, spans, allocations and catalog.
Image parse(const Bytes &b);

// ---- The corpus --------------------------------------------------------------

class Corpus {
public:
    Corpus(const std::string &dir, const Image &base, uint64_t seed) : dir_(dir), base_(base), rng_(seed) {}

    const Image &base() const { return base_; }
    Rng &rng() { return rng_; }

    // Writes one variant unless an identical file is already in the corpus.
    void add(const std::string &name, const Bytes &bytes, const std::string &open_exp,
             const std::string &verify_exp, const std::string &why) {
        if (!seen_.insert(fnv1a(bytes)).second) return;
        if (!names_.insert(name).second) die("duplicate variant name " + name);
        FILE *f = std::fopen((dir_ + "/" + name).c_str(), "wb");
        if (f == nullptr || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() || std::fclose(f) != 0) {
            die("write " + dir_ + "/" + name + ": " + std::strerror(errno));
        }
        manifest_ += name + "\t" + open_exp + "\t" + verify_exp + "\t" + why + "\n";
        ++count_;
    }

    void finish() {
        FILE *f = std::fopen((dir_ + "/MANIFEST.tsv").c_str(), "wb");
        if (f == nullptr || std::fwrite(manifest_.data(), 1, manifest_.size(), f) != manifest_.size() ||
            std::fclose(f) != 0) {
            die("write the manifest: " + std::string(std::strerror(errno)));
        }
    }
    size_t count() const { return count_; }

private:
    std::string dir_;
    const Image &base_;
    Rng rng_;
    std::unordered_set<uint64_t> seen_;
    std::set<std::string> names_;
    std::string manifest_;
    size_t count_ = 0;
};

inline std::string hex(uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
    return buf;
}

inline void reseal_sb(Bytes &b, int copy) {
    Superblock sb = sb_at(b, copy);
    sb.checksum = fmrt::superblock_checksum(sb);
    put_sb(b, copy, sb);
}

// Re-encodes the span header at `off` with a valid check.
inline void put_span(Bytes &b, uint64_t off, const SpanHeader &h) { put64(b, off, fmrt::encode_span(off, h)); }

// Recomputes a record's checksum when its lengths keep it inside the file.
inline void reseal_record(Bytes &b, uint64_t off) {
    auto *r = reinterpret_cast<CatalogRecord *>(&b[off]);
    if (r->meta_len > b.size() || off + fmrt::record_bytes(r->name_len, r->meta_len) > b.size()) return;
    r->checksum = fmrt::record_checksum(r);
}

// ---- Families of variants (variants.cc) ---------------------------------------

void add_sizes(Corpus &c, bool small);
void add_superblock_fields(Corpus &c);
void add_superblock_cases(Corpus &c);
void add_spans(Corpus &c, bool small);
void add_runs(Corpus &c);
void add_catalog(Corpus &c);
void add_random(Corpus &c);

}  // namespace fmrt_corpus

#endif  // FMRT_CORPUS_H
