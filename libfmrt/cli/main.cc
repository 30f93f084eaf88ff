// SPDX-License-Identifier: GPL-2.0-or-later
// fmrt, the command-line tool of libfmrt: the command table, option parsing
// (getopt_long), help texts, dispatch, and the one-line error reports.
// Exit status: 0 healthy, 1 problems found, 2 usage or I/O error.
#include <getopt.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "cli.h"
#include "output.h"

namespace fmrt::cli {
namespace {

// Options a command accepts (besides --help).
enum Option : unsigned { kJson = 1, kDryRun = 2, kReclaim = 4 };

struct Command {
    const char *name;
    const char *synopsis;  // after "fmrt NAME"
    const char *summary;   // one line for `fmrt --help`
    const char *details;   // the rest of `fmrt NAME --help`, options last
    unsigned options;      // Option bits
    size_t operands;       // FILE, or SRC DST
    int (*run)(const Args &);
};

const Command kCommands[] = {
    {"info", "FILE", "identity and totals of a heap file",
     "Prints the file's format version, UUID, creation time, size and maximum\n"
     "size, whether it was closed cleanly, and its catalog entries, live\n"
     "allocations, bytes in use and free, and fragmentation.\n"
     "Opens FILE read-only.\n"
     "\n"
     "  --help   print this help\n",
     0, 1, run_info},
    {"ls", "FILE [--json]", "list the catalog",
     "Lists the catalog in name order: type tag, size, offset, metadata bytes,\n"
     "creation time (UTC) and name.  Control characters in names are escaped.\n"
     "Opens FILE read-only.\n"
     "\n"
     "  --json   print a JSON array of {name, type, size, offset, meta_bytes,\n"
     "           created, created_unix_ns}\n"
     "  --help   print this help\n",
     kJson, 1, run_ls},
    {"stat", "FILE [--json]", "statistics and the size-class histogram",
     "Prints the heap's statistics and, for each size class holding live\n"
     "allocations, the class size, live count and bytes (\"large\" last).\n"
     "Opens FILE read-only.\n"
     "\n"
     "  --json   print the same as a JSON object\n"
     "  --help   print this help\n",
     kJson, 1, run_stat},
    {"verify", "FILE [--json]", "check every invariant of a heap file",
     "Checks the span structure, the run bitmaps and every catalog record,\n"
     "and prints the counts and the first problems with their offsets.\n"
     "Works on damaged files; never writes.\n"
     "Exit status: 0 healthy, 1 problems found, 2 not a heap or I/O error.\n"
     "\n"
     "  --json   print the report as a JSON object\n"
     "  --help   print this help\n",
     kJson, 1, run_verify},
    {"repair", "FILE [--dry-run] [--reclaim] [--json]", "repair a damaged heap file",
     "Repairs FILE in place: rebuilds damaged span structure, drops damaged or\n"
     "dangling catalog records and frees leftover transient allocations, then\n"
     "verifies the file again.  FILE must not be open elsewhere.\n"
     "Exit status: 0 healthy afterwards, 1 problems remain (or, with\n"
     "--dry-run, problems were found), 2 not a heap or I/O error.\n"
     "\n"
     "  --dry-run  report what would change; write nothing\n"
     "  --reclaim  also free allocations that no catalog entry names (only\n"
     "             for files whose allocations are all reached by name)\n"
     "  --json     print the reports as a JSON object\n"
     "  --help     print this help\n",
     kJson | kDryRun | kReclaim, 1, run_repair},
    {"copy", "SRC DST", "a consistent copy of a heap file",
     "Copies SRC to DST while holding a read-only lock on SRC (so no writer can\n"
     "change it meanwhile; a heap open read-write elsewhere is refused), then\n"
     "verifies the copy.  Shares blocks (reflink) where the filesystem can,\n"
     "else copies the data and keeps holes.  DST must not exist; it appears\n"
     "complete or not at all.\n"
     "Exit status: 0 the copy is healthy, 1 it has problems, 2 error.\n"
     "\n"
     "  --help   print this help\n",
     0, 2, run_copy},
};

const Command *find_command(const char *name) {
    for (const Command &c : kCommands) {
        if (std::strcmp(c.name, name) == 0) return &c;
    }
    return nullptr;
}

void print_main_help() {
    std::printf("usage: fmrt COMMAND [OPTIONS] FILE...\n"
                "       fmrt --help | --version\n"
                "\n"
                "Inspect, check, repair and copy libfmrt heap files.\n"
                "\n"
                "commands:\n");
    for (const Command &c : kCommands) std::printf("  %-7s %s\n", c.name, c.summary);
    std::printf("\n"
                "`fmrt COMMAND --help` describes a command.\n"
                "Exit status: 0 healthy, 1 problems found, 2 usage or I/O error.\n");
}

void print_command_help(const Command &c) {
    std::printf("usage: fmrt %s %s\n\n%s", c.name, c.synopsis, c.details);
}

int usage_error(const char *command, const std::string &detail) {
    const std::string help = command ? std::string("fmrt ") + command + " --help" : std::string("fmrt --help");
    std::fprintf(stderr, "fmrt: %s%s%s (see '%s')\n", command ? command : "", command ? ": " : "",
                 escape_text(detail).c_str(), help.c_str());
    return kError;
}

// Parses the command's own arguments (argv[0] is the command name).
// Returns -1 to go on and run it, or an exit status.
int parse(const Command &cmd, int argc, char **argv, Args *args) {
    enum { kHelp = 'h', kJsonOpt = 256, kDryRunOpt, kReclaimOpt };
    std::vector<option> longopts = {{"help", no_argument, nullptr, kHelp}};
    if (cmd.options & kJson) longopts.push_back({"json", no_argument, nullptr, kJsonOpt});
    if (cmd.options & kDryRun) longopts.push_back({"dry-run", no_argument, nullptr, kDryRunOpt});
    if (cmd.options & kReclaim) longopts.push_back({"reclaim", no_argument, nullptr, kReclaimOpt});
    longopts.push_back({nullptr, 0, nullptr, 0});

    args->command = cmd.name;
    opterr = 0;  // our own one-line messages
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts.data(), nullptr)) != -1) {
        switch (c) {
        case kHelp: print_command_help(cmd); return kHealthy;
        case kJsonOpt: args->json = true; break;
        case kDryRunOpt: args->dry_run = true; break;
        case kReclaimOpt: args->reclaim = true; break;
        default: {
            // optopt: a bad short option, a long one given an argument it
            // does not take (our long values are >= 256), or 0 for a long
            // option we do not know (then it is the word just stepped over).
            const std::string word = argv[optind - 1];
            if (optopt >= 256) {
                return usage_error(cmd.name, "option '" + word.substr(0, word.find('=')) + "' takes no argument");
            }
            const std::string bad = optopt > 0 ? std::string("-") + static_cast<char>(optopt) : word;
            return usage_error(cmd.name, "unknown option '" + bad + "'");
        }
        }
    }
    for (int i = optind; i < argc; ++i) args->operands.push_back(argv[i]);
    if (args->operands.size() < cmd.operands) {
        const char *what = cmd.operands == 1 ? "FILE" : args->operands.empty() ? "SRC and DST" : "DST";
        return usage_error(cmd.name, std::string("missing ") + what);
    }
    if (args->operands.size() > cmd.operands) {
        return usage_error(cmd.name, std::string("unexpected argument '") + args->operands[cmd.operands] + "'");
    }
    for (const char *operand : args->operands) {
        if (*operand == '\0') return usage_error(cmd.name, "empty file name");
    }
    return -1;
}

int run(int argc, char **argv) {
    if (argc < 2) return usage_error(nullptr, "missing command");
    const char *first = argv[1];
    if (std::strcmp(first, "--help") == 0 || std::strcmp(first, "-h") == 0) {
        print_main_help();
        return kHealthy;
    }
    if (std::strcmp(first, "--version") == 0) {
        std::printf("fmrt %s\n", fmrt_version());
        return kHealthy;
    }
    if (first[0] == '-') return usage_error(nullptr, std::string("unknown option '") + first + "'");
    const Command *cmd = find_command(first);
    if (cmd == nullptr) return usage_error(nullptr, std::string("unknown command '") + first + "'");
    Args args;
    const int parsed = parse(*cmd, argc - 1, argv + 1, &args);
    if (parsed >= 0) return parsed;
    return cmd->run(args);
}

}  // namespace

int report_error(const char *command, const char *path, const std::string &detail) {
    std::string line = std::string("fmrt: ") + command + ": ";
    if (path != nullptr) line += escape_text(path) + ": ";
    line += escape_text(detail);
    std::fprintf(stderr, "%s\n", line.c_str());
    return kError;
}

int report_status(const char *command, const char *path, int rc) {
    std::string detail = fmrt_error_message();
    // The library often starts its detail with the path: say it once.
    if (path != nullptr) {
        for (const std::string &prefix : {std::string(path) + ": ", "open " + std::string(path) + ": "}) {
            if (detail.compare(0, prefix.size(), prefix) == 0) detail.erase(0, prefix.size());
        }
    }
    if (detail.empty()) detail = fmrt_strerror(rc);
    return report_error(command, path, detail);
}

}  // namespace fmrt::cli

int main(int argc, char **argv) {
    int status;
    try {
        status = fmrt::cli::run(argc, argv);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "fmrt: %s: %s\n", argc > 1 ? argv[1] : "error", e.what());
        return fmrt::cli::kError;
    }
    // Output that never arrived (a full disk, a closed pipe) is an I/O error.
    if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
        std::fprintf(stderr, "fmrt: %s: write error on standard output\n", argc > 1 ? argv[1] : "output");
        return fmrt::cli::kError;
    }
    return status;
}
