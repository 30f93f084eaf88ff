// SPDX-License-Identifier: GPL-2.0-or-later
// `fmrt copy SRC DST`: a consistent copy of a heap.  SRC is opened read-only
// through the library, whose shared lock keeps every writer out while its
// bytes are copied; DST is built under a temporary name, renamed into place
// (never over an existing file) and then verified.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "cli.h"
#include "file_copy.h"  // libfmrt/src
#include "report.h"

namespace fmrt::cli {
namespace {

// An open file descriptor, closed on scope exit.
struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) close(fd);
    }
};

}  // namespace

int run_copy(const Args &args) {
    const char *src = args.operands[0];
    const char *dst = args.operands[1];
    struct stat st;
    if (lstat(dst, &st) == 0) return report_error(args.command, dst, "already exists (fmrt copy never overwrites)");
    if (errno != ENOENT) return report_error(args.command, dst, std::strerror(errno));

    CopyResult how;
    uint64_t size = 0;
    {
        // The library's lock first; our descriptor must then name the file
        // the path named before, or the lock would guard another file.
        struct stat before;
        const bool named = stat(src, &before) == 0;
        ReadOnlyHeap heap;
        if (int rc = heap.open(src)) {
            if (rc != FMRT_EBUSY) return report_status(args.command, src, rc);
            return report_error(args.command, src,
                                "the heap is open read-write by another process; close it and retry "
                                "(a consistent copy needs a read-only lock), or have that process "
                                "call fmrt_runtime_copy");
        }
        Fd in;
        if ((in.fd = open(src, O_RDONLY | O_CLOEXEC)) < 0 || fstat(in.fd, &st) != 0) {
            return report_error(args.command, src, std::strerror(errno));
        }
        if (!named || st.st_ino != before.st_ino || st.st_dev != before.st_dev) {
            return report_error(args.command, src, "the file was replaced while it was being opened");
        }
        size = static_cast<uint64_t>(st.st_size);
        NewFile out;
        std::string err;
        if (!out.create(dst, st.st_mode, &err) || !copy_contents(in.fd, out.fd(), size, &how, &err) ||
            !out.publish(&err)) {
            return report_error(args.command, dst, err);
        }
    }  // the source's lock is released here

    fmrt_report rep = FMRT_REPORT_INIT;
    if (int rc = fmrt_verify_path(&rep, dst)) return report_status(args.command, dst, rc);
    std::printf("copied %s to %s: %s\n", escape_text(src).c_str(), escape_text(dst).c_str(), format_bytes(size).c_str());
    if (how.reflinked) {
        std::printf("method: reflink (blocks shared with the source)\n");
    } else {
        std::printf("method: sparse copy, %llu data range%s of %s, holes skipped\n",
                    static_cast<unsigned long long>(how.data_ranges), how.data_ranges == 1 ? "" : "s",
                    format_bytes(how.data_bytes).c_str());
    }
    print_report_problems(("verify " + escape_text(dst)).c_str(), rep);
    return rep.problems == 0 ? kHealthy : kProblems;
}

}  // namespace fmrt::cli
