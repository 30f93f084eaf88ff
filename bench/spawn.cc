// spawn.cc - fork, exec and wait for one worker (spawn.h); its result lines
// are "info key=value" and "result name key=value...".
//
// SPDX-License-Identifier: GPL-2.0-or-later
#include "spawn.h"

#include "text.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace bench {

namespace {

void parse_lines(const std::string &text, WorkerOutput *out) {
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        std::istringstream words(line);
        std::string kind, name, kv;
        words >> kind;
        if (kind == "info") {
            std::getline(words >> std::ws, kv);
            const size_t eq = kv.find('=');
            if (eq != std::string::npos) out->info[kv.substr(0, eq)] = kv.substr(eq + 1);
        } else if (kind == "result") {
            words >> name;
            Result r;
            while (words >> kv) {
                const size_t eq = kv.find('=');
                if (eq == std::string::npos) continue;
                const std::string k = kv.substr(0, eq), v = kv.substr(eq + 1);
                if (k == "ops") r.ops = std::strtoull(v.c_str(), nullptr, 10);
                else if (k == "seconds") r.seconds = std::strtod(v.c_str(), nullptr);
                else if (k == "reached") r.reached = std::strtoull(v.c_str(), nullptr, 10);
                else if (k == "capped") r.capped = v == "1";
            }
            out->results[name] = r;
        }
    }
}

} // namespace

WorkerOutput run_worker(const std::string &exe, const std::vector<std::string> &args, bool flushing_off,
                        const std::string &heap_dir, const std::string &tag) {
    WorkerOutput out;
    int fds[2];
    if (pipe(fds) != 0) {
        out.failure = std::string("pipe: ") + std::strerror(errno);
        return out;
    }
    std::fflush(stdout);
    std::fflush(stderr);
    const auto started = std::chrono::steady_clock::now();
    const pid_t pid = fork();
    if (pid < 0) {
        out.failure = std::string("fork: ") + std::strerror(errno);
        close(fds[0]);
        close(fds[1]);
        return out;
    }
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        if (flushing_off) {
            setenv("PMEM_IS_PMEM_FORCE", "1", 1);
            setenv("PMEM_NO_FLUSH", "1", 1);
        }
        std::vector<char *> argv;
        argv.push_back(const_cast<char *>(exe.c_str()));
        for (const auto &a : args) argv.push_back(const_cast<char *>(a.c_str()));
        argv.push_back(nullptr);
        execv(exe.c_str(), argv.data());
        std::fprintf(stderr, "fmrt-bench: cannot run %s: %s\n", exe.c_str(), std::strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    std::string text;
    char buf[4096];
    for (;;) {
        const ssize_t n = read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        text.append(buf, static_cast<size_t>(n));
    }
    close(fds[0]);
    int status = 0;
    struct rusage ru;
    std::memset(&ru, 0, sizeof ru);
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
    }
    out.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    out.cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    if (!heap_dir.empty()) unlink((heap_dir + "/fmrt-bench-" + tag + "-" + std::to_string(pid) + ".heap").c_str());

    if (WIFSIGNALED(status)) {
        out.failure = fmt("crashed: signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
        return out;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        out.failure = fmt("failed: exit status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return out;
    }
    parse_lines(text, &out);
    out.ok = true;
    return out;
}

} // namespace bench
