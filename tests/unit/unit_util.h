// Helpers shared by the unit tests of the internals: temporary directories,
// readable status checks, and an independent walk of a heap file's span
// headers (it uses only format.h, never the allocator under test).
//
// Child processes report through their exit code alone and leave with
// _exit, so no gtest state or parent destructor runs twice.
#ifndef FMRT_UNIT_UTIL_H
#define FMRT_UNIT_UTIL_H

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "error.h"
#include "fmrt.h"
#include "format.h"
#include "heap.h"
#include "region.h"
#include "fmrt_test_common.h"

namespace fmrt_unit {

using fmrt_test::KiB;
using fmrt_test::MiB;
using fmrt_test::status_name;

// Compares status codes by name, so a failure reads "FMRT_EBUSY" vs
// "FMRT_OK", with the library's detail message; takes `<< more` text.
inline ::testing::AssertionResult status_eq(const char *expr, const char *, int got, int want) {
    if (got == want) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << expr << " returned " << status_name(got) << ", want "
                                         << status_name(want) << " (detail: " << ::fmrt::error_message()
                                         << ")";
}
#define EXPECT_STATUS(expr, code) EXPECT_PRED_FORMAT2(::fmrt_unit::status_eq, expr, code)
#define ASSERT_STATUS(expr, code) ASSERT_PRED_FORMAT2(::fmrt_unit::status_eq, expr, code)

// A fresh directory under $TMPDIR (or /tmp, or `base`), removed with its
// contents.
class TempDir {
public:
    explicit TempDir(const char *base = nullptr) {
        const char *t = base ? base : std::getenv("TMPDIR");
        std::string templ = std::string((t && *t) ? t : "/tmp") + "/fmrt-unit-XXXXXX";
        if (::mkdtemp(templ.data()) == nullptr) std::abort();
        path_ = templ;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;

    const std::string &path() const { return path_; }
    std::string file(const std::string &name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

// A memory-backed directory (tmpfs) when there is one: tests that sync
// often (every runtime close does) use it so the disk does not pace them.
inline const char *memory_dir() {
    struct stat st;
    if (::stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && ::access("/dev/shm", W_OK) == 0) return "/dev/shm";
    return nullptr;
}

inline std::vector<uint8_t> read_file(const std::string &path) {
    std::vector<uint8_t> bytes;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return bytes;
    struct stat st;
    if (::fstat(fd, &st) == 0) {
        bytes.resize(static_cast<size_t>(st.st_size));
        size_t done = 0;
        while (done < bytes.size()) {
            ssize_t n = ::pread(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
            if (n <= 0) break;
            done += static_cast<size_t>(n);
        }
        bytes.resize(done);
    }
    ::close(fd);
    return bytes;
}

inline bool write_file(const std::string &path, const std::vector<uint8_t> &bytes) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return false;
    size_t done = 0;
    while (done < bytes.size()) {
        ssize_t n = ::pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
        if (n <= 0) break;
        done += static_cast<size_t>(n);
    }
    ::close(fd);
    return done == bytes.size();
}

// Overwrites `len` bytes at `off` of a closed file.
inline bool patch_file(const std::string &path, uint64_t off, const void *buf, size_t len) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    ssize_t n = ::pwrite(fd, buf, len, static_cast<off_t>(off));
    ::close(fd);
    return n == static_cast<ssize_t>(len);
}

// Opens (or creates) a read-write region on `path`.
inline int open_region(std::unique_ptr<fmrt::Region> *out, const std::string &path,
                       uint64_t initial_size = MiB, uint64_t max_size = 64 * MiB, bool create = true) {
    fmrt::RegionParams p;
    p.path = path;
    p.create = create;
    p.initial_size = initial_size;
    p.max_size = max_size;
    return fmrt::Region::open(out, p);
}

// One span found by walking the headers.
struct WalkedSpan {
    uint64_t off;
    fmrt::SpanHeader h;
    uint64_t end() const { return off + uint64_t{h.pages} * fmrt::kPageSize; }
};

// The result of walking [heap_start, heap_end) of a mapped region.
struct Walk {
    std::vector<WalkedSpan> spans;
    bool reached_end = false;  // the last span ends exactly at heap_end
    std::string error;         // why the walk stopped early
    uint64_t free_bytes = 0;
    uint64_t largest_free = 0;
    uint64_t free_spans = 0;
    bool adjacent_free = false;  // two free spans next to each other
};

inline Walk walk_heap(const uint8_t *base, uint64_t heap_start, uint64_t heap_end) {
    Walk w;
    uint64_t off = heap_start;
    bool prev_free = false;
    while (off < heap_end) {
        uint64_t word;
        std::memcpy(&word, base + off, sizeof word);
        fmrt::SpanHeader h;
        if (!fmrt::decode_span(off, word, &h)) {
            w.error = "undecodable header at offset " + std::to_string(off);
            return w;
        }
        WalkedSpan s{off, h};
        if (s.end() > heap_end) {
            w.error = "span at " + std::to_string(off) + " runs past heap_end";
            return w;
        }
        if (h.kind == fmrt::SpanKind::kFree) {
            uint64_t bytes = uint64_t{h.pages} * fmrt::kPageSize;
            w.free_bytes += bytes;
            if (bytes > w.largest_free) w.largest_free = bytes;
            w.free_spans++;
            if (prev_free) w.adjacent_free = true;
            prev_free = true;
        } else {
            prev_free = false;
        }
        w.spans.push_back(s);
        off = s.end();
    }
    w.reached_end = off == heap_end;
    if (!w.reached_end && w.error.empty()) w.error = "walk overshot heap_end";
    return w;
}

inline Walk walk_region(const fmrt::Region &r) { return walk_heap(r.base(), r.heap_start(), r.heap_end()); }

// Takes up to `n` slots of class `cls` the way a cache refills, in batches
// of at most kMaxTake; returns their addresses (fewer when the heap is full).
inline std::vector<void *> take_n(fmrt::Heap &h, fmrt::Region &r, uint32_t cls, uint32_t n) {
    std::vector<uint64_t> offs(n);
    uint32_t count = 0;
    while (count < n) {
        uint32_t want = std::min<uint32_t>(n - count, fmrt::kMaxTake);
        if (h.take_slots(cls, want, offs.data(), &count) == 0) break;
    }
    std::vector<void *> v;
    for (uint32_t i = 0; i < count; ++i) v.push_back(r.ptr(offs[i]));
    return v;
}

// Returns slots taken with take_n.
inline void give_back_n(fmrt::Heap &h, fmrt::Region &r, uint32_t cls, const std::vector<void *> &v) {
    std::vector<uint64_t> offs;
    for (void *p : v) offs.push_back(r.offset(p));
    if (!offs.empty()) h.return_slots(cls, offs.data(), static_cast<uint32_t>(offs.size()), nullptr);
}

// True when every byte of [p, p+len) is zero.
inline bool all_zero(const void *p, size_t len) {
    auto *b = static_cast<const uint8_t *>(p);
    for (size_t i = 0; i < len; ++i) {
        if (b[i] != 0) return false;
    }
    return true;
}

// Waits for a child; returns its exit code, or 128+signal.
inline int wait_child(pid_t pid) {
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) return -1;
    }
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return -1;
}

// An integer from the environment, or `dflt`.
inline long env_long(const char *name, long dflt) {
    const char *v = std::getenv(name);
    if (v == nullptr || *v == '\0') return dflt;
    return std::strtol(v, nullptr, 10);
}

}  // namespace fmrt_unit

#endif  // FMRT_UNIT_UTIL_H
