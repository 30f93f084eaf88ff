// libFuzzer target: the input is a heap file.  It goes through
// fmrt_verify_path, a read-only open (fmrt_runtime_verify, a walk of the
// catalog reading every name, metadata byte and named allocation, stats),
// a read-write open of a copy, and fmrt_repair_path on another copy followed
// by an open and a verify.  The promises of fmrt.h are checked on the way,
// and a broken one is __builtin_trap(), which libFuzzer reports as a crash:
//   - every call returns 0 or a typed error (never crashes, hangs or leaks);
//   - verify, a dry-run repair and a read-only open never change the file's
//     bytes; nor does a refused read-write open (the corpus test checks the
//     mtime too);
//   - a file that fmrt_repair_path repaired opens and verifies clean.
//
// Checksums stop most mutated inputs at the first check, so each input runs
// twice: as it is, and "resealed" (superblock checksums, the span checks
// along the walk, the catalog table check and the record checksums
// recomputed, with format.h), so that mutations reach what lies behind the
// checks.  With FMRT_FUZZ_SAVE_RESEALED=DIR set, the resealed form of each
// input is written to DIR: a finding that needs it becomes a plain file for
// tests/corpus/regressions/, which the corpus test replays.
#include <fmrt.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "format.h"

namespace {

using Bytes = std::string;

std::string g_dir;  // this process's scratch directory, in /dev/shm when possible
std::string g_in, g_rw, g_fix;

[[noreturn]] void broken(const char *promise, const char *file, int rc, uint64_t n) {
    std::fprintf(stderr,
                 "\nfuzz_open_verify: broken promise: %s\n  file %s, status %d, count %llu, last error message \"%s\"\n",
                 promise, file, rc, static_cast<unsigned long long>(n), fmrt_error_message());
    __builtin_trap();
}

void write_all(const std::string &path, const Bytes &b) {
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) std::abort();
    size_t done = 0;
    while (done < b.size()) {
        ssize_t n = write(fd, b.data() + done, b.size() - done);
        if (n <= 0) std::abort();
        done += static_cast<size_t>(n);
    }
    close(fd);
}

bool same_content(const std::string &path, const Bytes &b) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    struct stat st;
    bool same = fstat(fd, &st) == 0 && static_cast<uint64_t>(st.st_size) == b.size();
    Bytes got(b.size(), '\0');
    size_t done = 0;
    while (same && done < b.size()) {
        ssize_t n = pread(fd, &got[done], b.size() - done, static_cast<off_t>(done));
        if (n <= 0) same = false;
        else done += static_cast<size_t>(n);
    }
    close(fd);
    return same && got == b;
}

bool typed(int rc) { return rc == FMRT_OK || rc == FMRT_EFORMAT || rc == FMRT_EVERSION; }
// An open or a repair may also find the file's max_size beyond any address space.
bool typed_open(int rc) { return typed(rc) || rc == FMRT_ENOMEM; }

// Reads everything an application could reach through the catalog.
void walk_catalog(fmrt_runtime *rt) {
    fmrt_entry e = FMRT_ENTRY_INIT;
    std::string after;
    volatile unsigned sink = 0;
    for (int n = 0; n < 100000 && fmrt_catalog_next(&e, rt, n ? after.c_str() : nullptr) == FMRT_OK; ++n) {
        after.assign(e.name, e.name_len);
        if (e.name[e.name_len] != '\0') broken("catalog names are NUL-terminated", "", 0, e.name_len);
        for (size_t i = 0; i < e.meta_len; ++i) sink = sink + static_cast<const unsigned char *>(e.meta)[i];
        if (e.ptr != nullptr && e.size > 0) {
            sink = sink + static_cast<const unsigned char *>(e.ptr)[0];
            sink = sink + static_cast<const unsigned char *>(e.ptr)[e.size - 1];
        }
        fmrt_entry g = FMRT_ENTRY_INIT;
        if (fmrt_catalog_get(&g, rt, after.c_str()) != FMRT_OK) broken("an iterated name can be looked up", "", 0, 0);
    }
    uint64_t count = 0;
    (void)fmrt_catalog_count(&count, rt);
}

void look(fmrt_runtime *rt, const char *file) {
    fmrt_report rep = FMRT_REPORT_INIT;
    if (fmrt_runtime_verify(&rep, rt) != FMRT_OK) broken("fmrt_runtime_verify runs on an open runtime", file, 0, 0);
    walk_catalog(rt);
    fmrt_stats s = FMRT_STATS_INIT;
    if (fmrt_runtime_stats(&s, rt) != FMRT_OK) broken("fmrt_runtime_stats works on an open runtime", file, 0, 0);
}

void run_file(const Bytes &b) {
    fmrt_report rep = FMRT_REPORT_INIT;
    write_all(g_in, b);

    int rc = fmrt_verify_path(&rep, g_in.c_str());
    if (!typed(rc)) broken("fmrt_verify_path returns 0, EFORMAT or EVERSION", "input", rc, 0);
    if (!same_content(g_in, b)) broken("fmrt_verify_path never writes", "input", rc, 0);

    rep = FMRT_REPORT_INIT;
    rc = fmrt_repair_path(&rep, g_in.c_str(), 0);
    if (!typed(rc)) broken("a dry-run repair returns 0, EFORMAT or EVERSION", "input", rc, 0);
    if (!same_content(g_in, b)) broken("a dry-run repair never writes", "input", rc, 0);

    fmrt_options ro = FMRT_OPTIONS_INIT;
    ro.flags = FMRT_OPEN_READONLY;
    fmrt_runtime *rt = nullptr;
    rc = fmrt_runtime_open(&rt, g_in.c_str(), &ro);
    if (!typed_open(rc)) broken("a read-only open returns 0 or a typed error", "input", rc, 0);
    if (rc == FMRT_OK) {
        look(rt, "input");
        if (fmrt_runtime_close(rt) != FMRT_OK) broken("a read-only close succeeds", "input", rc, 0);
    }
    if (!same_content(g_in, b)) broken("a read-only open never writes", "input", rc, 0);

    write_all(g_rw, b);
    fmrt_options rwo = FMRT_OPTIONS_INIT;
    rwo.flags = 0;
    rc = fmrt_runtime_open(&rt, g_rw.c_str(), &rwo);
    if (!typed_open(rc)) broken("a read-write open returns 0 or a typed error", "copy", rc, 0);
    if (rc == FMRT_OK) {
        if (fmrt_runtime_close(rt) != FMRT_OK) broken("a read-write close succeeds", "copy", rc, 0);
    } else if (!same_content(g_rw, b)) {
        broken("a refused open leaves the file as it was", "copy", rc, 0);
    }

    write_all(g_fix, b);
    rep = FMRT_REPORT_INIT;
    rc = fmrt_repair_path(&rep, g_fix.c_str(), FMRT_REPAIR_APPLY);
    if (!typed_open(rc)) broken("fmrt_repair_path returns 0 or a typed error", "repaired copy", rc, 0);
    if (rc != FMRT_OK) return;
    rc = fmrt_runtime_open(&rt, g_fix.c_str(), &rwo);
    if (rc != FMRT_OK) broken("a repaired file opens", "repaired copy", rc, 0);
    rep = FMRT_REPORT_INIT;
    if (fmrt_runtime_verify(&rep, rt) != FMRT_OK || rep.problems != 0) {
        std::fprintf(stderr, "first problem (offset %llu): %s\n", static_cast<unsigned long long>(rep.first[0].offset),
                     rep.first[0].what);
        broken("a repaired file verifies with 0 problems (fmrt_runtime_verify)", "repaired copy", 0, rep.problems);
    }
    walk_catalog(rt);
    if (fmrt_runtime_close(rt) != FMRT_OK) broken("a read-write close succeeds", "repaired copy", rc, 0);
    rep = FMRT_REPORT_INIT;
    rc = fmrt_verify_path(&rep, g_fix.c_str());
    if (rc != FMRT_OK || rep.problems != 0) {
        std::fprintf(stderr, "first problem (offset %llu): %s\n", static_cast<unsigned long long>(rep.first[0].offset),
                     rep.first[0].what);
        broken("a repaired and closed file verifies with 0 problems (fmrt_verify_path)", "repaired copy", rc,
               rep.problems);
    }
}

// ---- Resealing -------------------------------------------------------------------

uint64_t get64(const Bytes &b, uint64_t off) {
    uint64_t v;
    std::memcpy(&v, b.data() + off, 8);
    return v;
}
void put64(Bytes &b, uint64_t off, uint64_t v) { std::memcpy(&b[off], &v, 8); }

// Recomputes every check a mutation may have broken, following the
// structure as the library would (bounded: every step moves forward).
Bytes reseal(const Bytes &in) {
    Bytes b = in;
    if (b.size() < fmrt::kHeapStart) return b;
    fmrt::Superblock sb[2];
    int best = -1;
    for (int i = 0; i < 2; ++i) {
        std::memcpy(&sb[i], b.data() + i * fmrt::kSuperblockSlotBytes, sizeof sb[i]);
        if (std::memcmp(sb[i].magic, fmrt::kMagic, sizeof fmrt::kMagic) != 0) continue;
        sb[i].checksum = fmrt::superblock_checksum(sb[i]);
        std::memcpy(&b[i * fmrt::kSuperblockSlotBytes], &sb[i], sizeof sb[i]);
        if (fmrt::check_superblock(sb[i]) == FMRT_OK && (best < 0 || sb[i].generation > sb[best].generation)) best = i;
    }
    if (best < 0) return b;
    const uint64_t end = std::min<uint64_t>(sb[best].heap_end, b.size() / fmrt::kPageSize * fmrt::kPageSize);
    for (uint64_t off = fmrt::kHeapStart; off + 8 <= end;) {
        const uint64_t low = get64(b, off) & ((uint64_t{1} << 48) - 1);
        fmrt::SpanHeader h;
        h.pages = static_cast<uint32_t>(low);
        h.kind = static_cast<fmrt::SpanKind>((low >> 32) & 0xF);
        h.size_class = static_cast<uint8_t>(low >> 36);
        h.flags = static_cast<uint8_t>((low >> 44) & 0xF);
        put64(b, off, fmrt::encode_span(off, h));
        if (h.pages == 0 || h.pages > (end - off) / fmrt::kPageSize) break;
        off += uint64_t{h.pages} * fmrt::kPageSize;
    }
    const uint64_t root = sb[best].catalog_root;
    if (root % 8 != 0 || root < fmrt::kHeapStart || root > b.size() || b.size() - root < fmrt::kTableHeaderBytes) {
        return b;
    }
    auto *t = reinterpret_cast<fmrt::CatalogTable *>(&b[root]);
    t->check = fmrt::table_check(t);
    const uint64_t slots = std::min<uint64_t>(t->capacity, (b.size() - root - fmrt::kTableHeaderBytes) / 8);
    for (uint64_t s = 0; s < slots && s < 100000; ++s) {
        const uint64_t off = get64(b, root + fmrt::kTableHeaderBytes + 8 * s);
        if (off % 8 != 0 || off < fmrt::kHeapStart || off > b.size() || b.size() - off < fmrt::kRecordHeaderBytes) {
            continue;
        }
        auto *r = reinterpret_cast<fmrt::CatalogRecord *>(&b[off]);
        if (r->magic != fmrt::kRecordMagic || r->name_len > FMRT_NAME_MAX || r->meta_len > b.size() ||
            fmrt::record_bytes(r->name_len, r->meta_len) > b.size() - off) {
            continue;
        }
        r->checksum = fmrt::record_checksum(r);
    }
    return b;
}

void save_resealed(const Bytes &b) {
    const char *dir = std::getenv("FMRT_FUZZ_SAVE_RESEALED");
    if (dir == nullptr || *dir == '\0') return;
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : b) h = (h ^ c) * 0x100000001b3ull;
    char name[64];
    std::snprintf(name, sizeof name, "/resealed-%016llx", static_cast<unsigned long long>(h));
    write_all(dir + std::string(name), b);
}

void cleanup() {
    unlink(g_in.c_str());
    unlink(g_rw.c_str());
    unlink(g_fix.c_str());
    rmdir(g_dir.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
    const char *tmp = std::getenv("TMPDIR");
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (tmp && *tmp ? tmp : "/tmp");
    std::string tmpl = std::string(base) + "/fmrt-fuzz-XXXXXX";
    if (mkdtemp(&tmpl[0]) == nullptr) std::abort();
    g_dir = tmpl;
    g_in = g_dir + "/input.heap";
    g_rw = g_dir + "/rw.heap";
    g_fix = g_dir + "/repair.heap";
    std::atexit(cleanup);
    return 0;
}

// The calls run on a thread that then ends, so that whatever they leave in
// thread-local state (thread caches) is torn down while this input is the
// one libFuzzer blames.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const Bytes raw(reinterpret_cast<const char *>(data), size);
    std::thread t([&] {
        run_file(raw);
        const Bytes sealed = reseal(raw);
        if (sealed != raw) {
            save_resealed(sealed);
            run_file(sealed);
        }
    });
    t.join();
    return 0;
}
