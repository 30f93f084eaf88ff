// Linux implementation of the OS contract (platform.h).
#include "platform.h"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <random>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

namespace fmrt::os {
namespace {

std::atomic<long> g_fault_countdown{0};
std::atomic<long> g_fault_calls{0};

// True when this injectable call must fail.
bool inject_fault() {
    g_fault_calls.fetch_add(1, std::memory_order_relaxed);
    long n = g_fault_countdown.load(std::memory_order_relaxed);
    if (n <= 0) return false;
    return g_fault_countdown.fetch_sub(1, std::memory_order_relaxed) == 1;
}

}  // namespace

void set_fault_countdown(long n) {
    g_fault_calls.store(0);
    g_fault_countdown.store(n > 0 ? n : 0);
}

long fault_calls() { return g_fault_calls.load(); }

int open_existing(int *out_fd, const std::string &path, bool writable) {
    *out_fd = -1;
    int fd = ::open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int err = errno;
        if (err == ENOENT) return fail(FMRT_ENOTFOUND, "open %s: no such file", path.c_str());
        if (err == EISDIR) return fail(FMRT_EINVAL, "open %s: is a directory", path.c_str());
        return fail(FMRT_EIO, "open %s: %s", path.c_str(), std::strerror(err));
    }
    struct stat st;
    if (::fstat(fd, &st) != 0) {
        int err = errno;
        ::close(fd);
        return fail(FMRT_EIO, "stat %s: %s", path.c_str(), std::strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        return fail(FMRT_EINVAL, "open %s: not a regular file", path.c_str());
    }
    *out_fd = fd;
    return FMRT_OK;
}

int create_temp(int *out_fd, std::string *out_tmp_path, const std::string &dir) {
    *out_fd = -1;
    out_tmp_path->clear();
    if (inject_fault()) return fail(FMRT_EIO, "create file in %s: injected fault", dir.c_str());
    int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
    if (fd >= 0) {
        *out_fd = fd;
        return FMRT_OK;
    }
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
        int err = errno;
        int code = (err == ENOENT || err == ENOTDIR) ? FMRT_ENOTFOUND : FMRT_EIO;
        return fail(code, "create file in %s: %s", dir.c_str(), std::strerror(err));
    }
    // The filesystem has no O_TMPFILE: a named temporary instead.
    std::string templ = dir + "/.fmrt-XXXXXX";
    fd = ::mkostemp(templ.data(), O_CLOEXEC);
    if (fd < 0) return fail_errno(FMRT_EIO, errno, "create temporary file");
    *out_fd = fd;
    *out_tmp_path = templ;
    return FMRT_OK;
}

int link_into_place(int fd, const std::string &tmp_path, const std::string &path) {
    if (inject_fault()) return fail(FMRT_EIO, "link %s: injected fault", path.c_str());
    int rc;
    if (tmp_path.empty()) {
        char proc[64];
        std::snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        rc = ::linkat(AT_FDCWD, proc, AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW);
    } else {
        rc = ::link(tmp_path.c_str(), path.c_str());
        ::unlink(tmp_path.c_str());
    }
    if (rc != 0) {
        int err = errno;
        if (err == EEXIST) return fail(FMRT_EEXISTS, "create %s: file exists", path.c_str());
        return fail(FMRT_EIO, "create %s: %s", path.c_str(), std::strerror(err));
    }
    return FMRT_OK;
}

int create_unlinked(int *out_fd, const std::string &path) {
    *out_fd = -1;
    if (inject_fault()) return fail(FMRT_EIO, "create %s: injected fault", path.c_str());
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        int err = errno;
        if (err == EEXIST) return fail(FMRT_EEXISTS, "create %s: file exists", path.c_str());
        return fail(FMRT_EIO, "create %s: %s", path.c_str(), std::strerror(err));
    }
    ::unlink(path.c_str());
    *out_fd = fd;
    return FMRT_OK;
}

void remove_file(const std::string &path) { ::unlink(path.c_str()); }

bool is_directory(const std::string &path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string parent_directory(const std::string &path) {
    size_t slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

int lock_file(int fd, bool exclusive) {
    if (::flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0) return FMRT_OK;
    int err = errno;
    if (err == EWOULDBLOCK) {
        return fail(FMRT_EBUSY, exclusive ? "the file is open elsewhere"
                                          : "the file is open read-write elsewhere");
    }
    return fail_errno(FMRT_EIO, err, "flock");
}

int file_size(int fd, uint64_t *out) {
    struct stat st;
    if (::fstat(fd, &st) != 0) return fail_errno(FMRT_EIO, errno, "fstat");
    *out = static_cast<uint64_t>(st.st_size);
    return FMRT_OK;
}

int write_at(int fd, const void *buf, size_t len, uint64_t off) {
    const auto *p = static_cast<const char *>(buf);
    while (len > 0) {
        ssize_t n = ::pwrite(fd, p, len, static_cast<off_t>(off));
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail_errno(FMRT_EIO, errno, "pwrite");
        }
        p += n;
        len -= static_cast<size_t>(n);
        off += static_cast<uint64_t>(n);
    }
    return FMRT_OK;
}

int read_at(int fd, void *buf, size_t len, uint64_t off) {
    auto *p = static_cast<char *>(buf);
    while (len > 0) {
        ssize_t n = ::pread(fd, p, len, static_cast<off_t>(off));
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail_errno(FMRT_EIO, errno, "pread");
        }
        if (n == 0) return fail(FMRT_EFORMAT, "unexpected end of file at offset %llu",
                                static_cast<unsigned long long>(off));
        p += n;
        len -= static_cast<size_t>(n);
        off += static_cast<uint64_t>(n);
    }
    return FMRT_OK;
}

int reserve_space(int fd, uint64_t off, uint64_t len) {
    if (len == 0) return FMRT_OK;
    if (inject_fault()) return fail(FMRT_ENOMEM, "reserve disk space: injected fault (no space)");
    int rc = ::posix_fallocate(fd, static_cast<off_t>(off), static_cast<off_t>(len));
    if (rc == EINTR) rc = ::posix_fallocate(fd, static_cast<off_t>(off), static_cast<off_t>(len));
    if (rc == 0) return FMRT_OK;
    if (rc == ENOSPC || rc == EFBIG || rc == EDQUOT) {
        // A partial reservation may have extended the file; the heap never
        // uses bytes past what it recorded, so it is only wasted, not harmful.
        return fail(FMRT_ENOMEM, "reserve %llu bytes at offset %llu: %s",
                    static_cast<unsigned long long>(len), static_cast<unsigned long long>(off),
                    std::strerror(rc));
    }
    return fail(FMRT_EIO, "reserve disk space: %s", std::strerror(rc));
}

int sync_file(int fd) {
    if (inject_fault()) return fail(FMRT_EIO, "fsync: injected fault");
    if (::fsync(fd) != 0) return fail_errno(FMRT_EIO, errno, "fsync");
    return FMRT_OK;
}

int sync_directory(const std::string &dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return fail_errno(FMRT_EIO, errno, "open directory for fsync");
    int rc = sync_file(fd);
    ::close(fd);
    return rc;
}

namespace {
thread_local bool t_address_space_short = false;
void note_map_errno(int err) {
    if (err == ENOMEM || err == EINVAL) t_address_space_short = true;
}
}  // namespace

bool address_space_short() { return t_address_space_short; }
void clear_address_space_short() { t_address_space_short = false; }

int map_file(void **out, int fd, uint64_t len, bool writable, uint64_t align) {
    *out = nullptr;
    if (inject_fault()) return fail(FMRT_ENOMEM, "mmap: injected fault");
    // Reserve len + align of address space, then place the file mapping on
    // the aligned address inside it and give back the slack at both ends.
    const uint64_t span = len + align;
    void *r = ::mmap(nullptr, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED) {
        const int err = errno;
        note_map_errno(err);
        return fail(FMRT_ENOMEM, "reserve %llu bytes of address space: %s",
                    static_cast<unsigned long long>(span), std::strerror(err));
    }
    const uintptr_t start = reinterpret_cast<uintptr_t>(r);
    const uintptr_t aligned = (start + align - 1) & ~(static_cast<uintptr_t>(align) - 1);
    int prot = PROT_READ | (writable ? PROT_WRITE : 0);
    void *p = ::mmap(reinterpret_cast<void *>(aligned), len, prot, MAP_SHARED | MAP_NORESERVE | MAP_FIXED, fd, 0);
    if (p == MAP_FAILED) {
        int err = errno;
        ::munmap(r, span);
        note_map_errno(err);
        return fail(FMRT_ENOMEM, "mmap of %llu bytes: %s", static_cast<unsigned long long>(len), std::strerror(err));
    }
    if (aligned > start) ::munmap(r, aligned - start);
    const uintptr_t end = aligned + len;
    if (start + span > end) ::munmap(reinterpret_cast<void *>(end), start + span - end);
    *out = p;
    return FMRT_OK;
}

int map_anonymous(void **out, uint64_t len) {
    *out = nullptr;
    if (inject_fault()) return fail(FMRT_ENOMEM, "mmap (anonymous): injected fault");
    void *p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        const int err = errno;
        note_map_errno(err);
        return fail(FMRT_ENOMEM, "mmap (anonymous) of %llu bytes: %s", static_cast<unsigned long long>(len),
                    std::strerror(err));
    }
    *out = p;
    return FMRT_OK;
}

void unmap(void *addr, uint64_t len) {
    if (addr != nullptr) ::munmap(addr, len);
}

void prefault(void *addr, uint64_t len) {
#ifdef MADV_POPULATE_WRITE
    ::madvise(addr, len, MADV_POPULATE_WRITE);
#else
    (void)addr;
    (void)len;
#endif
}

int flush_mapping(void *addr, uint64_t len) {
    if (inject_fault()) return fail(FMRT_EIO, "msync: injected fault");
    if (len == 0) return FMRT_OK;
    if (::msync(addr, len, MS_SYNC) != 0) return fail_errno(FMRT_EIO, errno, "msync");
    return FMRT_OK;
}

void close_file(int fd) {
    if (fd >= 0) ::close(fd);
}

void random_bytes(void *buf, size_t len) {
    auto *p = static_cast<unsigned char *>(buf);
    while (len > 0) {
        ssize_t n = ::getrandom(p, len, 0);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) continue;
            // No entropy source: fall back to a clock-seeded generator; the
            // bytes name files, they guard nothing.
            std::mt19937_64 gen(now_unix_ns() ^ reinterpret_cast<uintptr_t>(buf));
            for (; len > 0; --len) *p++ = static_cast<unsigned char>(gen());
            return;
        }
        p += n;
        len -= static_cast<size_t>(n);
    }
}

uint64_t now_unix_ns() {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
}

}  // namespace fmrt::os
