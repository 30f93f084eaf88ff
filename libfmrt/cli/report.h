// SPDX-License-Identifier: GPL-2.0-or-later
// Presenting a verify or repair report (fmrt_report) as text and as JSON;
// shared by verify, repair and copy so all three say the same thing.
#ifndef FMRT_CLI_REPORT_H
#define FMRT_CLI_REPORT_H

#include <fmrt.h>

#include "output.h"

namespace fmrt::cli {

// The counts of the report as aligned "label: value" lines.
void print_report_counts(const fmrt_report &rep);

// "<label>: no problems", or "<label>: N problems" and one indented line
// per problem kept in the report ("... and N more" past the first
// FMRT_REPORT_PROBLEMS).
void print_report_problems(const char *label, const fmrt_report &rep);

// Every field of the report; problems as an array of {offset, kind, what}.
Json report_json(const fmrt_report &rep);

}  // namespace fmrt::cli

#endif  // FMRT_CLI_REPORT_H
