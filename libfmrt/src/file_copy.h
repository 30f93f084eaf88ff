// SPDX-License-Identifier: GPL-2.0-or-later
// The operating-system side of copying a heap file (fmrt_runtime_copy and
// `fmrt copy`, which compiles this file too): a new file built under a
// temporary name next to its destination and renamed into place without
// ever replacing an existing file, and the copy of a file's bytes into it
// (a reflink where the filesystem shares blocks, else a copy that keeps holes).
#ifndef FMRT_FILE_COPY_H
#define FMRT_FILE_COPY_H

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace fmrt {

// How the bytes were copied.
struct CopyResult {
    bool reflinked = false;    // FICLONE shared every block
    uint64_t data_ranges = 0;  // otherwise: data ranges copied (holes skipped)
    uint64_t data_bytes = 0;
};

// Copies the first `size` bytes of src_fd into the empty file dst_fd, which
// ends up `size` bytes long with holes wherever src has them.  Returns true,
// or false with *err naming the call that failed and why.
bool copy_contents(int src_fd, int dst_fd, uint64_t size, CopyResult *out, std::string *err);

// A file created under a temporary name in the directory of `path`, which
// becomes `path` on publish() and is removed if it never does.
class NewFile {
public:
    NewFile() = default;
    NewFile(const NewFile &) = delete;
    NewFile &operator=(const NewFile &) = delete;
    ~NewFile();

    // Creates the temporary file with permission bits `mode`.
    bool create(const std::string &path, mode_t mode, std::string *err);
    int fd() const { return fd_; }
    // Syncs the file, gives it its name (failing if the name was taken
    // meanwhile: never replaces) and syncs the directory.
    bool publish(std::string *err);
    // After a failed publish(): the name was taken by another file; the
    // file got its name (only the directory sync failed).
    bool name_taken() const { return name_taken_; }
    bool published() const { return published_; }

private:
    std::string path_, tmp_path_, dir_;
    int fd_ = -1;
    bool name_taken_ = false, published_ = false;
};

}  // namespace fmrt

#endif  // FMRT_FILE_COPY_H
