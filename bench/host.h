// host.h - what the driver reports about the machine it runs on (CPUs,
// model, RAM, kernel, load, scheduling priority, date) and where it finds
// things (its own directory, the default heap directory and its file system).
//
// SPDX-License-Identifier: GPL-2.0-or-later
#ifndef FMRT_BENCH_HOST_H
#define FMRT_BENCH_HOST_H

#include <string>

namespace bench {

// "nproc 2, <CPU model>, 23.5 GiB RAM, Linux <release> x86_64".
std::string machine_text();
// The 1-minute load average, or -1.
double load_average();
// "nice N" of this process, plus ", autogroup nice M" when the kernel groups
// processes by session (then plain nice only ranks within the session).
std::string priority_text();
// "2025-01-31 12:00:00 UTC".
std::string utc_now();
// The directory holding this executable (and the workers).
std::string self_dir();
bool is_writable_dir(const std::string &dir);
// /dev/shm when present, else $TMPDIR, else /tmp.
std::string default_dir();
// "tmpfs", "ext4", ... of the file system holding `dir`.
std::string fs_type(const std::string &dir);

} // namespace bench

#endif // FMRT_BENCH_HOST_H
