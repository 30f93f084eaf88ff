// SPDX-License-Identifier: GPL-2.0-or-later
// The fmrt tool's shared vocabulary: exit statuses, the parsed command line
// each command receives, the one-line error reporter, and a read-only heap
// handle.  The tool sees libfmrt only through the public header fmrt.h.
#ifndef FMRT_CLI_CLI_H
#define FMRT_CLI_CLI_H

#include <fmrt.h>

#include <string>
#include <vector>

namespace fmrt::cli {

// Exit statuses: the file is healthy, problems were found, or the command
// could not do its job (usage, I/O, not a heap).
enum Exit { kHealthy = 0, kProblems = 1, kError = 2 };

// A command line after option parsing.
struct Args {
    const char *command = nullptr;      // "info", "ls", ...
    std::vector<const char *> operands; // as many as the command takes
    bool json = false;                  // --json
    bool dry_run = false;               // repair --dry-run
    bool reclaim = false;               // repair --reclaim
};

// Prints "fmrt: <command>: <path>: <detail>" on stderr as one line (the
// path part left out when path is NULL) and returns kError.
int report_error(const char *command, const char *path, const std::string &detail);

// report_error for a failed libfmrt call: the library's detail message (read
// at once: it lasts only until the next libfmrt call), or the code's text.
int report_status(const char *command, const char *path, int rc);

// A heap opened read-only (a shared lock on the file: no writer can change
// it while this is open), closed when it goes out of scope.
class ReadOnlyHeap {
public:
    ReadOnlyHeap() = default;
    ReadOnlyHeap(const ReadOnlyHeap &) = delete;
    ReadOnlyHeap &operator=(const ReadOnlyHeap &) = delete;
    ~ReadOnlyHeap() { fmrt_runtime_close(rt_); }

    // Returns 0 or the status of fmrt_runtime_open.
    int open(const char *path) {
        fmrt_options opts = FMRT_OPTIONS_INIT;
        opts.flags = FMRT_OPEN_READONLY;  // never CREATE: a missing file is an error
        return fmrt_runtime_open(&rt_, path, &opts);
    }
    fmrt_runtime *get() const { return rt_; }

private:
    fmrt_runtime *rt_ = nullptr;
};

// The commands (inspect.cc, integrity.cc, copy.cc).  Each returns an Exit.
int run_info(const Args &args);
int run_ls(const Args &args);
int run_stat(const Args &args);
int run_verify(const Args &args);
int run_repair(const Args &args);
int run_copy(const Args &args);

}  // namespace fmrt::cli

#endif  // FMRT_CLI_CLI_H
