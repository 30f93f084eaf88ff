// Helpers shared by the crash-safety suites (torture, faults, power_loss):
// temporary directories (on /dev/shm when it exists, so kills and images
// cost no disk I/O), byte patterns derived from a seed, a seeded generator,
// whole-file reads and writes, child processes with timeouts, and a guard
// that ends a hung test with a readable message.
//
// Only the public header is included, so both the API-level suites (linked
// with the shipped library) and the fault-injection suite (linked with the
// internal library) can use this file.  Children report through pipes or
// their exit code (never through gtest) and always leave with _exit.
#ifndef FMRT_INTEGRITY_UTIL_H
#define FMRT_INTEGRITY_UTIL_H

#include <fmrt.h>
#include <gtest/gtest.h>

#include "fmrt_test_common.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
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

namespace fmrt_integrity {

using fmrt_test::fill_pattern;
using fmrt_test::KiB;
using fmrt_test::MiB;
using fmrt_test::mix64;
using fmrt_test::path_exists;
using fmrt_test::pattern_mismatch;
using fmrt_test::pattern_word;
using fmrt_test::read_file;
using fmrt_test::Rng;
using fmrt_test::start_child;
using fmrt_test::status_name;
using fmrt_test::StatusIs;
using fmrt_test::write_file;

constexpr uint64_t kPage = 4096;

// ---- Status codes ----------------------------------------------------------

// The first problems of a report, one per line, for failure messages.
inline std::string describe_report(const fmrt_report &r) {
    std::string s = std::to_string(r.problems) + " problem(s)";
    for (uint64_t i = 0; i < r.problems && i < FMRT_REPORT_PROBLEMS; ++i) {
        char line[200];
        std::snprintf(line, sizeof line, "\n  at %" PRIu64 ": %s (%s)", r.first[i].offset, r.first[i].what,
                      status_name(r.first[i].code).c_str());
        s += line;
    }
    return s;
}

// ---- Seeds, generator, patterns -----------------------------------------------

inline uint64_t hash_string(const std::string &s) {  // FNV-1a
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
    return h;
}

// The pattern seed of the data a named entry gets at `version`.
inline uint64_t entry_seed(const std::string &name, uint64_t version) {
    return mix64(hash_string(name) ^ mix64(version));
}

// The run's seed: FMRT_TEST_SEED when set, else a fresh one from the clock
// (printed by the caller, so any failing run can be repeated).
inline uint64_t test_seed() {
    const char *env = std::getenv("FMRT_TEST_SEED");
    if (env != nullptr && *env != '\0') return std::strtoull(env, nullptr, 0);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return mix64(static_cast<uint64_t>(ts.tv_sec) * 1000000007ull + static_cast<uint64_t>(ts.tv_nsec) +
                 static_cast<uint64_t>(getpid()));
}

// A positive integer from the environment, or `fallback`.
inline uint64_t env_count(const char *name, uint64_t fallback) {
    const char *env = std::getenv(name);
    if (env == nullptr || *env == '\0') return fallback;
    uint64_t v = std::strtoull(env, nullptr, 0);
    return v == 0 ? fallback : v;
}

// ---- Files and directories --------------------------------------------------------

// A fresh directory under /dev/shm when it exists (tmpfs: no disk I/O),
// else $TMPDIR or /tmp; removed with everything in it at destruction.
class TempDir {
public:
    TempDir() {
        std::string base = "/dev/shm";
        struct stat st;
        if (stat(base.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || access(base.c_str(), W_OK) != 0) {
            const char *t = std::getenv("TMPDIR");
            base = (t != nullptr && *t != '\0') ? t : "/tmp";
        }
        std::string tmpl = base + "/fmrt-integrity-XXXXXX";
        std::vector<char> buf(tmpl.begin(), tmpl.end());
        buf.push_back('\0');
        if (mkdtemp(buf.data()) == nullptr) throw std::runtime_error("mkdtemp " + tmpl + ": " + std::strerror(errno));
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

private:
    std::string path_;
};

inline uint64_t file_size_of(const std::string &path) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return 0;
    return static_cast<uint64_t>(st.st_size);
}

inline bool write_all(int fd, const void *data, size_t len) {
    const auto *p = static_cast<const char *>(data);
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        p += n;
        len -= static_cast<size_t>(n);
    }
    return true;
}

// ---- Reports from children: lines of tab-separated fields ------------------------------

// One line "f0\tf1\t...\n"; tabs and newlines inside a field become spaces.
inline std::string fields_line(const std::vector<std::string> &fields) {
    std::string line;
    for (size_t i = 0; i < fields.size(); ++i) {
        if (i) line += '\t';
        for (char c : fields[i]) line += (c == '\t' || c == '\n') ? ' ' : c;
    }
    return line + '\n';
}

inline std::vector<std::vector<std::string>> parse_fields(const std::string &text) {
    std::vector<std::vector<std::string>> out;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string::npos) end = text.size();
        std::vector<std::string> f;
        size_t a = pos;
        for (;;) {
            size_t tab = text.find('\t', a);
            if (tab == std::string::npos || tab > end) {
                f.push_back(text.substr(a, end - a));
                break;
            }
            f.push_back(text.substr(a, tab - a));
            a = tab + 1;
        }
        out.push_back(std::move(f));
        pos = end + 1;
    }
    return out;
}

// ---- Child processes ----------------------------------------------------------------

struct ChildStatus {
    bool exited = false;  // normal exit (code valid)
    int code = -1;
    int signal = 0;       // terminating signal when !exited
    bool timed_out = false;
};

inline std::string describe(const ChildStatus &s) {
    if (s.timed_out) return "timed out (killed)";
    if (s.exited) return "exited with code " + std::to_string(s.code);
    return std::string("killed by signal ") + std::to_string(s.signal) + " (" + strsignal(s.signal) + ")";
}

inline ChildStatus decode_wait_status(int status) {
    ChildStatus st;
    if (WIFEXITED(status)) {
        st.exited = true;
        st.code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        st.signal = WTERMSIG(status);
    }
    return st;
}

// Waits for `pid`; after `timeout_ms` (< 0: forever) it is SIGKILLed and
// reported as timed out.
inline ChildStatus wait_child(pid_t pid, int timeout_ms = -1) {
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, timeout_ms < 0 ? 0 : WNOHANG);
        if (r == pid) return decode_wait_status(status);
        if (r < 0 && errno != EINTR) {
            ChildStatus st;
            st.code = -errno;
            return st;
        }
        if (timeout_ms >= 0) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            long ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
            if (ms > timeout_ms) {
                kill(pid, SIGKILL);
                while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
                }
                ChildStatus st = decode_wait_status(status);
                st.timed_out = true;
                return st;
            }
            struct timespec nap = {0, 200000};
            nanosleep(&nap, nullptr);
        }
    }
}

// SIGKILLs `pid` and reaps it: how it ended (normally "signal 9"; an exit
// code when it had already left on its own).
inline ChildStatus kill_child(pid_t pid) {
    kill(pid, SIGKILL);
    return wait_child(pid);
}

// Sleeps `us` microseconds (0: not at all).
inline void sleep_us(uint64_t us) {
    if (us == 0) return;
    struct timespec ts = {static_cast<time_t>(us / 1000000), static_cast<long>((us % 1000000) * 1000)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

inline uint64_t monotonic_us() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

// Appends whatever `fd` holds now (non-blocking read) to *buf; false at end
// of file (the writer is gone).
inline bool drain_fd(int fd, std::string *buf) {
    char tmp[1 << 16];
    for (;;) {
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n > 0) {
            buf->append(tmp, static_cast<size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
        return false;  // 0: end of file; other errors end it too
    }
}

// Reads `fd` into *buf until `deadline_us` (monotonic) or end of file.
inline void drain_until(int fd, std::string *buf, uint64_t deadline_us) {
    for (;;) {
        uint64_t now = monotonic_us();
        if (now >= deadline_us) {
            drain_fd(fd, buf);
            return;
        }
        struct pollfd p = {fd, POLLIN, 0};
        int ms = static_cast<int>((deadline_us - now + 999) / 1000);
        int r = poll(&p, 1, ms);
        if (r > 0 && !drain_fd(fd, buf)) return;
        if (r == 0 && monotonic_us() >= deadline_us) return;
    }
}

// Reads `fd` until end of file or `timeout_ms`, then closes it.
inline std::string read_until_eof(int fd, int timeout_ms) {
    fcntl(fd, F_SETFL, O_NONBLOCK);
    std::string text;
    const uint64_t deadline = monotonic_us() + static_cast<uint64_t>(timeout_ms) * 1000;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, 100);
        if (r > 0 && !drain_fd(fd, &text)) break;
        if (monotonic_us() > deadline) break;
    }
    close(fd);
    return text;
}

// Runs `body` in a forked child and returns the text it produced; *st says
// how the child ended (killed after `timeout_ms`).
inline std::string run_in_child(const std::function<std::string()> &body, ChildStatus *st, int timeout_ms) {
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    pid_t pid = start_child([&] {
        close(fds[0]);
        std::string text = body();
        return write_all(fds[1], text.data(), text.size()) ? 0 : 1;
    });
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    }
    std::string text = read_until_eof(fds[0], timeout_ms);
    *st = wait_child(pid, 1000);
    return text;
}

// ---- Child programs: this test binary, executed again ------------------------------------
//
// A forked child shares the parent's per-process state, including the
// library's random freed-slot key (heap.h): a file the child left would be
// read by the parent as by the same process.  Children whose files the
// parent checks are therefore the test binary executed anew: the variable
// `env_name` carries their arguments, and FMRT_CHILD_MAIN below runs them
// before gtest's main.

// Starts /proc/self/exe with env_name=value.  Returns the pid, or -1.
inline pid_t spawn_self(const char *env_name, const std::string &value) {
    std::fflush(stdout);
    std::fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        setenv(env_name, value.c_str(), 1);
        char exe[] = "/proc/self/exe";
        char *argv[] = {exe, nullptr};
        execv(exe, argv);
        std::fprintf(stderr, "exec /proc/self/exe: %s\n", std::strerror(errno));
        _exit(127);
    }
    return pid;
}

// Runs `entry(value)` instead of the tests when the process was started by
// spawn_self(env_name, value); its return value is the exit code.
#define FMRT_CHILD_MAIN(env_name, entry)                                  \
    __attribute__((constructor)) static void fmrt_child_main_hook() {     \
        const char *fmrt_child_value = std::getenv(env_name);             \
        if (fmrt_child_value == nullptr) return;                          \
        int fmrt_child_code = entry(std::string(fmrt_child_value));       \
        std::fflush(stdout);                                              \
        std::fflush(stderr);                                              \
        _exit(fmrt_child_code);                                           \
    }

// Splits "a b c" at spaces.
inline std::vector<std::string> split_words(const std::string &s) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos <= s.size()) {
        size_t sp = s.find(' ', pos);
        if (sp == std::string::npos) sp = s.size();
        if (sp > pos) out.push_back(s.substr(pos, sp - pos));
        pos = sp + 1;
    }
    return out;
}

// Runs this binary again (spawn_self) with env_name="fd args", where fd is
// a pipe the child writes its report to; returns the report.
inline std::string run_self(const char *env_name, const std::string &args, ChildStatus *st, int timeout_ms) {
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    pid_t pid = spawn_self(env_name, std::to_string(fds[1]) + " " + args);
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    }
    std::string text = read_until_eof(fds[0], timeout_ms);
    *st = wait_child(pid, 1000);
    return text;
}

// ---- Hang guard ---------------------------------------------------------------------

// While armed, a call that does not return within the time limit ends the
// test process with a message naming the step (a hang is a failure, not a
// wait).
class HangGuard {
public:
    HangGuard(unsigned seconds, const char *step) {
        step_ = step;
        struct sigaction sa = {};
        sa.sa_handler = on_alarm;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGALRM, &sa, &old_);
        alarm(seconds);
    }
    ~HangGuard() {
        alarm(0);
        sigaction(SIGALRM, &old_, nullptr);
    }
    HangGuard(const HangGuard &) = delete;
    HangGuard &operator=(const HangGuard &) = delete;

    static void set_step(const char *step) { step_ = step; }

private:
    static void on_alarm(int) {
        const char *head = "\nFAILED: timed out (a hang) during: ";
        (void)!write(STDERR_FILENO, head, std::strlen(head));
        (void)!write(STDERR_FILENO, step_, std::strlen(step_));
        (void)!write(STDERR_FILENO, "\n", 1);
        _exit(3);
    }
    static inline const char *step_ = "";
    struct sigaction old_ = {};
};

}  // namespace fmrt_integrity

#endif  // FMRT_INTEGRITY_UTIL_H
