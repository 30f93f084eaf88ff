// Helpers shared by the API tests: temporary directories, byte patterns,
// whole-file snapshots, child processes and readable status checks.
//
// The API tests include only the public header (fmrt.h) and link only the
// shipped library.  Child processes report through their exit code alone
// (never through gtest, whose state they do not share), and always leave
// with _exit so no parent destructor runs twice.
#ifndef FMRT_TEST_UTIL_H
#define FMRT_TEST_UTIL_H

#include <fmrt.h>
#include <gtest/gtest.h>

#include "fmrt_test_common.h"

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define FMRT_TEST_HAVE_VALGRIND_H 1
#endif

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace fmrt_test {

constexpr uint64_t GiB = 1024 * MiB;

// ---- Status codes ----------------------------------------------------------

#define EXPECT_STATUS(expr, code) EXPECT_TRUE(::fmrt_test::StatusIs((expr), (code))) << #expr
#define ASSERT_STATUS(expr, code) ASSERT_TRUE(::fmrt_test::StatusIs((expr), (code))) << #expr
// After an allocation function returned NULL: the thread's last status.
#define EXPECT_LAST_STATUS(code) EXPECT_TRUE(::fmrt_test::StatusIs(fmrt_last_status(), (code))) << "last status"

// ---- Options and stats -------------------------------------------------------

// The max_size tests create heaps with.  The library's default for a new
// file (256 GiB of address space) is more than valgrind can reserve, so
// only the tests of that default use it, and they skip under valgrind.
constexpr uint64_t kTestMaxSize = 4 * GiB;

inline bool on_valgrind() {
#ifdef FMRT_TEST_HAVE_VALGRIND_H
    return RUNNING_ON_VALGRIND != 0;
#else
    return false;
#endif
}

// Options for a test heap.  max_size 0 means the value stored in the file
// (for opening existing heaps) or the library's default (for new ones).
inline fmrt_options make_options(uint64_t initial_size = 0, uint64_t max_size = kTestMaxSize,
                                 unsigned flags = FMRT_OPEN_CREATE,
                                 fmrt_mode mode = FMRT_MODE_PERSISTENT) {
    fmrt_options o = FMRT_OPTIONS_INIT;
    o.initial_size = initial_size;
    o.max_size = max_size;
    o.flags = flags;
    o.mode = mode;
    return o;
}

inline fmrt_options readonly_options() { return make_options(0, 0, FMRT_OPEN_READONLY); }

inline fmrt_stats stats_of(fmrt_runtime *rt) {
    fmrt_stats s = FMRT_STATS_INIT;
    int rc = fmrt_runtime_stats(&s, rt);
    EXPECT_EQ(status_name(rc), status_name(FMRT_OK)) << "fmrt_runtime_stats: " << fmrt_error_message();
    return s;
}

// ---- Byte patterns -------------------------------------------------------------

// "" when p[0, n) holds the pattern of seed, else a description.
inline std::string pattern_error(const void *p, size_t n, uint64_t seed) {
    if (p == nullptr) return "pointer is NULL";
    size_t i = pattern_mismatch(p, n, seed);
    if (i == n) return "";
    uint64_t w = pattern_word(seed, i / 8);
    char buf[160];
    std::snprintf(buf, sizeof buf, "byte %zu of %zu differs: expected 0x%02x, found 0x%02x", i, n,
                  static_cast<unsigned>(static_cast<unsigned char>(w >> (8 * (i % 8)))),
                  static_cast<unsigned>(static_cast<const unsigned char *>(p)[i]));
    return buf;
}

inline ::testing::AssertionResult HasPattern(const void *p, size_t n, uint64_t seed) {
    std::string e = pattern_error(p, n, seed);
    if (e.empty()) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << e;
}

inline ::testing::AssertionResult IsZero(const void *p, size_t n) {
    const unsigned char *b = static_cast<const unsigned char *>(p);
    for (size_t i = 0; i < n; ++i)
        if (b[i] != 0)
            return ::testing::AssertionFailure() << "byte " << i << " of " << n << " is "
                                                 << static_cast<unsigned>(b[i]);
    return ::testing::AssertionSuccess();
}

inline ::testing::AssertionResult IsAligned(const void *p, size_t alignment) {
    if (reinterpret_cast<uintptr_t>(p) % alignment == 0) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << p << " is not aligned to " << alignment;
}

// The seed of a randomized test: FMRT_TEST_SEED when set, else `fallback`.
inline uint64_t test_seed(uint64_t fallback) {
    const char *env = std::getenv("FMRT_TEST_SEED");
    if (env != nullptr && *env != '\0') return std::strtoull(env, nullptr, 0);
    return fallback;
}

// ---- Files and directories -------------------------------------------------------

// A fresh directory from mkdtemp under $TMPDIR (or /tmp), removed with
// everything in it at destruction.
class TempDir {
public:
    TempDir() {
        const char *base = std::getenv("TMPDIR");
        if (base == nullptr || *base == '\0') base = "/tmp";
        std::string tmpl = std::string(base) + "/fmrt-api-XXXXXX";
        std::vector<char> buf(tmpl.begin(), tmpl.end());
        buf.push_back('\0');
        if (mkdtemp(buf.data()) == nullptr)
            throw std::runtime_error("mkdtemp " + tmpl + ": " + std::strerror(errno));
        path_ = buf.data();
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;

    const std::string &path() const { return path_; }
    std::string file(const std::string &name) const { return path_ + "/" + name; }

    // Names in the directory (not "." or "..").
    std::vector<std::string> entries() const { return list_directory(path_); }

    static std::vector<std::string> list_directory(const std::string &dir) {
        std::vector<std::string> names;
        std::error_code ec;
        for (const auto &e : std::filesystem::directory_iterator(dir, ec))
            names.push_back(e.path().filename().string());
        return names;
    }

private:
    std::string path_;
};

inline uint64_t file_size_on_disk(const std::string &path) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return UINT64_MAX;
    return static_cast<uint64_t>(st.st_size);
}

inline uint64_t hash_bytes(const std::string &bytes) {  // FNV-1a
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ull;
    return h;
}

// Everything a refused open must leave alone: content, size, mtime, inode.
struct FileSnapshot {
    std::string bytes;
    uint64_t hash = 0;
    off_t size = 0;
    struct timespec mtime = {};
    ino_t inode = 0;
    mode_t mode = 0;

    static FileSnapshot of(const std::string &path) {
        FileSnapshot s;
        struct stat st;
        if (stat(path.c_str(), &st) != 0) throw std::runtime_error("stat " + path + ": " + std::strerror(errno));
        s.bytes = read_file(path);
        s.hash = hash_bytes(s.bytes);
        s.size = st.st_size;
        s.mtime = st.st_mtim;
        s.inode = st.st_ino;
        s.mode = st.st_mode;
        return s;
    }
};

inline ::testing::AssertionResult Unchanged(const FileSnapshot &before, const std::string &path) {
    FileSnapshot after = FileSnapshot::of(path);
    if (after.size != before.size)
        return ::testing::AssertionFailure() << path << ": size changed from " << before.size << " to " << after.size;
    if (after.bytes != before.bytes) {
        size_t i = 0;
        while (i < before.bytes.size() && before.bytes[i] == after.bytes[i]) ++i;
        return ::testing::AssertionFailure() << path << ": content changed (first difference at byte " << i
                                             << ", hash " << before.hash << " -> " << after.hash << ")";
    }
    if (after.mtime.tv_sec != before.mtime.tv_sec || after.mtime.tv_nsec != before.mtime.tv_nsec)
        return ::testing::AssertionFailure() << path << ": mtime changed";
    if (after.inode != before.inode) return ::testing::AssertionFailure() << path << ": replaced (inode changed)";
    if (after.mode != before.mode) return ::testing::AssertionFailure() << path << ": mode changed";
    return ::testing::AssertionSuccess();
}

// Side files: a few numbers (root offsets, seeds) kept outside the heap.
inline void write_numbers(const std::string &path, const std::vector<uint64_t> &v) {
    std::string s;
    for (uint64_t x : v) s += std::to_string(x) + "\n";
    write_file(path, s);
}

inline std::vector<uint64_t> read_numbers(const std::string &path) {
    std::vector<uint64_t> v;
    std::string s = read_file(path);
    size_t pos = 0;
    while (pos < s.size()) {
        size_t end = s.find('\n', pos);
        if (end == std::string::npos) end = s.size();
        if (end > pos) v.push_back(std::strtoull(s.substr(pos, end - pos).c_str(), nullptr, 10));
        pos = end + 1;
    }
    return v;
}

inline uint64_t free_disk_bytes(const std::string &dir) {
    struct statvfs vfs;
    if (statvfs(dir.c_str(), &vfs) != 0) return 0;
    return static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
}

// ---- Child processes ------------------------------------------------------------

struct ChildStatus {
    bool exited = false;  // normal exit (code valid)
    int code = -1;        // exit code
    int signal = 0;       // terminating signal when !exited
};

inline std::ostream &operator<<(std::ostream &os, const ChildStatus &s) {
    if (s.exited) return os << "exited with code " << s.code;
    return os << "killed by signal " << s.signal << " (" << strsignal(s.signal) << ")";
}

inline ChildStatus wait_child(pid_t pid) {
    ChildStatus st;
    int status = 0;
    pid_t r;
    do {
        r = waitpid(pid, &status, 0);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        st.code = -errno;
        return st;
    }
    if (WIFEXITED(status)) {
        st.exited = true;
        st.code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        st.signal = WTERMSIG(status);
    }
    return st;
}

// start_child, then wait for it: how it ended.
inline ChildStatus run_in_child(const std::function<int()> &body) {
    pid_t pid = start_child(body);
    if (pid < 0) {
        ChildStatus st;
        st.code = -errno;
        return st;
    }
    return wait_child(pid);
}

// In a child: prints why and returns `code` (to be the exit code).
inline int child_fail(int code, const std::string &why) {
    std::fprintf(stderr, "child check %d failed: %s\n", code, why.c_str());
    return code;
}

inline ::testing::AssertionResult ExitedWith(const ChildStatus &st, int code) {
    if (st.exited && st.code == code) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "child " << st << ", expected exit code " << code;
}

// A status code as an exit code (0..255) and back: children report the
// result of an fmrt call as -rc.
inline int status_to_exit(int rc) { return rc <= 0 && rc > -100 ? -rc : 100; }
inline int exit_to_status(const ChildStatus &st) { return st.exited && st.code < 100 ? -st.code : 1000; }

// The probe program (tests/api/probe.cc): a fresh process (fork + exec) that
// shares no state with the test binary.  Its path comes from FMRT_PROBE.
inline std::string probe_path() {
    const char *p = std::getenv("FMRT_PROBE");
    return p != nullptr ? p : "";
}

// Starts `argv` with its stdout on a pipe; *out_fd receives the read end.
inline pid_t spawn_program(const std::vector<std::string> &argv, int *out_fd) {
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) return -1;
    std::fflush(stdout);
    std::fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(pipefd[1], STDOUT_FILENO);
        std::vector<char *> args;
        for (const auto &a : argv) args.push_back(const_cast<char *>(a.c_str()));
        args.push_back(nullptr);
        execv(args[0], args.data());
        std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
        _exit(127);
    }
    close(pipefd[1]);
    *out_fd = pipefd[0];
    return pid;
}

// Reads one line (without '\n') from fd; "" at end of file.
inline std::string read_line(int fd) {
    std::string line;
    char c;
    for (;;) {
        ssize_t n = read(fd, &c, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0 || c == '\n') break;
        line += c;
    }
    return line;
}

// Runs `argv` to completion; its stdout is returned in *out (when given).
inline ChildStatus run_program(const std::vector<std::string> &argv, std::string *out = nullptr) {
    int fd = -1;
    pid_t pid = spawn_program(argv, &fd);
    if (pid < 0) return ChildStatus{};
    std::string text;
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        text.append(buf, static_cast<size_t>(n));
    }
    close(fd);
    if (out != nullptr) *out = text;
    return wait_child(pid);
}

}  // namespace fmrt_test

#endif  // FMRT_TEST_UTIL_H
