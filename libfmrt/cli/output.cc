// SPDX-License-Identifier: GPL-2.0-or-later
// Text and JSON formatting for the fmrt tool (output.h).  Nothing here knows
// about heaps: it only turns numbers and strings into output.
#include "output.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace fmrt::cli {
namespace {

// Display width of UTF-8 text, counted in code points (lead bytes): close
// enough for names in a table.
size_t width(const std::string &s) {
    return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) {
        return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    }));
}

}  // namespace

std::string format_uuid(const uint8_t uuid[16]) {
    std::string out;
    char hex[3];
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
        std::snprintf(hex, sizeof hex, "%02x", uuid[i]);
        out += hex;
    }
    return out;
}

std::string format_time(uint64_t unix_ns) {
    const time_t secs = static_cast<time_t>(unix_ns / 1000000000u);
    struct tm tm;
    char buf[64];
    if (gmtime_r(&secs, &tm) == nullptr || std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        return "?";
    }
    return buf;
}

std::string format_bytes(uint64_t bytes) {
    static const char *const kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (bytes < 1024) return std::to_string(bytes) + " bytes";
    double v = static_cast<double>(bytes) / 1024;
    int unit = 0;
    while (v >= 1024 && unit < 5) {
        v /= 1024;
        ++unit;
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%llu bytes (%.1f %s)", static_cast<unsigned long long>(bytes), v, kUnits[unit]);
    return buf;
}

std::string escape_text(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    char buf[8];
    for (size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x20 || c == 0x7F) {
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else if (c == '\\') {
            out += "\\\\";
        } else if (c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
                   static_cast<unsigned char>(text[i + 1]) <= 0x9F) {
            // U+0080..U+009F: C1 controls (0x9B is a terminal escape).
            std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned char>(text[++i]));
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

void print_fields(const Fields &fields) {
    size_t w = 0;
    for (const auto &f : fields) w = std::max(w, f.first.size());
    for (const auto &f : fields) {
        std::printf("%s:%*s %s\n", f.first.c_str(), static_cast<int>(w - f.first.size()), "", f.second.c_str());
    }
}

void print_table(const Row &header, const std::vector<Row> &rows, unsigned right_aligned) {
    std::vector<size_t> w(header.size());
    for (size_t c = 0; c < header.size(); ++c) w[c] = width(header[c]);
    for (const Row &r : rows) {
        for (size_t c = 0; c < r.size() && c < w.size(); ++c) w[c] = std::max(w[c], width(r[c]));
    }
    auto print_row = [&](const Row &r) {
        std::string line;
        for (size_t c = 0; c < r.size() && c < w.size(); ++c) {
            const std::string pad(w[c] - width(r[c]), ' ');
            const bool last = c + 1 == w.size();
            if (c > 0) line += "  ";
            if (right_aligned & (1u << c)) line += pad + r[c];
            else line += last ? r[c] : r[c] + pad;
        }
        std::printf("%s\n", line.c_str());
    };
    print_row(header);
    for (const Row &r : rows) print_row(r);
}

void print_json(const Json &value) {
    const std::string text = value.dump(2, ' ', false, Json::error_handler_t::replace);
    std::printf("%s\n", text.c_str());
}

}  // namespace fmrt::cli
