// diagnose.cpp - what a runtime's file holds: libfmrt's statistics, its
// verify report, and the extents of the allocations R knows about.
//
// SPDX-License-Identifier: GPL-2.0-or-later
#include <Rcpp.h>

#include "rfmalloc.h"

#include <cstring>

using namespace rfm;

namespace {

double d(uint64_t v) { return static_cast<double>(v); }

} // namespace

// libfmrt's statistics, with the size-class table.
// [[Rcpp::export(rng = false)]]
SEXP rfm_stats_(SEXP robj) {
    return call_guarded([&]() -> SEXP {
        Runtime *rt = runtime_from(robj);
        fmrt_stats s = FMRT_STATS_INIT;
        int st = fmrt_runtime_stats(&s, rt->h);
        if (st != FMRT_OK) fail_status(st, "cannot read the statistics of '" + rt->path + "'");
        const uint32_t n = std::min<uint32_t>(s.class_count, FMRT_STATS_CLASSES);
        Rcpp::NumericVector size(n), live(n), bytes(n);
        for (uint32_t i = 0; i < n; ++i) {
            size[i] = s.class_size[i];
            live[i] = d(s.class_live[i]);
            bytes[i] = d(s.class_bytes[i]);
        }
        Rcpp::DataFrame classes = Rcpp::DataFrame::create(Rcpp::Named("slot_bytes") = size, Rcpp::Named("live") = live,
                                                          Rcpp::Named("bytes") = bytes);
        return Rcpp::wrap(Rcpp::List::create(
            Rcpp::Named("file_bytes") = d(s.mapped_bytes), Rcpp::Named("max_bytes") = d(s.reserved_bytes),
            Rcpp::Named("in_use_bytes") = d(s.in_use_bytes), Rcpp::Named("free_bytes") = d(s.free_bytes),
            Rcpp::Named("overhead_bytes") = d(s.overhead_bytes), Rcpp::Named("allocations") = d(s.live_allocations),
            Rcpp::Named("largest_free_block") = d(s.largest_free_block), Rcpp::Named("fragmentation") = s.fragmentation,
            Rcpp::Named("catalog_entries") = d(s.catalog_entries),
            Rcpp::Named("transient_allocations") = d(s.transient_allocations),
            Rcpp::Named("reclaimed_at_open") = d(s.reclaimed_at_open),
            Rcpp::Named("clean_last_close") = s.clean_last_close != 0,
            Rcpp::Named("format") = std::to_string(s.format_major) + "." + std::to_string(s.format_minor),
            Rcpp::Named("created") = d(s.created_unix_ns) / 1e9, Rcpp::Named("classes") = classes));
    });
}

// fmrt_runtime_verify, as a list.
// [[Rcpp::export(rng = false)]]
SEXP rfm_verify_(SEXP robj) {
    return call_guarded([&]() -> SEXP {
        Runtime *rt = runtime_from(robj);
        fmrt_report r = FMRT_REPORT_INIT;
        int st = fmrt_runtime_verify(&r, rt->h);
        if (st != FMRT_OK) fail_status(st, "cannot verify '" + rt->path + "'");
        const uint64_t shown = std::min<uint64_t>(r.problems, FMRT_REPORT_PROBLEMS);
        Rcpp::CharacterVector what(shown);
        Rcpp::NumericVector where(shown);
        for (uint64_t i = 0; i < shown; ++i) {
            what[i] = r.first[i].what;
            where[i] = d(r.first[i].offset);
        }
        return Rcpp::wrap(Rcpp::List::create(
            Rcpp::Named("problems") = d(r.problems), Rcpp::Named("spans") = d(r.spans),
            Rcpp::Named("free_spans") = d(r.free_spans), Rcpp::Named("free_bytes") = d(r.free_bytes),
            Rcpp::Named("small_allocations") = d(r.small_allocations),
            Rcpp::Named("large_allocations") = d(r.large_allocations),
            Rcpp::Named("transient_allocations") = d(r.transient_allocations),
            Rcpp::Named("catalog_entries") = d(r.catalog_entries), Rcpp::Named("damaged_records") = d(r.damaged_records),
            Rcpp::Named("unreachable_allocations") = d(r.unreachable_allocations),
            Rcpp::Named("unreachable_bytes") = d(r.unreachable_bytes),
            Rcpp::Named("superblock_damaged") =
                Rcpp::LogicalVector::create((r.superblock_damaged & 1) != 0, (r.superblock_damaged & 2) != 0),
            Rcpp::Named("problem_offsets") = where, Rcpp::Named("problem_text") = what));
    });
}

// Where the allocations R knows of sit in the file: every catalog entry
// (durable) and every allocation this session's vectors hold without a name.
// [[Rcpp::export(rng = false)]]
SEXP rfm_extents_(SEXP robj) {
    return call_guarded([&]() -> SEXP {
        Runtime *rt = runtime_from(robj);
        std::vector<double> off, len;
        std::vector<std::string> status, name;
        for_each_entry(rt, [&](const fmrt_entry &e, const std::string &after) {
            if (!e.ptr) return; // a list: its record is in the entry itself
            off.push_back(d(e.offset));
            len.push_back(d(fmrt_usable_size(rt->h, e.ptr)));
            status.push_back("durable");
            name.push_back(after);
        });
        for (auto &kv : rt->live) {
            const Alloc *a = kv.second;
            if (!a->name.empty()) continue;
            off.push_back(d(a->offset));
            len.push_back(d(fmrt_usable_size(rt->h, a->ptr)));
            status.push_back(rt->persistent ? "transient" : "scratch");
            name.push_back("");
        }
        return Rcpp::wrap(Rcpp::List::create(Rcpp::Named("offset") = off, Rcpp::Named("bytes") = len,
                                             Rcpp::Named("status") = status, Rcpp::Named("name") = name));
    });
}
