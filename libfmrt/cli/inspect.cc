// SPDX-License-Identifier: GPL-2.0-or-later
// The read-only views of a heap: `info` (identity and totals), `ls` (the
// catalog) and `stat` (statistics and the size-class histogram).  Each opens
// the file read-only through the library, so it holds a shared lock and
// never changes a byte.
#include <cstdio>
#include <string>

#include "cli.h"
#include "output.h"

namespace fmrt::cli {
namespace {

// Opens args' FILE read-only and takes a statistics snapshot.
int snapshot(const Args &args, ReadOnlyHeap *heap, fmrt_stats *st) {
    const char *path = args.operands[0];
    if (int rc = heap->open(path)) return report_status(args.command, path, rc);
    st->version = FMRT_STATS_VERSION;
    if (int rc = fmrt_runtime_stats(st, heap->get())) return report_status(args.command, path, rc);
    return kHealthy;
}

std::string percent(double fraction) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f%%", fraction * 100);
    return buf;
}

}  // namespace

int run_info(const Args &args) {
    ReadOnlyHeap heap;
    fmrt_stats st = FMRT_STATS_INIT;
    if (int rc = snapshot(args, &heap, &st)) return rc;
    print_fields({
        {"path", escape_text(args.operands[0])},
        {"format version", std::to_string(st.format_major) + "." + std::to_string(st.format_minor)},
        {"uuid", format_uuid(st.uuid)},
        {"created", format_time(st.created_unix_ns)},
        {"file size", format_bytes(st.mapped_bytes)},
        {"max size", format_bytes(st.reserved_bytes)},
        {"last close", st.clean_last_close ? "clean" : "unclean (not closed cleanly)"},
        {"catalog entries", std::to_string(st.catalog_entries)},
        {"live allocations", std::to_string(st.live_allocations)},
        {"in use", format_bytes(st.in_use_bytes)},
        {"free", format_bytes(st.free_bytes)},
        {"fragmentation", percent(st.fragmentation)},
    });
    return kHealthy;
}

int run_ls(const Args &args) {
    const char *path = args.operands[0];
    ReadOnlyHeap heap;
    if (int rc = heap.open(path)) return report_status(args.command, path, rc);
    Json list = Json::array();
    std::vector<Row> rows;
    std::string after;
    fmrt_entry e = FMRT_ENTRY_INIT;
    bool first = true;
    int rc;
    while ((rc = fmrt_catalog_next(&e, heap.get(), first ? nullptr : after.c_str())) == 0) {
        first = false;
        after.assign(e.name, e.name_len);
        if (args.json) {
            list.push_back({{"name", after},
                            {"type", e.type},
                            {"size", e.size},
                            {"offset", e.offset},
                            {"meta_bytes", e.meta_len},
                            {"created", format_time(e.created_unix_ns)},
                            {"created_unix_ns", e.created_unix_ns}});
        } else {
            rows.push_back({std::to_string(e.type), std::to_string(e.size), std::to_string(e.offset),
                            std::to_string(e.meta_len), format_time(e.created_unix_ns), escape_text(after)});
        }
    }
    if (rc != FMRT_ENOTFOUND) return report_status(args.command, path, rc);
    // The name goes last, so a long one cannot push the other columns apart.
    if (args.json) print_json(list);
    else print_table({"TYPE", "SIZE", "OFFSET", "META", "CREATED", "NAME"}, rows, 0xF);
    return kHealthy;
}

int run_stat(const Args &args) {
    ReadOnlyHeap heap;
    fmrt_stats st = FMRT_STATS_INIT;
    if (int rc = snapshot(args, &heap, &st)) return rc;
    const uint32_t rows_used = st.class_count <= FMRT_STATS_CLASSES ? st.class_count : FMRT_STATS_CLASSES;
    if (args.json) {
        Json classes = Json::array();
        Json large = {{"live", 0}, {"bytes", 0}};
        for (uint32_t i = 0; i < rows_used; ++i) {
            if (st.class_size[i] == 0) {
                large = {{"live", st.class_live[i]}, {"bytes", st.class_bytes[i]}};
            } else if (st.class_live[i] != 0) {
                classes.push_back({{"class_size", st.class_size[i]}, {"live", st.class_live[i]},
                                   {"bytes", st.class_bytes[i]}});
            }
        }
        print_json({
            {"reserved_bytes", st.reserved_bytes},
            {"mapped_bytes", st.mapped_bytes},
            {"in_use_bytes", st.in_use_bytes},
            {"free_bytes", st.free_bytes},
            {"overhead_bytes", st.overhead_bytes},
            {"largest_free_block", st.largest_free_block},
            {"fragmentation", st.fragmentation},
            {"live_allocations", st.live_allocations},
            {"transient_allocations", st.transient_allocations},
            {"catalog_entries", st.catalog_entries},
            {"clean_last_close", st.clean_last_close != 0},
            {"classes", classes},
            {"large", large},
        });
        return kHealthy;
    }
    print_fields({
        {"max size", format_bytes(st.reserved_bytes)},
        {"file size", format_bytes(st.mapped_bytes)},
        {"in use", format_bytes(st.in_use_bytes)},
        {"free", format_bytes(st.free_bytes)},
        {"overhead", format_bytes(st.overhead_bytes)},
        {"largest free block", format_bytes(st.largest_free_block)},
        {"fragmentation", percent(st.fragmentation)},
        {"live allocations", std::to_string(st.live_allocations)},
        {"transient allocations", std::to_string(st.transient_allocations)},
        {"catalog entries", std::to_string(st.catalog_entries)},
    });
    std::printf("\n");
    std::vector<Row> rows;
    for (uint32_t i = 0; i < rows_used; ++i) {
        if (st.class_live[i] == 0) continue;
        rows.push_back({st.class_size[i] ? std::to_string(st.class_size[i]) : "large",
                        std::to_string(st.class_live[i]), std::to_string(st.class_bytes[i])});
    }
    print_table({"CLASS", "LIVE", "BYTES"}, rows, 0x7);
    return kHealthy;
}

}  // namespace fmrt::cli
