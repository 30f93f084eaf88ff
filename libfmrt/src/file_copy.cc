// SPDX-License-Identifier: GPL-2.0-or-later
// File copying for fmrt_runtime_copy and `fmrt copy` (file_copy.h): reflink, else SEEK_DATA /
// SEEK_HOLE over the source with copy_file_range (read/write where the
// kernel or filesystem refuses it), and the temporary-file-then-rename
// publication.  Every system call of the copy lives here.
#include "file_copy.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

namespace fmrt {
namespace {

bool failed(std::string *err, const std::string &what, int errnum) {
    *err = what + ": " + std::strerror(errnum);
    return false;
}

bool copy_with_read_write(int src, int dst, uint64_t off, uint64_t len, std::string *err) {
    std::vector<char> buf(1 << 20);
    while (len > 0) {
        const size_t want = len < buf.size() ? static_cast<size_t>(len) : buf.size();
        const ssize_t n = pread(src, buf.data(), want, static_cast<off_t>(off));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return failed(err, "read", errno);
        if (n == 0) return failed(err, "read", EIO);  // the source shrank under a shared lock
        for (ssize_t done = 0; done < n;) {
            const ssize_t w = pwrite(dst, buf.data() + done, static_cast<size_t>(n - done),
                                     static_cast<off_t>(off) + done);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) return failed(err, "write", errno);
            done += w;
        }
        off += static_cast<uint64_t>(n);
        len -= static_cast<uint64_t>(n);
    }
    return true;
}

// Copies [off, off+len) to the same offset, in the kernel when it can.
bool copy_range(int src, int dst, uint64_t off, uint64_t len, std::string *err) {
    while (len > 0) {
        loff_t in = static_cast<loff_t>(off), out = static_cast<loff_t>(off);
        const ssize_t n = copy_file_range(src, &in, dst, &out, static_cast<size_t>(len), 0);
        if (n > 0) {
            off += static_cast<uint64_t>(n);
            len -= static_cast<uint64_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n == 0 || errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL) {
            return copy_with_read_write(src, dst, off, len, err);
        }
        return failed(err, "copy_file_range", errno);
    }
    return true;
}

}  // namespace

bool copy_contents(int src_fd, int dst_fd, uint64_t size, CopyResult *out, std::string *err) {
    if (ioctl(dst_fd, FICLONE, src_fd) == 0) {
        out->reflinked = true;
        return true;
    }
    // No shared blocks on this filesystem: copy the data ranges, skip holes.
    uint64_t pos = 0;
    while (pos < size) {
        off_t data = lseek(src_fd, static_cast<off_t>(pos), SEEK_DATA);
        off_t hole;
        if (data < 0 && errno == ENXIO) break;  // nothing but a hole is left
        if (data < 0 && errno != EINVAL) return failed(err, "lseek SEEK_DATA", errno);
        if (data < 0) {  // no hole support: everything is data
            data = static_cast<off_t>(pos);
            hole = static_cast<off_t>(size);
        } else if ((hole = lseek(src_fd, data, SEEK_HOLE)) < 0) {
            return failed(err, "lseek SEEK_HOLE", errno);
        }
        const uint64_t begin = static_cast<uint64_t>(data);
        const uint64_t end = static_cast<uint64_t>(hole) < size ? static_cast<uint64_t>(hole) : size;
        if (begin >= end) break;
        if (!copy_range(src_fd, dst_fd, begin, end - begin, err)) return false;
        out->data_ranges++;
        out->data_bytes += end - begin;
        pos = end;
    }
    // A trailing hole: set the size without writing it.
    if (ftruncate(dst_fd, static_cast<off_t>(size)) != 0) return failed(err, "ftruncate", errno);
    return true;
}

NewFile::~NewFile() {
    if (fd_ >= 0) close(fd_);
    if (!tmp_path_.empty()) unlink(tmp_path_.c_str());
}

bool NewFile::create(const std::string &path, mode_t mode, std::string *err) {
    path_ = path;
    const size_t slash = path.find_last_of('/');
    dir_ = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    std::string tmpl = dir_ + "/." + base + ".fmrt-copy.XXXXXX";
    const int fd = mkostemp(&tmpl[0], O_CLOEXEC);
    if (fd < 0) return failed(err, "create a temporary file in " + dir_, errno);
    fd_ = fd;
    tmp_path_ = tmpl;
    if (fchmod(fd_, mode & 0777) != 0) return failed(err, "chmod " + tmp_path_, errno);
    return true;
}

bool NewFile::publish(std::string *err) {
    if (fsync(fd_) != 0) return failed(err, "fsync", errno);
    if (renameat2(AT_FDCWD, tmp_path_.c_str(), AT_FDCWD, path_.c_str(), RENAME_NOREPLACE) != 0) {
        if (errno == EEXIST) name_taken_ = true;
        if (errno != EINVAL && errno != ENOSYS) return failed(err, "rename into place", errno);
        // No RENAME_NOREPLACE on this filesystem: link() refuses a taken name too.
        if (link(tmp_path_.c_str(), path_.c_str()) != 0) {
            if (errno == EEXIST) name_taken_ = true;
            return failed(err, "link into place", errno);
        }
        unlink(tmp_path_.c_str());
    }
    tmp_path_.clear();
    published_ = true;
    const int dir = open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return failed(err, "open directory " + dir_, errno);
    const int rc = fsync(dir);
    const int sync_errno = errno;
    close(dir);
    if (rc != 0) return failed(err, "fsync directory " + dir_, sync_errno);
    return true;
}

}  // namespace fmrt
