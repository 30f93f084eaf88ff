// Thread-local error state: the last failure's code and its detail text.
#include "error.h"

#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace fmrt {
namespace {

// Fixed-size buffers: recording an error must not allocate (it runs on
// out-of-memory paths too).
thread_local char t_message[512];
thread_local int t_code = FMRT_OK;

}  // namespace

int fail(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(t_message, sizeof t_message, fmt, ap);
    va_end(ap);
    t_code = code;
    return code;
}

int fail_errno(int code, int err, const char *what) {
    return fail(code, "%s: %s", what, std::strerror(err));
}

int fail_keep(int code) {
    t_code = code;
    return code;
}

void set_status_ok() { t_code = FMRT_OK; }

const char *error_message() { return t_message; }
int last_status() { return t_code; }

}  // namespace fmrt
