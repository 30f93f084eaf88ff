// host.cc - the machine description and paths of host.h, from /proc,
// sysinfo, uname, statfs and the scheduler.
//
// SPDX-License-Identifier: GPL-2.0-or-later
#include "host.h"

#include "text.h"

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sched.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

namespace bench {

namespace {

std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("model name", 0) == 0) {
            const size_t colon = line.find(':');
            if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
        }
    return "unknown CPU";
}

} // namespace

std::string machine_text() {
    cpu_set_t set;
    CPU_ZERO(&set);
    const int usable = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : -1;
    struct sysinfo si;
    const double ram = sysinfo(&si) == 0 ? double(si.totalram) * si.mem_unit / (1ull << 30) : 0;
    struct utsname u;
    uname(&u);
    return fmt("nproc %d, %s, %.1f GiB RAM, %s %s %s", usable, cpu_model().c_str(), ram, u.sysname, u.release,
               u.machine);
}

double load_average() {
    double l = -1;
    if (FILE *f = std::fopen("/proc/loadavg", "r")) {
        if (std::fscanf(f, "%lf", &l) != 1) l = -1;
        std::fclose(f);
    }
    return l;
}

std::string priority_text() {
    errno = 0;
    const int nice = getpriority(PRIO_PROCESS, 0);
    std::string text = fmt("nice %d", errno == 0 ? nice : 0);
    std::ifstream in("/proc/self/autogroup");
    std::string group, word;
    int group_nice = 0;
    if (in >> group >> word >> group_nice && word == "nice") text += fmt(", autogroup nice %d", group_nice);
    return text;
}

std::string utc_now() {
    const time_t t = time(nullptr);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[64];
    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return buf;
}

std::string self_dir() {
    char buf[PATH_MAX];
    const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return ".";
    buf[n] = '\0';
    const std::string p(buf);
    const size_t slash = p.rfind('/');
    return slash == std::string::npos ? "." : p.substr(0, slash);
}

bool is_writable_dir(const std::string &dir) {
    struct stat st;
    return !dir.empty() && stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode) &&
           access(dir.c_str(), W_OK | X_OK) == 0;
}

std::string default_dir() {
    if (is_writable_dir("/dev/shm")) return "/dev/shm";
    const char *t = std::getenv("TMPDIR");
    if (t != nullptr && is_writable_dir(t)) return t;
    return "/tmp";
}

std::string fs_type(const std::string &dir) {
    struct statfs sf;
    if (statfs(dir.c_str(), &sf) != 0) return "?";
    switch (static_cast<unsigned long>(sf.f_type)) {
    case 0x01021994: return "tmpfs";
    case 0xEF53: return "ext4";
    case 0x58465342: return "xfs";
    case 0x9123683E: return "btrfs";
    case 0x794c7630: return "overlayfs";
    default: return fmt("file system type 0x%lx", static_cast<unsigned long>(sf.f_type));
    }
}

} // namespace bench
