// Hostile files: every file of the corpus (the output of make_corpus, made
// at test time, and every reproducer kept in regressions/) goes through
// fmrt_verify_path, read-only and read-write fmrt_runtime_open, and dry-run
// and applied fmrt_repair_path.  The calls on one file run in a forked child
// (a new one goes on after a crash or a hang), each with a time limit, so a
// crash or a hang is a test failure naming the file and the call, with the
// sanitizer's report, never a dead test run.
//
// What must hold for every file, whatever it holds:
//   - every call returns FMRT_OK or a typed error (FMRT_EFORMAT, FMRT_EVERSION;
//     FMRT_ENOMEM where the manifest allows it), and never crashes or hangs;
//   - verify, read-only open and a dry-run repair leave the file byte for
//     byte as it was (and its mtime); so does a refused read-write open;
//   - after a repair that returned FMRT_OK the file opens and verifies with
//     0 problems;
//   - open and verify answer what the manifest expects of that variant.
// A summary table (how many files gave which result for each call) is printed.
#include "test_util.h"

#include <poll.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <sstream>
#include <thread>

using namespace fmrt_test;

namespace {

// ---- The calls, in a child process per file ---------------------------------------

const char *const kSteps[] = {"verify_path", "open read-only", "repair dry run", "open read-write",
                              "repair apply", "after repair"};
constexpr int kNumSteps = 6;
constexpr int kDone = -1;  // the step number of the child's last message

// What a child reports about one call (plain data, sent through a pipe).
struct StepResult {
    int step = kDone;
    int rc = 0;              // the call's status
    int rc2 = 0;             // a follow-up status (close, or the final verify_path)
    uint64_t problems = 0;   // verify problems (of the call, or of fmrt_runtime_verify)
    uint64_t problems2 = 0;  // problems of the follow-up verify_path
    uint64_t repairs = 0;
    uint64_t entries = 0;    // catalog entries iterated
    char detail[200] = {};   // fmrt_error_message() after the call
    char changed[200] = {};  // how the call changed a file it must not change ("" if it did not)
};

enum class Ending { kReturned, kCrashed, kHung, kNotRun };

struct Outcome {
    Ending how = Ending::kNotRun;
    StepResult r;
    std::string why;  // for a crash or a hang
};

int step_timeout_ms() {
    const char *env = std::getenv("FMRT_CORPUS_TIMEOUT_MS");
    return env && *env ? std::atoi(env) : 10000;
}

void keep_detail(StepResult *r) { std::snprintf(r->detail, sizeof r->detail, "%s", fmrt_error_message()); }

void check_unchanged(const FileSnapshot &before, const std::string &path, StepResult *r) {
    ::testing::AssertionResult same = Unchanged(before, path);
    if (!same) std::snprintf(r->changed, sizeof r->changed, "%s", same.message());
}

bool send(int fd, const StepResult &r) {
    const char *p = reinterpret_cast<const char *>(&r);
    size_t done = 0;
    while (done < sizeof r) {
        ssize_t n = write(fd, p + done, sizeof r - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += static_cast<size_t>(n);
    }
    return true;
}

// The interesting lines of a child's stderr: a sanitizer's headline and the
// top frames of its stack, or the last lines.
std::string report_lines(const std::string &text) {
    std::istringstream in(text);
    std::string line, out;
    int frames = 0;
    bool seen = false;
    while (std::getline(in, line)) {
        const bool head = line.find("runtime error") != std::string::npos || line.find("ERROR: ") != std::string::npos;
        if (head && !seen) {
            seen = true;
            out += "\n    " + line;
        } else if (seen && line.find("    #") == 0 && frames < 8) {
            out += "\n    " + line;
            ++frames;
        }
    }
    if (!seen && !text.empty()) out = "\n    " + text.substr(text.size() > 600 ? text.size() - 600 : 0);
    return out;
}
// ---- What a runtime that opened shows -------------------------------------------

// Iterates the catalog, reading every name, every metadata byte and the
// first and last byte of every named allocation.  Returns the entry count.
uint64_t walk_catalog(fmrt_runtime *rt) {
    uint64_t n = 0;
    std::string after;
    fmrt_entry e = FMRT_ENTRY_INIT;
    volatile unsigned sink = 0;
    while (n < 1000000 && fmrt_catalog_next(&e, rt, n ? after.c_str() : nullptr) == FMRT_OK) {
        after.assign(e.name, e.name_len);
        for (size_t i = 0; i < e.meta_len; ++i) sink = sink + static_cast<const unsigned char *>(e.meta)[i];
        if (e.ptr != nullptr && e.size > 0) {
            sink = sink + static_cast<const unsigned char *>(e.ptr)[0];
            sink = sink + static_cast<const unsigned char *>(e.ptr)[e.size - 1];
        }
        ++n;
    }
    return n;
}

// Opens `path`; when it opens: fmrt_runtime_verify, the catalog walk,
// statistics and close.
void open_and_look(const std::string &path, unsigned flags, StepResult *r) {
    fmrt_options o = FMRT_OPTIONS_INIT;
    o.flags = flags;
    fmrt_runtime *rt = nullptr;
    r->rc = fmrt_runtime_open(&rt, path.c_str(), &o);
    keep_detail(r);
    if (r->rc != FMRT_OK) return;
    fmrt_report rep = FMRT_REPORT_INIT;
    if (fmrt_runtime_verify(&rep, rt) == FMRT_OK) r->problems = rep.problems;
    else r->problems = ~uint64_t{0};
    r->entries = walk_catalog(rt);
    fmrt_stats s = FMRT_STATS_INIT;
    (void)fmrt_runtime_stats(&s, rt);
    r->rc2 = fmrt_runtime_close(rt);
}

// ---- The corpus ---------------------------------------------------------------------

struct Expectation {
    std::string open = "any", verify = "any", why;
};

struct CorpusFile {
    std::string path, name;
    Expectation exp;
};

std::map<std::string, Expectation> read_manifest(const std::string &dir) {
    std::map<std::string, Expectation> m;
    if (!path_exists(dir + "/MANIFEST.tsv")) return m;
    std::istringstream in(read_file(dir + "/MANIFEST.tsv"));
    std::string line;
    while (std::getline(in, line)) {
        std::vector<std::string> f;
        std::string cell;
        std::istringstream ls(line);
        while (std::getline(ls, cell, '\t')) f.push_back(cell);
        if (f.size() >= 3) m[f[0]] = Expectation{f[1], f[2], f.size() > 3 ? f[3] : ""};
    }
    return m;
}

std::vector<CorpusFile> list_corpus(const std::string &dir, const std::string &prefix) {
    std::vector<CorpusFile> files;
    auto manifest = read_manifest(dir);
    std::vector<std::string> names = TempDir::list_directory(dir);
    std::sort(names.begin(), names.end());
    for (const std::string &n : names) {
        if (n == "MANIFEST.tsv" || n == "README" || n == "meson.build" || n[0] == '.') continue;
        CorpusFile f{dir + "/" + n, prefix + n, Expectation{}};
        auto it = manifest.find(n);
        if (it != manifest.end()) f.exp = it->second;
        files.push_back(f);
    }
    return files;
}

// ---- The child: every call on one file ---------------------------------------------------

// Paths of one file's run: the file itself and the two copies the writing
// calls get.
struct FilePaths {
    std::string orig, rw, fixed;
};

// One call of the sequence (see child_steps), its result in *r.
void run_step(int step, const FilePaths &p, const FileSnapshot &orig, const FileSnapshot &rw_before, StepResult *r) {
    fmrt_report rep = FMRT_REPORT_INIT;
    switch (step) {
    case 0:  // verify_path: never writes, whatever the file holds
        r->rc = fmrt_verify_path(&rep, p.orig.c_str());
        keep_detail(r);
        r->problems = rep.problems;
        r->repairs = rep.repairs;
        check_unchanged(orig, p.orig, r);
        break;
    case 1:  // read-only open: never writes either
        open_and_look(p.orig, FMRT_OPEN_READONLY, r);
        check_unchanged(orig, p.orig, r);
        break;
    case 2:  // a dry-run repair counts and never writes
        r->rc = fmrt_repair_path(&rep, p.orig.c_str(), 0);
        keep_detail(r);
        r->problems = rep.problems;
        r->repairs = rep.repairs;
        check_unchanged(orig, p.orig, r);
        break;
    case 3:  // read-write open of a copy: a refusal leaves it as it was
        open_and_look(p.rw, 0, r);
        if (r->rc != FMRT_OK) check_unchanged(rw_before, p.rw, r);
        break;
    case 4:  // repair applied to another copy
        r->rc = fmrt_repair_path(&rep, p.fixed.c_str(), FMRT_REPAIR_APPLY);
        keep_detail(r);
        r->problems = rep.problems;
        r->repairs = rep.repairs;
        break;
    case 5: {  // the repaired copy opens and verifies clean
        open_and_look(p.fixed, 0, r);
        if (r->rc != FMRT_OK) break;
        r->rc2 = fmrt_verify_path(&rep, p.fixed.c_str());
        r->problems2 = rep.problems;
        if (r->rc2 != FMRT_OK) keep_detail(r);
        else if (rep.problems != 0) std::snprintf(r->detail, sizeof r->detail, "%s", rep.first[0].what);
        break;
    }
    }
}

// Runs steps first..5 on one file and sends one StepResult per step, then
// a kDone message.  `orig` is the file's content before any call.  Each
// call runs on a thread of its own that then ends, so whatever a call
// leaves in thread-local state (thread caches) is torn down inside the step.
void child_steps(int first, const FilePaths &p, const FileSnapshot &orig, const FileSnapshot &rw_before, int fd) {
    bool repaired = false;
    for (int step = first; step < kNumSteps; ++step) {
        StepResult r;
        r.step = step;
        if (step == 5 && !repaired) {
            r.step = kDone;
            send(fd, r);
            return;
        }
        std::thread t([&] { run_step(step, p, orig, rw_before, &r); });
        t.join();
        if (step == 4) repaired = r.rc == FMRT_OK;
        if (!send(fd, r)) _exit(3);
    }
    StepResult done;
    send(fd, done);
}

// ---- Results and the summary table ------------------------------------------------------

const char *const kColumns[] = {"OK clean", "OK problems", "EFORMAT", "EVERSION", "ENOMEM", "other", "crash", "hang"};
constexpr int kNumColumns = 8;

int column_of(const Outcome &o) {
    if (o.how == Ending::kCrashed) return 6;
    if (o.how == Ending::kHung) return 7;
    switch (o.r.rc) {
    case FMRT_OK: return o.r.problems == 0 ? 0 : 1;
    case FMRT_EFORMAT: return 2;
    case FMRT_EVERSION: return 3;
    case FMRT_ENOMEM: return 4;
    default: return 5;
    }
}

bool open_matches(const std::string &exp, int rc) {
    if (exp == "ok") return rc == FMRT_OK;
    if (exp == "eformat") return rc == FMRT_EFORMAT;
    if (exp == "eversion") return rc == FMRT_EVERSION;
    if (exp == "refuse") return rc == FMRT_EFORMAT || rc == FMRT_EVERSION;
    if (exp == "any+enomem") return rc == FMRT_OK || rc == FMRT_EFORMAT || rc == FMRT_EVERSION || rc == FMRT_ENOMEM;
    return rc == FMRT_OK || rc == FMRT_EFORMAT || rc == FMRT_EVERSION;  // "any"
}

bool verify_matches(const std::string &exp, int rc, uint64_t problems) {
    if (exp == "clean") return rc == FMRT_OK && problems == 0;
    if (exp == "damaged") return (rc == FMRT_OK && problems > 0) || rc == FMRT_EFORMAT || rc == FMRT_EVERSION;
    if (exp == "eformat") return rc == FMRT_EFORMAT;
    if (exp == "eversion") return rc == FMRT_EVERSION;
    return rc == FMRT_OK || rc == FMRT_EFORMAT || rc == FMRT_EVERSION;  // "any"
}

std::string describe(const Outcome &o) {
    if (o.how != Ending::kReturned) return o.why;
    std::string s = status_name(o.r.rc);
    if (o.r.rc == FMRT_OK) s += ", " + std::to_string(o.r.problems) + " problems";
    if (o.r.detail[0]) s += " (\"" + std::string(o.r.detail) + "\")";
    return s;
}

class CorpusRun {
public:
    explicit CorpusRun(const std::string &work)
        : paths_{"", work + "/rw.heap", work + "/repair.heap"}, stderr_path_(work + "/stderr.txt") {}

    void run(const CorpusFile &f);
    void print_summary() const;
    size_t failures() const { return failures_; }

private:
    void run_children(const FileSnapshot &orig, const FileSnapshot &rw_before, Outcome *out);
    void check(const CorpusFile &f, const Outcome *o);
    void fail(const CorpusFile &f, int step, const std::string &what) {
        ++failures_;
        ADD_FAILURE() << f.name << ": " << kSteps[step] << ": " << what << "  [" << f.exp.why << "]";
    }

    FilePaths paths_;
    std::string stderr_path_;
    uint64_t table_[kNumSteps][kNumColumns] = {};
    size_t failures_ = 0;
};

// Runs the steps in children: one child normally; after a crash or a hang,
// a new child goes on with the next step.
void CorpusRun::run_children(const FileSnapshot &orig, const FileSnapshot &rw_before, Outcome *out) {
    int next = 0;
    while (next < kNumSteps) {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
        std::fflush(stdout);
        std::fflush(stderr);
        const pid_t pid = fork();
        if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
        if (pid == 0) {
            close(fds[0]);
            int err = open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (err >= 0) dup2(err, STDERR_FILENO);
            child_steps(next, paths_, orig, rw_before, fds[1]);
            _exit(0);
        }
        close(fds[1]);
        bool finished = false, hung = false;
        StepResult r;
        size_t got = 0;
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(step_timeout_ms());
        for (;;) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) {
                hung = true;
                break;
            }
            pollfd pfd{fds[0], POLLIN, 0};
            int n = poll(&pfd, 1, static_cast<int>(left.count()));
            if (n < 0 && errno == EINTR) continue;
            if (n == 0) continue;
            ssize_t k = read(fds[0], reinterpret_cast<char *>(&r) + got, sizeof r - got);
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) break;  // the child is gone
            got += static_cast<size_t>(k);
            if (got < sizeof r) continue;
            got = 0;
            if (r.step == kDone) {
                finished = true;
                break;
            }
            if (r.step >= 0 && r.step < kNumSteps) {
                out[r.step].how = Ending::kReturned;
                out[r.step].r = r;
                next = r.step + 1;
            }
            deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(step_timeout_ms());
        }
        close(fds[0]);
        if (hung) kill(pid, SIGKILL);
        const ChildStatus st = wait_child(pid);
        if (finished && st.exited && st.code == 0) return;
        // Step `next` did not answer.
        if (next >= kNumSteps) return;
        std::string err;
        try {
            err = read_file(stderr_path_);
        } catch (const std::exception &) {
        }
        std::ostringstream why;
        if (hung) why << "no answer after " << step_timeout_ms() << " ms (killed)";
        else why << "child " << st;
        why << report_lines(err);
        if (!err.empty()) std::fprintf(stderr, "---- stderr of the child ----\n%s----\n", err.c_str());
        out[next].how = hung ? Ending::kHung : Ending::kCrashed;
        out[next].why = why.str();
        // Without a repair there is nothing to check after it.
        next += next == 4 ? 2 : 1;
    }
}

void CorpusRun::run(const CorpusFile &f) {
    const FileSnapshot orig = FileSnapshot::of(f.path);
    paths_.orig = f.path;
    write_file(paths_.rw, orig.bytes);
    write_file(paths_.fixed, orig.bytes);
    const FileSnapshot rw_before = FileSnapshot::of(paths_.rw);
    Outcome out[kNumSteps];
    run_children(orig, rw_before, out);
    check(f, out);
}

void CorpusRun::check(const CorpusFile &f, const Outcome *o) {
    const Expectation &exp = f.exp;
    for (int s = 0; s < kNumSteps; ++s) {
        if (o[s].how == Ending::kNotRun) continue;
        ++table_[s][column_of(o[s])];
        if (o[s].how != Ending::kReturned) {
            fail(f, s, (o[s].how == Ending::kHung ? "HANG: " : "CRASH: ") + o[s].why);
            continue;
        }
        if (o[s].r.changed[0]) fail(f, s, std::string("modified a file it must not modify: ") + o[s].r.changed);
        const StepResult &r = o[s].r;
        switch (s) {
        case 0:
            if (!verify_matches(exp.verify, r.rc, r.problems)) {
                fail(f, s, "got " + describe(o[s]) + ", expected " + exp.verify);
            }
            break;
        case 1:
        case 3:
            if (!open_matches(exp.open, r.rc)) fail(f, s, "got " + describe(o[s]) + ", expected " + exp.open);
            if (r.rc == FMRT_OK && r.rc2 != FMRT_OK) fail(f, s, "close returned " + status_name(r.rc2));
            break;
        case 2:
            if (!open_matches("any", r.rc)) fail(f, s, "got " + describe(o[s]));
            if (o[0].how == Ending::kReturned && r.rc != o[0].r.rc) {
                fail(f, s, "got " + describe(o[s]) + " where verify_path got " + describe(o[0]));
            }
            break;
        case 4:
            if (!open_matches("any+enomem", r.rc)) fail(f, s, "got " + describe(o[s]));
            break;
        case 5:
            if (r.rc != FMRT_OK) {
                fail(f, s, "a repaired file does not open: " + describe(o[s]));
            } else if (r.problems != 0 || r.problems2 != 0 || r.rc2 != FMRT_OK) {
                fail(f, s, "a repaired file still has problems: fmrt_runtime_verify " + std::to_string(r.problems) +
                               ", verify_path " + status_name(r.rc2) + " with " + std::to_string(r.problems2) +
                               " (\"" + r.detail + "\")");
            }
            break;
        }
    }
}

void CorpusRun::print_summary() const {
    std::printf("\n%-16s", "call");
    for (const char *c : kColumns) std::printf(" %11s", c);
    std::printf("\n");
    for (int s = 0; s < kNumSteps; ++s) {
        std::printf("%-16s", kSteps[s]);
        for (int c = 0; c < kNumColumns; ++c) std::printf(" %11llu", static_cast<unsigned long long>(table_[s][c]));
        std::printf("\n");
    }
    std::printf("(\"after repair\": open read-write, fmrt_runtime_verify and verify_path of each file whose repair "
                "returned FMRT_OK; \"OK problems\" for an open: fmrt_runtime_verify found problems)\n\n");
    std::fflush(stdout);
}

// ---- The tests ----------------------------------------------------------------------------

std::string env_or(const char *name, const std::string &fallback) {
    const char *v = std::getenv(name);
    return v && *v ? v : fallback;
}

// The corpus and the copies live in /dev/shm when it can hold them: every
// read-write close and repair syncs, and a sync on tmpfs costs nothing.
// FMRT_CORPUS_TMPDIR chooses another place.
TempDir *make_work_dir() {
    std::string where = env_or("FMRT_CORPUS_TMPDIR", "");
    if (where.empty() && access("/dev/shm", W_OK) == 0 && free_disk_bytes("/dev/shm") > 2 * GiB) where = "/dev/shm";
    if (where.empty()) return new TempDir();
    const char *old = std::getenv("TMPDIR");
    const std::string saved = old ? old : "";
    setenv("TMPDIR", where.c_str(), 1);
    TempDir *d = new TempDir();
    if (old) setenv("TMPDIR", saved.c_str(), 1);
    else unsetenv("TMPDIR");
    return d;
}

class Corpus : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = make_work_dir();
        const std::string gen = env_or("FMRT_MAKE_CORPUS", "");
        if (gen.empty()) return;
        std::string out;
        ChildStatus st = run_program({gen, dir_->file("corpus")}, &out);
        std::printf("%s", out.c_str());
        generated_ = st.exited && st.code == 0;
    }
    static void TearDownTestSuite() {
        delete dir_;
        dir_ = nullptr;
    }

    static TempDir *dir_;
    static bool generated_;
};

TempDir *Corpus::dir_ = nullptr;
bool Corpus::generated_ = false;

TEST_F(Corpus, GeneratorWritesTheCorpusAndItsManifest) {
    ASSERT_FALSE(env_or("FMRT_MAKE_CORPUS", "").empty()) << "FMRT_MAKE_CORPUS names no generator";
    ASSERT_TRUE(generated_) << "make_corpus failed";
    auto files = list_corpus(dir_->file("corpus"), "");
    EXPECT_GE(files.size(), 300u);
    size_t with_expectation = 0;
    for (const auto &f : files) with_expectation += f.exp.why.empty() ? 0 : 1;
    EXPECT_EQ(with_expectation, files.size()) << "every generated file has a manifest line";
    EXPECT_TRUE(path_exists(dir_->file("corpus/base")));
    EXPECT_TRUE(path_exists(dir_->file("corpus/empty")));
}

// The base heap itself is healthy: otherwise every expectation below is moot.
TEST_F(Corpus, BaseHeapOpensAndVerifiesClean) {
    ASSERT_TRUE(generated_);
    fmrt_report rep = FMRT_REPORT_INIT;
    const std::string base = dir_->file("corpus/base");
    ASSERT_FMRT_OK(fmrt_verify_path(&rep, base.c_str()));
    EXPECT_EQ(rep.problems, 0u) << rep.first[0].what;
    EXPECT_GE(rep.catalog_entries, 8u);
    EXPECT_GE(rep.transient_allocations, 1u);
    EXPECT_GE(rep.free_spans, 1u);
    EXPECT_GE(rep.large_allocations, 1u);
}

TEST_F(Corpus, EveryFileIsOpenedOrRefusedWithoutCrashHangOrWrite) {
    ASSERT_TRUE(generated_);
    std::vector<CorpusFile> files = list_corpus(dir_->file("corpus"), "");
    const std::string regressions = env_or("FMRT_CORPUS_REGRESSIONS", "");
    size_t kept = 0;
    if (!regressions.empty() && path_exists(regressions)) {
        auto more = list_corpus(regressions, "regressions/");
        kept = more.size();
        files.insert(files.end(), more.begin(), more.end());
    }
    // Under valgrind every call costs a hundredfold: a sample of the
    // generated files (every 16th) and every kept reproducer.
    if (on_valgrind()) {
        std::vector<CorpusFile> sample;
        for (size_t i = 0; i < files.size(); ++i)
            if (i % 16 == 0 || i >= files.size() - kept) sample.push_back(files[i]);
        files.swap(sample);
    }
    const std::string work = dir_->file("work");
    ASSERT_EQ(mkdir(work.c_str(), 0755), 0);
    CorpusRun run(work);
    const auto t0 = std::chrono::steady_clock::now();
    for (const auto &f : files) run.run(f);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("\n%zu files (%zu generated, %zu kept reproducers) in %.1f s, %zu failures\n", files.size(),
                files.size() - std::min(kept, files.size()), kept, secs, run.failures());
    run.print_summary();
}

}  // namespace
