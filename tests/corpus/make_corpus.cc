// make_corpus: writes the hostile-file corpus.  It builds a small realistic
// heap through the public API (small and large allocations, a catalog with
// metadata, a rename, transient leftovers, free spans), then writes hundreds
// of damaged variants of it, each crafted with the exact structs and
// checksums of format.h, and a manifest saying what each variant is and what
// open and verify are expected to answer.
//
// usage: make_corpus [--small] [--seed N] [--stamp FILE] OUTDIR
//   --small  a smaller base heap and fewer variants (the fuzzer's seeds)
//   --stamp  touched when done (a build system's output)
// The files an earlier run listed in OUTDIR/MANIFEST.tsv are removed first.
//
// MANIFEST.tsv has one line per file: name, open expectation, verify
// expectation, description.  Open expectations: ok, eformat, eversion,
// refuse (either of those two), any (ok or a refusal), any+enomem (also
// FMRT_ENOMEM, for a max_size no address space can hold).  Verify
// expectations: clean (0 problems), damaged (problems, or a refusal),
// eformat, eversion, any.  "any" marks damage whose effect depends on
// what the lost structure held; the corpus test still checks that nothing
// crashes, hangs or writes.
#include <fmrt.h>

#include <filesystem>
#include <string>

#include "corpus.h"

using namespace fmrt_corpus;

namespace {

// Removes the files an earlier run listed in `dir`'s manifest (and only
// those), so a regenerated corpus holds no stale variant.
void remove_previous(const std::string &dir) {
    FILE *f = std::fopen((dir + "/MANIFEST.tsv").c_str(), "rb");
    if (f == nullptr) return;
    char line[4096];
    while (std::fgets(line, sizeof line, f) != nullptr) {
        char *tab = std::strchr(line, '\t');
        if (tab == nullptr || tab == line) continue;
        *tab = '\0';
        if (std::strchr(line, '/') != nullptr) continue;
        std::remove((dir + "/" + line).c_str());
    }
    std::fclose(f);
    std::remove((dir + "/MANIFEST.tsv").c_str());
}

}  // namespace

const char *const kUsage = "usage: make_corpus [--small] [--seed N] [--stamp FILE] OUTDIR";

int main(int argc, char **argv) {
    Profile prof;
    uint64_t seed = 20240601;
    std::string out, stamp;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--small") prof.small = true;
        else if (a == "--seed" && i + 1 < argc) seed = std::strtoull(argv[++i], nullptr, 0);
        else if (a == "--stamp" && i + 1 < argc) stamp = argv[++i];
        else if (!a.empty() && a[0] == '-') die("unknown option " + a + " (" + kUsage + ")");
        else out = a;
    }
    if (out.empty()) die(kUsage);
    prof.initial_size = prof.small ? 160 * 1024 : 640 * 1024;
    std::error_code ec;
    std::filesystem::create_directories(out, ec);
    if (ec) die("create " + out + ": " + ec.message());
    remove_previous(out);
    // The base heap is built in the output directory, read, and removed.
    // It should fill its initial size without growing (a growth adds a
    // megabyte of free tail to every variant): start small and retry larger.
    const std::string base_path = out + "/.base.heap";
    for (int tries = 0;; ++tries) {
        std::filesystem::remove(base_path, ec);
        build_base(base_path, prof);
        if (std::filesystem::file_size(base_path, ec) <= prof.initial_size) break;
        if (tries == 32) die("the base heap keeps growing past its initial size");
        prof.initial_size += 32 * 1024;
    }
    Bytes bytes;
    {
        FILE *f = std::fopen(base_path.c_str(), "rb");
        if (f == nullptr) die("read back the base heap");
        char buf[65536];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) bytes.append(buf, n);
        std::fclose(f);
    }
    std::filesystem::remove(base_path, ec);
    const Image base = parse(bytes);

    Corpus c(out, base, seed);
    c.add("base", bytes, "ok", "clean", "the valid base heap");
    add_sizes(c, prof.small);
    add_superblock_fields(c);
    add_superblock_cases(c);
    add_spans(c, prof.small);
    add_runs(c);
    add_catalog(c);
    add_random(c);
    c.finish();
    if (!stamp.empty()) {
        FILE *f = std::fopen(stamp.c_str(), "wb");
        if (f == nullptr || std::fclose(f) != 0) die("write the stamp " + stamp);
    }
    std::printf("make_corpus: %zu files of up to %zu bytes in %s (%zu spans, %zu catalog records)\n", c.count(),
                bytes.size(), out.c_str(), base.spans.size(), base.records.size());
    return 0;
}
