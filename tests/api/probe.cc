// fmrt-test-probe: a fresh process for the multi-process API tests.  Being
// started with exec, it shares no library state, lock or descriptor with the
// test that runs it, so what it sees is what another program would see.
//
//   probe open rw|ro PATH          open without CREATE; exit code = -status
//   probe hold PATH SEED SIZE      open read-write (CREATE), allocate SIZE
//                                  bytes with the pattern of SEED, sync,
//                                  print "OFFSET\n", then wait to be killed
//   probe scratch-hold DIR SEED SIZE  the same on a scratch runtime in DIR
#include "test_util.h"

#include <cstdio>

using namespace fmrt_test;

static int usage() {
    std::fprintf(stderr, "usage: probe open rw|ro PATH | hold PATH SEED SIZE | scratch-hold DIR SEED SIZE\n");
    return 100;
}

static int open_and_close(const char *how, const char *path) {
    fmrt_options o = make_options(0, 0, std::strcmp(how, "ro") == 0 ? FMRT_OPEN_READONLY : 0u);
    fmrt_runtime *rt = nullptr;
    int rc = fmrt_runtime_open(&rt, path, &o);
    if (rc != FMRT_OK) {
        std::fprintf(stderr, "probe: open %s %s: %s (%s)\n", how, path, fmrt_strerror(rc), fmrt_error_message());
        return status_to_exit(rc);
    }
    rc = fmrt_runtime_close(rt);
    return rc == FMRT_OK ? 0 : 50 + status_to_exit(rc);
}

static int hold(const char *path, uint64_t seed, size_t size, fmrt_mode mode) {
    fmrt_options o = make_options(0, kTestMaxSize, FMRT_OPEN_CREATE, mode);
    fmrt_runtime *rt = nullptr;
    int rc = fmrt_runtime_open(&rt, path, &o);
    if (rc != FMRT_OK) {
        std::fprintf(stderr, "probe: open %s: %s\n", path, fmrt_error_message());
        return status_to_exit(rc);
    }
    void *p = fmrt_malloc(rt, size);
    if (p == nullptr) return 60;
    fill_pattern(p, size, seed);
    if (fmrt_runtime_sync(rt) != FMRT_OK) return 61;
    std::printf("%" PRIu64 "\n", fmrt_ptr_to_offset(rt, p));
    std::fflush(stdout);
    for (;;) pause();  // until the test kills us
}

int main(int argc, char **argv) {
    if (argc < 2) return usage();
    std::string cmd = argv[1];
    if (cmd == "open" && argc == 4) return open_and_close(argv[2], argv[3]);
    if (cmd == "hold" && argc == 5)
        return hold(argv[2], std::strtoull(argv[3], nullptr, 10), std::strtoull(argv[4], nullptr, 10),
                    FMRT_MODE_PERSISTENT);
    if (cmd == "scratch-hold" && argc == 5)
        return hold(argv[2], std::strtoull(argv[3], nullptr, 10), std::strtoull(argv[4], nullptr, 10),
                    FMRT_MODE_SCRATCH);
    return usage();
}
