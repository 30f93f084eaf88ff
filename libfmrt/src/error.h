// Error reporting inside libfmrt: status codes (the negative FMRT_E* values of
// fmrt.h) travel as plain ints; the human detail goes to a thread-local
// message that fmrt_error_message() returns.  Every failure site calls fail()
// once, so the message always names the operation that failed.
#ifndef FMRT_ERROR_H
#define FMRT_ERROR_H

#include "fmrt.h"

namespace fmrt {

// Records `code` and a printf-style detail for this thread; returns `code`
// so call sites read `return fail(FMRT_EIO, "fsync %s: %s", ...)`.
[[gnu::format(printf, 2, 3)]] int fail(int code, const char *fmt, ...);

// Records `code` with errno's text appended: "what: strerror(errno)".
int fail_errno(int code, int err, const char *what);

// Records `code` keeping the current detail message (used when a lower layer
// already described the failure and only the code changes).
int fail_keep(int code);

// Sets the thread's last status to FMRT_OK (for calls whose NULL result is
// documented as a success, such as realloc to size 0); the detail of the
// last failure stays readable.
void set_status_ok();

const char *error_message();
int last_status();

}  // namespace fmrt

#endif  // FMRT_ERROR_H
