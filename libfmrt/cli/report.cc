// SPDX-License-Identifier: GPL-2.0-or-later
// Verify and repair reports as text and JSON (report.h).  Problem texts come
// from the file (a record's name may be quoted in them), so they are escaped
// like any other name before they reach a terminal.
#include "report.h"

#include <cstdio>
#include <cstring>
#include <string>

namespace fmrt::cli {
namespace {

// What kind of problem a report code stands for (fmrt.h, fmrt_problem).
const char *problem_kind(int code) {
    switch (code) {
    case FMRT_EFORMAT: return "damage";
    case FMRT_EINVAL: return "dangling";
    case FMRT_EINTERNAL: return "internal";
    default: return "other";
    }
}

std::string problem_text(const fmrt_problem &p) {
    return std::string(p.what, strnlen(p.what, sizeof p.what));
}

uint64_t problems_kept(const fmrt_report &rep) {
    return rep.problems < FMRT_REPORT_PROBLEMS ? rep.problems : FMRT_REPORT_PROBLEMS;
}

}  // namespace

void print_report_counts(const fmrt_report &rep) {
    auto count_bytes = [](uint64_t n, uint64_t bytes) {
        return std::to_string(n) + ", " + format_bytes(bytes);
    };
    print_fields({
        {"file size", format_bytes(rep.file_bytes)},
        {"heap size", format_bytes(rep.heap_bytes)},
        {"last close", rep.clean ? "clean" : "unclean"},
        {"spans", std::to_string(rep.spans)},
        {"free spans", count_bytes(rep.free_spans, rep.free_bytes)},
        {"runs", std::to_string(rep.runs)},
        {"small allocations", count_bytes(rep.small_allocations, rep.small_bytes)},
        {"large allocations", count_bytes(rep.large_allocations, rep.large_bytes)},
        {"transient allocations", std::to_string(rep.transient_allocations)},
        {"catalog entries", std::to_string(rep.catalog_entries)},
        {"damaged records", std::to_string(rep.damaged_records)},
        {"unreachable allocations", count_bytes(rep.unreachable_allocations, rep.unreachable_bytes)},
    });
    // One copy failing its check is no problem (the other is in use), but
    // the user should know that the file has lost its spare.
    if (rep.superblock_damaged == 1 || rep.superblock_damaged == 2) {
        const int bad = rep.superblock_damaged == 1 ? 0 : 1;
        std::printf("superblock copy %d (offset %d) fails its check; copy %d is in use (fmrt repair rewrites it)\n",
                    bad, bad * 4096, 1 - bad);
    }
}

void print_report_problems(const char *label, const fmrt_report &rep) {
    if (rep.problems == 0) {
        std::printf("%s: no problems\n", label);
        return;
    }
    std::printf("%s: %llu problem%s\n", label, static_cast<unsigned long long>(rep.problems),
                rep.problems == 1 ? "" : "s");
    for (uint64_t i = 0; i < problems_kept(rep); ++i) {
        const fmrt_problem &p = rep.first[i];
        std::printf("  offset %llu (%s): %s\n", static_cast<unsigned long long>(p.offset), problem_kind(p.code),
                    escape_text(problem_text(p)).c_str());
    }
    if (rep.problems > FMRT_REPORT_PROBLEMS) {
        std::printf("  ... and %llu more\n", static_cast<unsigned long long>(rep.problems - FMRT_REPORT_PROBLEMS));
    }
}

Json report_json(const fmrt_report &rep) {
    Json problems = Json::array();
    for (uint64_t i = 0; i < problems_kept(rep); ++i) {
        const fmrt_problem &p = rep.first[i];
        problems.push_back({{"offset", p.offset}, {"kind", problem_kind(p.code)}, {"what", problem_text(p)}});
    }
    return {
        {"file_bytes", rep.file_bytes},
        {"heap_bytes", rep.heap_bytes},
        {"clean", rep.clean != 0},
        {"spans", rep.spans},
        {"free_spans", rep.free_spans},
        {"free_bytes", rep.free_bytes},
        {"runs", rep.runs},
        {"small_allocations", rep.small_allocations},
        {"small_bytes", rep.small_bytes},
        {"large_allocations", rep.large_allocations},
        {"large_bytes", rep.large_bytes},
        {"transient_allocations", rep.transient_allocations},
        {"catalog_entries", rep.catalog_entries},
        {"damaged_records", rep.damaged_records},
        {"unreachable_allocations", rep.unreachable_allocations},
        {"unreachable_bytes", rep.unreachable_bytes},
        {"problem_count", rep.problems},
        {"problems", problems},
        {"repairs", rep.repairs},
        {"superblock_damaged", {(rep.superblock_damaged & 1) != 0, (rep.superblock_damaged & 2) != 0}},
    };
}

}  // namespace fmrt::cli
