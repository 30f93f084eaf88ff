// text.h - formatting helpers of the driver: printf into std::string,
// three significant digits, shell quoting, sizes and counts in words.
//
// SPDX-License-Identifier: GPL-2.0-or-later
#ifndef FMRT_BENCH_TEXT_H
#define FMRT_BENCH_TEXT_H

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <string>

namespace bench {

inline std::string fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
inline std::string fmt(const char *f, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, f);
    std::vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    return buf;
}

// Three significant digits, never an exponent: 146, 95.1, 9.51, 0.951, 0.0123.
inline std::string sig3(double v) {
    if (v >= 100) return fmt("%.0f", v);
    return fmt("%#.3g", v);
}

// `s` as one shell word (quoted only when it needs it).
inline std::string shell_quote(const std::string &s) {
    if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                          "0123456789-_=./,:+@%") == std::string::npos)
        return s;
    std::string q = "'";
    for (char c : s) q += (c == '\'') ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

// 1 GiB, 16 MiB, 8 KiB.
inline std::string size_text(uint64_t b) {
    if (b >= (1ull << 30) && b % (1ull << 30) == 0) return fmt("%llu GiB", (unsigned long long)(b >> 30));
    if (b >= (1ull << 20)) return fmt("%.0f MiB", b / 1048576.0);
    return fmt("%llu KiB", (unsigned long long)(b >> 10));
}

// 20M, 20k, 1234.
inline std::string count_text(uint64_t n) {
    if (n >= 1000000 && n % 1000000 == 0) return fmt("%lluM", (unsigned long long)(n / 1000000));
    if (n >= 1000 && n % 1000 == 0) return fmt("%lluk", (unsigned long long)(n / 1000));
    return fmt("%llu", (unsigned long long)n);
}

} // namespace bench

#endif // FMRT_BENCH_TEXT_H
