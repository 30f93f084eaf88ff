// SPDX-License-Identifier: GPL-2.0-or-later
// `verify` and `repair`: the library's whole-file check and repair, run on a
// path (no runtime is opened here), with the report printed for people or
// as JSON.  Exit 0 means the file is healthy, 1 that problems were found or
// remain.
#include <cstdio>

#include "cli.h"
#include "report.h"

namespace fmrt::cli {

int run_verify(const Args &args) {
    const char *path = args.operands[0];
    fmrt_report rep = FMRT_REPORT_INIT;
    if (int rc = fmrt_verify_path(&rep, path)) return report_status(args.command, path, rc);
    if (args.json) {
        print_json({{"path", path}, {"healthy", rep.problems == 0}, {"report", report_json(rep)}});
    } else {
        print_report_counts(rep);
        print_report_problems(escape_text(path).c_str(), rep);
    }
    return rep.problems == 0 ? kHealthy : kProblems;
}

// `fmrt repair` applies unless --dry-run (the C call is the other way round:
// a dry run unless FMRT_REPAIR_APPLY).  An applied repair is checked again,
// and the verdict is that second check's.
int run_repair(const Args &args) {
    const char *path = args.operands[0];
    const bool apply = !args.dry_run;
    const unsigned flags = (apply ? FMRT_REPAIR_APPLY : 0u) | (args.reclaim ? FMRT_REPAIR_RECLAIM : 0u);
    fmrt_report found = FMRT_REPORT_INIT, after = FMRT_REPORT_INIT;
    if (int rc = fmrt_repair_path(&found, path, flags)) return report_status(args.command, path, rc);
    if (apply) {
        if (int rc = fmrt_verify_path(&after, path)) return report_status(args.command, path, rc);
    }
    const bool healthy = (apply ? after.problems : found.problems) == 0;
    if (args.json) {
        print_json({{"path", path},
                    {"applied", apply},
                    {"reclaim", args.reclaim},
                    {"found", report_json(found)},
                    {"after", apply ? report_json(after) : Json(nullptr)},
                    {"healthy", healthy}});
        return healthy ? kHealthy : kProblems;
    }
    std::printf("%s %s%s\n", apply ? "repair" : "dry run of repair (nothing written):", escape_text(path).c_str(),
                args.reclaim ? " (reclaiming unreachable allocations)" : "");
    print_report_problems("found", found);
    if (found.transient_allocations != 0) {
        std::printf("%s: %llu\n", apply ? "transient allocations freed" : "transient allocations to free",
                    static_cast<unsigned long long>(found.transient_allocations));
    }
    if (args.reclaim) {
        std::printf("%s: %llu\n", apply ? "unreachable allocations freed" : "unreachable allocations to free",
                    static_cast<unsigned long long>(found.unreachable_allocations));
    }
    std::printf("%s: %llu\n", apply ? "repairs made" : "repairs that would be made",
                static_cast<unsigned long long>(found.repairs));
    if (apply) print_report_problems("after repair", after);
    return healthy ? kHealthy : kProblems;
}

}  // namespace fmrt::cli
