// SPDX-License-Identifier: GPL-2.0-or-later
// Turning values into text for people and JSON for programs: UUIDs, times,
// byte counts, names made safe for a terminal, aligned key/value lists and
// tables, and JSON printed without ever hand-escaping a string.
#ifndef FMRT_CLI_OUTPUT_H
#define FMRT_CLI_OUTPUT_H

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace fmrt::cli {

using Json = nlohmann::json;

// "01234567-89ab-cdef-0123-456789abcdef".
std::string format_uuid(const uint8_t uuid[16]);

// ISO 8601 in UTC, to the second: "2024-05-01T12:34:56Z".
std::string format_time(uint64_t unix_ns);

// "1048576 bytes (1.0 MiB)"; just "512 bytes" below 1 KiB.
std::string format_bytes(uint64_t bytes);

// `text` safe to print on a terminal: control characters (C0, DEL and the
// C1 range) become \xNN or \u00NN escapes, and a backslash becomes "\\", so
// the escaped form is unambiguous.  Other UTF-8 passes through.
std::string escape_text(std::string_view text);

// Prints "label:  value" lines with the values aligned.
using Fields = std::vector<std::pair<std::string, std::string>>;
void print_fields(const Fields &fields);

// Prints a table: a header row, then the rows, columns separated by two
// spaces.  Columns whose bit is set in `right_aligned` are right-aligned;
// the last column is never padded.
using Row = std::vector<std::string>;
void print_table(const Row &header, const std::vector<Row> &rows, unsigned right_aligned);

// Prints `value` as indented JSON and a newline.  Text that is not valid
// UTF-8 is replaced (U+FFFD), never an error.
void print_json(const Json &value);

}  // namespace fmrt::cli

#endif  // FMRT_CLI_OUTPUT_H
