// Unit tests of error.{h,cc}: the thread-local status code and detail text.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

#include "error.h"
#include "unit_util.h"

namespace {

TEST(Error, FailRecordsTheCodeAndFormattedDetailAndReturnsTheCode) {
    EXPECT_EQ(fmrt::fail(FMRT_EBUSY, "open %s: %d", "/x", 42), FMRT_EBUSY);
    EXPECT_EQ(fmrt::last_status(), FMRT_EBUSY);
    EXPECT_STREQ(fmrt::error_message(), "open /x: 42");
}

TEST(Error, FailErrnoAppendsTheSystemText) {
    EXPECT_EQ(fmrt::fail_errno(FMRT_EIO, ENOENT, "fsync"), FMRT_EIO);
    EXPECT_EQ(fmrt::last_status(), FMRT_EIO);
    EXPECT_EQ(std::string(fmrt::error_message()), std::string("fsync: ") + std::strerror(ENOENT));
}

TEST(Error, FailKeepChangesTheCodeButKeepsTheDetail) {
    fmrt::fail(FMRT_EIO, "disk said no");
    EXPECT_EQ(fmrt::fail_keep(FMRT_ENOMEM), FMRT_ENOMEM);
    EXPECT_EQ(fmrt::last_status(), FMRT_ENOMEM);
    EXPECT_STREQ(fmrt::error_message(), "disk said no");
}

TEST(Error, LongDetailIsTruncatedNotOverflowed) {
    std::string big(2000, 'a');
    fmrt::fail(FMRT_EINVAL, "%s", big.c_str());
    EXPECT_EQ(std::strlen(fmrt::error_message()), 511u);
}

TEST(Error, StateIsPerThread) {
    fmrt::fail(FMRT_EFORMAT, "main thread failure");
    int other_code = 12345;
    std::string other_msg = "unset";
    std::thread t([&] {
        other_code = fmrt::last_status();
        other_msg = fmrt::error_message();
        fmrt::fail(FMRT_EIO, "worker failure");
    });
    t.join();
    EXPECT_EQ(other_code, FMRT_OK);
    EXPECT_EQ(other_msg, "");
    EXPECT_EQ(fmrt::last_status(), FMRT_EFORMAT);
    EXPECT_STREQ(fmrt::error_message(), "main thread failure");
}

TEST(Error, PublicAccessorsReadTheSameState) {
    fmrt::fail(FMRT_EEXISTS, "entry x exists");
    EXPECT_EQ(fmrt_last_status(), FMRT_EEXISTS);
    EXPECT_STREQ(fmrt_error_message(), "entry x exists");
}

}  // namespace
