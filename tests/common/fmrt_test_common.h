// Helpers common to the test helper headers of tests/api (test_util.h),
// tests/unit (unit_util.h) and tests/integrity (integrity_util.h): sizes,
// readable status checks, byte patterns, a seeded generator, whole-file
// reads and writes, and forked children.
//
// Only the public C API (fmrt.h), gtest and the standard library are used:
// the API suites link only the shipped library, the unit suites only the
// internal one, and both include this file.  Children leave with _exit, so
// no gtest state or parent destructor runs twice.
#ifndef FMRT_TEST_COMMON_H
#define FMRT_TEST_COMMON_H

#include <fmrt.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>

namespace fmrt_test {

constexpr uint64_t KiB = 1024;
constexpr uint64_t MiB = 1024 * KiB;

// ---- Status codes ----------------------------------------------------------

inline std::string status_name(int code) {
    switch (code) {
    case FMRT_OK: return "FMRT_OK";
    case FMRT_EINVAL: return "FMRT_EINVAL";
    case FMRT_ENOMEM: return "FMRT_ENOMEM";
    case FMRT_EIO: return "FMRT_EIO";
    case FMRT_EFORMAT: return "FMRT_EFORMAT";
    case FMRT_EVERSION: return "FMRT_EVERSION";
    case FMRT_EBUSY: return "FMRT_EBUSY";
    case FMRT_EREADONLY: return "FMRT_EREADONLY";
    case FMRT_ENOTFOUND: return "FMRT_ENOTFOUND";
    case FMRT_EEXISTS: return "FMRT_EEXISTS";
    case FMRT_EINTERNAL: return "FMRT_EINTERNAL";
    default: return "status " + std::to_string(code);
    }
}

// Compares status codes by name, so a failure reads "got FMRT_EBUSY,
// expected FMRT_OK", with the library's detail message.  The call is made
// before StatusIs runs, so the detail is that call's.
inline ::testing::AssertionResult StatusIs(int rc, int code) {
    if (rc == code) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "got " << status_name(rc) << ", expected " << status_name(code)
                                         << " (detail: \"" << fmrt_error_message() << "\")";
}

#define EXPECT_FMRT_OK(expr) EXPECT_TRUE(::fmrt_test::StatusIs((expr), FMRT_OK)) << #expr
#define ASSERT_FMRT_OK(expr) ASSERT_TRUE(::fmrt_test::StatusIs((expr), FMRT_OK)) << #expr

// ---- Generator and byte patterns -------------------------------------------------

inline uint64_t mix64(uint64_t x) {  // splitmix64 finaliser
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

// A small deterministic generator (xorshift64*), so runs repeat by seed.
class Rng {
public:
    explicit Rng(uint64_t seed) : s_(mix64(seed) | 1) {}
    uint64_t next() {
        s_ ^= s_ >> 12;
        s_ ^= s_ << 25;
        s_ ^= s_ >> 27;
        return s_ * 0x2545F4914F6CDD1Dull;
    }
    uint64_t below(uint64_t n) { return n == 0 ? 0 : next() % n; }
    uint64_t between(uint64_t lo, uint64_t hi) { return lo + below(hi - lo + 1); }  // inclusive
    bool chance(double p) { return (next() >> 11) * (1.0 / 9007199254740992.0) < p; }

private:
    uint64_t s_;
};

// Byte i of the pattern of `seed` depends on (seed, i / 8) only, so a prefix
// of a pattern is the pattern of the prefix (what realloc must preserve).
inline uint64_t pattern_word(uint64_t seed, uint64_t k) { return mix64(seed * 0xD6E8FEB86659FD93ull + k); }

inline void fill_pattern(void *p, size_t n, uint64_t seed) {
    auto *b = static_cast<unsigned char *>(p);
    size_t i = 0;
    uint64_t k = 0;
    for (; i + 8 <= n; i += 8, ++k) {
        uint64_t w = pattern_word(seed, k);
        std::memcpy(b + i, &w, 8);
    }
    if (i < n) {
        uint64_t w = pattern_word(seed, k);
        std::memcpy(b + i, &w, n - i);
    }
}

// Index of the first byte of p[0, n) that differs from the pattern, or n.
inline size_t pattern_mismatch(const void *p, size_t n, uint64_t seed) {
    const auto *b = static_cast<const unsigned char *>(p);
    size_t i = 0;
    uint64_t k = 0;
    for (; i + 8 <= n; i += 8, ++k) {
        uint64_t w = pattern_word(seed, k);
        if (std::memcmp(b + i, &w, 8) != 0) break;
    }
    for (; i < n; ++i) {
        uint64_t w = pattern_word(seed, i / 8);
        if (b[i] != static_cast<unsigned char>(w >> (8 * (i % 8)))) return i;
    }
    return n;
}

// ---- Files ---------------------------------------------------------------------

inline bool path_exists(const std::string &path) {
    struct stat st;
    return lstat(path.c_str(), &st) == 0;
}

// The whole file; throws on failure.
inline std::string read_file(const std::string &path) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("open " + path + ": " + std::strerror(errno));
    std::string out;
    struct stat st;
    if (fstat(fd, &st) == 0) out.reserve(static_cast<size_t>(st.st_size));
    char buf[1 << 16];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            close(fd);
            throw std::runtime_error("read " + path + ": " + std::strerror(errno));
        }
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    close(fd);
    return out;
}

// Replaces the file's content; throws on failure.
inline void write_file(const std::string &path, const std::string &bytes) {
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error("create " + path + ": " + std::strerror(errno));
    size_t done = 0;
    while (done < bytes.size()) {
        ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            close(fd);
            throw std::runtime_error("write " + path + ": " + std::strerror(errno));
        }
        done += static_cast<size_t>(n);
    }
    close(fd);
}

// ---- Child processes ----------------------------------------------------------

// Forks; the child runs `body` and leaves with _exit(its return value)
// (121 for an exception).  Returns the child's pid (-1 if fork failed).
inline pid_t start_child(const std::function<int()> &body) {
    std::fflush(stdout);
    std::fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        int code = 121;
        try {
            code = body();
        } catch (const std::exception &e) {
            std::fprintf(stderr, "child: exception: %s\n", e.what());
        } catch (...) {
            std::fprintf(stderr, "child: unknown exception\n");
        }
        std::fflush(stdout);
        std::fflush(stderr);
        _exit(code);
    }
    return pid;
}

}  // namespace fmrt_test

#endif  // FMRT_TEST_COMMON_H
