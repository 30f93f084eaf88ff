#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Tests of the fmrt command-line tool.

Runs the built `fmrt` on heap files made by fmrt-test-fixture and checks
what it prints (text and JSON), its exit statuses (0 healthy, 1 problems,
2 usage or I/O error) and that it changes only what it must.

usage: test_cli.py FMRT FIXTURE [unittest arguments]
"""
import contextlib
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import unittest

FMRT = None
FIXTURE = None

COMMANDS = ["info", "ls", "stat", "verify", "repair", "copy"]

# name -> (size, type, metadata bytes): what fixture.c's populate() puts.
BASE_ENTRIES = {
    "alpha": (100, 1, 5),
    "beta": (70000, 2, 0),
    "gamma": (16, 3, 100),
    "caf\u00e9": (32, 4, 0),
    "tab\there": (8, 5, 1),
    "empty": (0, 0, 0),
}


def entries(extra=0):
    e = dict(BASE_ENTRIES)
    for i in range(extra):
        e["item-%03d" % i] = (1 + i * 37, 100 + i, i % 7)
    return e


def fmrt(*args, **kw):
    r = subprocess.run([FMRT, *args], capture_output=True, timeout=60, **kw)
    r.out = r.stdout.decode("utf-8", "replace")
    r.err = r.stderr.decode("utf-8", "replace")
    return r


def read(path):
    with open(path, "rb") as f:
        return f.read()


class CliTest(unittest.TestCase):
    def setUp(self):
        self._dir = tempfile.TemporaryDirectory(prefix="fmrt-cli-")
        self.dir = self._dir.name

    def tearDown(self):
        self._dir.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def make(self, kind, name=None, n=None):
        path = self.path(name or kind + ".heap")
        args = [FIXTURE, kind, path] + ([str(n)] if n is not None else [])
        r = subprocess.run(args, capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.fixture_output = r.stdout.decode()
        return path

    @contextlib.contextmanager
    def held_open(self, path):
        """The heap at `path` open read-write by another process."""
        p = subprocess.Popen([FIXTURE, "hold", path], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            self.assertEqual(p.stdout.readline(), b"ready\n")
            yield
        finally:
            p.stdin.close()
            p.wait(timeout=60)
            p.stdout.close()

    def assert_ok(self, r, status=0):
        self.assertEqual(r.returncode, status, "stdout: %s\nstderr: %s" % (r.out, r.err))

    def assert_error(self, r, command, path=None, detail=None):
        """Exit 2 and exactly one line on stderr: "fmrt: CMD: PATH: ..."."""
        self.assertEqual(r.returncode, 2, "stdout: %s\nstderr: %s" % (r.out, r.err))
        self.assertEqual(r.err.count("\n"), 1, r.err)
        prefix = "fmrt: %s: " % command if command else "fmrt: "
        if path is not None:
            prefix += path + ": "
        self.assertTrue(r.err.startswith(prefix), r.err)
        if detail is not None:
            self.assertIn(detail, r.err)

    def ls_json(self, path):
        r = fmrt("ls", "--json", path)
        self.assert_ok(r)
        return json.loads(r.out)


class Global(CliTest):
    def test_help_lists_every_command(self):
        for flag in ("--help", "-h"):
            r = fmrt(flag)
            self.assert_ok(r)
            self.assertEqual(r.err, "")
            for c in COMMANDS:
                self.assertRegex(r.out, r"\n  %s " % c)

    def test_every_command_has_help(self):
        for c in COMMANDS:
            for flag in ("--help", "-h"):
                r = fmrt(c, flag)
                self.assert_ok(r)
                self.assertTrue(r.out.startswith("usage: fmrt %s " % c), r.out)
                self.assertIn("--help", r.out)
                self.assertEqual(r.err, "")

    def test_help_wins_over_missing_operands(self):
        self.assert_ok(fmrt("copy", "--help"))

    def test_version_prints_the_library_version(self):
        r = fmrt("--version")
        self.assert_ok(r)
        self.assertRegex(r.out, r"^fmrt \d+\.\d+\.\d+\n$")

    def test_usage_errors_exit_2_with_one_line(self):
        heap = self.make("heap")
        cases = [
            ([], None, "missing command"),
            (["frobnicate", heap], None, "unknown command 'frobnicate'"),
            (["--bogus"], None, "unknown option '--bogus'"),
            (["ls"], "ls", "missing FILE"),
            (["info"], "info", "missing FILE"),
            (["stat", heap, heap], "stat", "unexpected argument"),
            (["ls", "--bogus", heap], "ls", "unknown option '--bogus'"),
            (["ls", "-z", heap], "ls", "unknown option '-z'"),
            (["ls", "--json=yes", heap], "ls", "takes no argument"),
            (["info", "--json", heap], "info", "unknown option '--json'"),
            (["verify", "--dry-run", heap], "verify", "unknown option '--dry-run'"),
            (["repair", "--reclaim"], "repair", "missing FILE"),
            (["copy", heap], "copy", "missing DST"),
            (["copy"], "copy", "missing SRC and DST"),
            (["copy", heap, self.path("a"), self.path("b")], "copy", "unexpected argument"),
            (["ls", ""], "ls", "empty file name"),
        ]
        before = read(heap)
        for args, command, detail in cases:
            with self.subTest(args=args):
                r = fmrt(*args)
                self.assert_error(r, command, None, detail)
                self.assertEqual(r.out, "")
        self.assertEqual(read(heap), before)
        self.assertEqual(sorted(os.listdir(self.dir)), ["heap.heap"])

    def test_options_may_follow_the_file(self):
        heap = self.make("heap")
        self.assertEqual(len(json.loads(fmrt("ls", heap, "--json").out)), len(BASE_ENTRIES))

    def test_a_write_error_on_stdout_exits_2(self):
        heap = self.make("heap")
        with open("/dev/full", "w") as full:
            r = subprocess.run([FMRT, "ls", heap], stdout=full, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr.count(b"\n"), 1)


class NotAHeap(CliTest):
    """Files that are not heaps: exit 2, one line naming the file, unchanged."""

    def files(self):
        rng = random.Random(7)
        made = {}
        for name, data in [("random.bin", bytes(rng.randrange(256) for _ in range(100000))),
                           ("empty.bin", b""),
                           ("short.bin", b"FMRTHEAP"),
                           ("magic.bin", b"FMRTHEAP" + bytes(20000))]:
            with open(self.path(name), "wb") as f:
                f.write(data)
            made[self.path(name)] = data
        return made

    def test_every_command_refuses_a_file_that_is_not_a_heap(self):
        for path, data in self.files().items():
            for args in (["info"], ["ls"], ["ls", "--json"], ["stat"], ["stat", "--json"], ["verify"],
                         ["verify", "--json"], ["repair"], ["repair", "--dry-run"]):
                with self.subTest(path=path, args=args):
                    r = fmrt(*args, path)
                    self.assert_error(r, args[0], path)
                    self.assertEqual(r.out, "")
                    self.assertEqual(read(path), data)
            r = fmrt("copy", path, self.path("copy.heap"))
            self.assert_error(r, "copy", path)
            self.assertFalse(os.path.exists(self.path("copy.heap")))

    def test_the_detail_is_the_librarys_message(self):
        self.files()
        r = fmrt("info", self.path("empty.bin"))
        self.assertEqual(r.err, "fmrt: info: %s: empty file, not a libfmrt heap\n" % self.path("empty.bin"))
        r = fmrt("verify", self.path("random.bin"))
        self.assert_error(r, "verify", self.path("random.bin"), "not a libfmrt heap")

    def test_a_missing_file_or_a_directory_is_an_error(self):
        missing = self.path("missing.heap")
        for c in ("info", "ls", "stat", "verify", "repair"):
            self.assert_error(fmrt(c, missing), c, missing, "no such file")
            self.assert_error(fmrt(c, self.dir), c, self.dir)
        self.assertFalse(os.path.exists(missing))
        self.assert_error(fmrt("copy", missing, self.path("x")), "copy", missing, "no such file")


class Info(CliTest):
    def test_info_shows_identity_and_totals(self):
        heap = self.make("heap", n=4)
        r = fmrt("info", heap)
        self.assert_ok(r)
        fields = dict(re.findall(r"^([a-z ]+): +(.*)$", r.out, re.M))
        self.assertEqual(fields["path"], heap)
        self.assertRegex(fields["format version"], r"^1\.\d+$")
        self.assertRegex(fields["uuid"], r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
        self.assertRegex(fields["created"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertTrue(fields["file size"].startswith("%d bytes" % os.path.getsize(heap)))
        self.assertRegex(fields["max size"], r"^\d+ bytes")
        self.assertEqual(fields["last close"], "clean")
        self.assertEqual(fields["catalog entries"], str(len(entries(4))))
        self.assertGreaterEqual(int(fields["live allocations"]), len(entries(4)))
        self.assertRegex(fields["in use"], r"^\d+ bytes")
        self.assertRegex(fields["free"], r"^\d+ bytes")
        self.assertRegex(fields["fragmentation"], r"^\d+\.\d%$")

    def test_two_heaps_have_different_uuids(self):
        a, b = self.make("heap", "a.heap"), self.make("heap", "b.heap")
        uuid = lambda p: re.search(r"^uuid: +(\S+)$", fmrt("info", p).out, re.M).group(1)
        self.assertNotEqual(uuid(a), uuid(b))

    def test_info_reports_an_unclean_close(self):
        heap = self.make("unclean")
        r = fmrt("info", heap)
        self.assert_ok(r)
        self.assertRegex(r.out, r"last close: +unclean")

    def test_read_only_commands_leave_the_file_unchanged(self):
        for kind in ("heap", "unclean", "transient", "damaged"):
            heap = self.make(kind)
            before, mtime = read(heap), os.stat(heap).st_mtime_ns
            for args in (["info"], ["ls"], ["ls", "--json"], ["stat"], ["stat", "--json"], ["verify"]):
                fmrt(*args, heap)
            self.assertEqual(read(heap), before, kind)
            self.assertEqual(os.stat(heap).st_mtime_ns, mtime, kind)

    def test_a_heap_open_for_writing_is_busy(self):
        heap = self.make("heap")
        with self.held_open(heap):
            for args in (["info"], ["ls"], ["stat"], ["verify"], ["repair"], ["repair", "--dry-run"]):
                self.assert_error(fmrt(*args, heap), args[0], heap, "open")


class Ls(CliTest):
    def test_ls_lists_every_entry_in_name_order(self):
        heap = self.make("heap", n=3)
        r = fmrt("ls", heap)
        self.assert_ok(r)
        lines = r.out.splitlines()
        self.assertEqual(lines[0].split(), ["TYPE", "SIZE", "OFFSET", "META", "CREATED", "NAME"])
        want = entries(3)
        order = sorted(want, key=lambda n: n.encode())
        shown = [line.split(None, 5)[5] for line in lines[1:]]
        self.assertEqual(shown, [n.replace("\t", "\\x09") for n in order])
        for line in lines[1:]:
            typ, size, offset, meta, created, name = line.split(None, 5)
            name = name.replace("\\x09", "\t")
            self.assertEqual((int(size), int(typ), int(meta)), want[name], line)
            self.assertRegex(created, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
            self.assertEqual(int(offset) == 0, want[name][0] == 0, line)

    def test_ls_escapes_control_characters(self):
        heap = self.make("heap")
        r = fmrt("ls", heap)
        self.assertIn("tab\\x09here", r.out)
        self.assertNotIn("\t", r.out)
        self.assertIn("caf\u00e9", r.out)

    def test_ls_json_has_every_entry_with_sizes_and_types(self):
        heap = self.make("heap", n=20)
        got = self.ls_json(heap)
        want = entries(20)
        self.assertEqual([e["name"] for e in got], sorted(want, key=lambda n: n.encode()))
        for e in got:
            self.assertEqual((e["size"], e["type"], e["meta_bytes"]), want[e["name"]], e)
            self.assertEqual(set(e), {"name", "type", "size", "offset", "meta_bytes", "created", "created_unix_ns"})
            self.assertEqual(e["offset"] == 0, e["size"] == 0)
            self.assertGreater(e["created_unix_ns"], 0)

    def test_ls_of_an_empty_catalog(self):
        heap = self.make("empty")
        self.assertEqual(self.ls_json(heap), [])
        r = fmrt("ls", heap)
        self.assert_ok(r)
        self.assertEqual(len(r.out.splitlines()), 1)


class Stat(CliTest):
    def test_stat_histogram_adds_up(self):
        heap = self.make("heap", n=10)
        r = fmrt("stat", "--json", heap)
        self.assert_ok(r)
        s = json.loads(r.out)
        self.assertEqual(s["catalog_entries"], len(entries(10)))
        classes = s["classes"]
        self.assertTrue(all(c["live"] > 0 for c in classes))
        self.assertEqual([c["class_size"] for c in classes], sorted(c["class_size"] for c in classes))
        self.assertEqual(sum(c["live"] for c in classes) + s["large"]["live"], s["live_allocations"])
        self.assertEqual(sum(c["bytes"] for c in classes) + s["large"]["bytes"], s["in_use_bytes"])
        self.assertGreaterEqual(s["large"]["live"], 1)  # beta: 70000 bytes
        self.assertEqual(s["transient_allocations"], 0)
        self.assertTrue(s["clean_last_close"])

    def test_stat_text_shows_nonempty_rows_and_large_last(self):
        heap = self.make("heap")
        r = fmrt("stat", heap)
        self.assert_ok(r)
        table = r.out.split("\n\n", 1)[1].splitlines()
        self.assertEqual(table[0].split(), ["CLASS", "LIVE", "BYTES"])
        self.assertEqual(table[-1].split()[0], "large")
        for row in table[1:]:
            self.assertGreater(int(row.split()[1]), 0, row)
        self.assertRegex(r.out, r"catalog entries: +6\n")

    def test_stat_counts_leftover_transients(self):
        heap = self.make("transient", n=3)
        self.assertEqual(json.loads(fmrt("stat", "--json", heap).out)["transient_allocations"], 3)


class Verify(CliTest):
    def test_verify_of_a_healthy_heap_exits_0(self):
        heap = self.make("heap", n=5)
        r = fmrt("verify", heap)
        self.assert_ok(r)
        self.assertIn("%s: no problems" % heap, r.out)
        self.assertRegex(r.out, r"catalog entries: +11\n")
        j = json.loads(fmrt("verify", "--json", heap).out)
        self.assertTrue(j["healthy"])
        self.assertEqual(j["report"]["problem_count"], 0)
        self.assertEqual(j["report"]["catalog_entries"], 11)
        self.assertEqual(j["report"]["problems"], [])

    def test_verify_of_a_damaged_heap_exits_1_and_names_the_problem(self):
        heap = self.make("damaged")
        r = fmrt("verify", heap)
        self.assert_ok(r, 1)
        self.assertIn("%s: 1 problem" % heap, r.out)
        self.assertRegex(r.out, r"offset \d+ \(damage\): catalog record at \d+ is damaged")
        self.assertRegex(r.out, r"damaged records: +1\n")
        r = fmrt("verify", "--json", heap)
        self.assert_ok(r, 1)
        j = json.loads(r.out)
        self.assertFalse(j["healthy"])
        self.assertEqual(j["report"]["damaged_records"], 1)
        [p] = j["report"]["problems"]
        self.assertEqual(p["kind"], "damage")
        self.assertIn("damaged", p["what"])
        self.assertIn(str(p["offset"]), p["what"])

    def test_verify_names_a_damaged_superblock_copy_and_repair_rewrites_it(self):
        heap = self.make("heap", n=2)
        with open(heap, "r+b") as f:
            f.seek(4096 + 40)
            b = f.read(1)
            f.seek(4096 + 40)
            f.write(bytes([b[0] ^ 0x10]))
        r = fmrt("verify", heap)
        self.assert_ok(r)  # the other copy is in use: no problem
        self.assertIn("superblock copy 1 (offset 4096) fails its check; copy 0 is in use", r.out)
        j = json.loads(fmrt("verify", "--json", heap).out)
        self.assertTrue(j["healthy"])
        self.assertEqual(j["report"]["superblock_damaged"], [False, True])
        self.assertGreaterEqual(j["report"]["repairs"], 1)
        self.assert_ok(fmrt("repair", heap))
        r = fmrt("verify", heap)
        self.assert_ok(r)
        self.assertNotIn("superblock copy", r.out)
        self.assertEqual(json.loads(fmrt("verify", "--json", heap).out)["report"]["superblock_damaged"],
                         [False, False])

    def test_verify_counts_transients_and_unreachable_without_calling_them_problems(self):
        self.assertEqual(json.loads(fmrt("verify", "--json", self.make("transient", n=2)).out)
                         ["report"]["transient_allocations"], 2)
        j = json.loads(fmrt("verify", "--json", self.make("unreachable")).out)
        self.assertEqual(j["report"]["unreachable_allocations"], 1)
        self.assertTrue(j["healthy"])


class Repair(CliTest):
    def test_dry_run_changes_nothing_and_reports_the_repairs(self):
        heap = self.make("damaged")
        before = read(heap)
        r = fmrt("repair", "--dry-run", heap)
        self.assert_ok(r, 1)
        self.assertIn("nothing written", r.out)
        self.assertRegex(r.out, r"repairs that would be made: [1-9]")
        self.assertRegex(r.out, r"catalog record at \d+ is damaged")
        r = fmrt("repair", "--dry-run", "--json", heap)
        self.assert_ok(r, 1)
        j = json.loads(r.out)
        self.assertFalse(j["applied"])
        self.assertGreater(j["found"]["repairs"], 0)
        self.assertIsNone(j["after"])
        self.assertEqual(read(heap), before)
        self.assertEqual(fmrt("verify", heap).returncode, 1)

    def test_repair_fixes_a_damaged_record_and_keeps_the_good_ones(self):
        heap = self.make("damaged")
        r = fmrt("repair", heap)
        self.assert_ok(r)
        self.assertRegex(r.out, r"repairs made: [1-9]")
        self.assertIn("after repair: no problems", r.out)
        self.assert_ok(fmrt("verify", heap))
        names = {e["name"] for e in self.ls_json(heap)}
        self.assertEqual(names, set(BASE_ENTRIES) - {"gamma"})
        for e in self.ls_json(heap):
            self.assertEqual((e["size"], e["type"], e["meta_bytes"]), BASE_ENTRIES[e["name"]])
        # Nothing left to do.
        j = json.loads(fmrt("repair", "--dry-run", "--json", heap).out)
        self.assertEqual(j["found"]["repairs"], 0)

    def test_repair_json_reports_before_and_after(self):
        heap = self.make("damaged")
        r = fmrt("repair", "--json", heap)
        self.assert_ok(r)
        j = json.loads(r.out)
        self.assertTrue(j["applied"] and j["healthy"])
        self.assertEqual(j["found"]["problem_count"], 1)
        self.assertEqual(j["after"]["problem_count"], 0)
        self.assertEqual(j["after"]["catalog_entries"], len(BASE_ENTRIES) - 1)

    def test_repair_frees_leftover_transient_allocations(self):
        heap = self.make("transient", n=3)
        before = read(heap)
        r = fmrt("repair", "--dry-run", heap)
        self.assert_ok(r)  # leftovers are not problems
        self.assertIn("transient allocations to free: 3", r.out)
        self.assertIn("repairs that would be made: 3", r.out)
        self.assertEqual(read(heap), before)
        self.assert_ok(fmrt("repair", heap))
        self.assertEqual(json.loads(fmrt("stat", "--json", heap).out)["transient_allocations"], 0)
        self.assertEqual(len(self.ls_json(heap)), len(BASE_ENTRIES))

    def test_reclaim_frees_allocations_no_entry_names(self):
        heap = self.make("unreachable")
        self.assert_ok(fmrt("repair", heap))  # without --reclaim: kept
        self.assertEqual(json.loads(fmrt("verify", "--json", heap).out)["report"]["unreachable_allocations"], 1)
        r = fmrt("repair", "--reclaim", "--json", heap)
        self.assert_ok(r)
        j = json.loads(r.out)
        self.assertTrue(j["reclaim"])
        self.assertEqual(j["found"]["repairs"], 1)
        self.assertEqual(j["after"]["unreachable_allocations"], 0)
        self.assertEqual(len(self.ls_json(heap)), len(BASE_ENTRIES))

    def test_repair_of_a_healthy_heap_exits_0(self):
        heap = self.make("heap")
        r = fmrt("repair", heap)
        self.assert_ok(r)
        self.assertIn("repairs made: 0", r.out)


class Copy(CliTest):
    def assert_same_catalog(self, a, b):
        self.assertEqual(self.ls_json(a), self.ls_json(b))

    def test_copy_is_identical_verifies_and_lists_the_same(self):
        src, dst = self.make("heap", n=8), self.path("copy.heap")
        r = fmrt("copy", src, dst)
        self.assert_ok(r)
        self.assertIn("verify %s: no problems" % dst, r.out)
        self.assertEqual(read(src), read(dst))
        self.assert_same_catalog(src, dst)
        self.assert_ok(fmrt("verify", dst))
        self.assertEqual(os.stat(src).st_mode, os.stat(dst).st_mode)
        self.assertEqual(sorted(os.listdir(self.dir)), ["copy.heap", "heap.heap"])  # no temporary left

    def test_copy_refuses_an_existing_destination(self):
        src, dst = self.make("heap"), self.path("taken")
        with open(dst, "wb") as f:
            f.write(b"mine")
        r = fmrt("copy", src, dst)
        self.assert_error(r, "copy", dst, "already exists")
        self.assertEqual(read(dst), b"mine")
        self.assert_error(fmrt("copy", src, src), "copy", src, "already exists")
        os.symlink(self.path("nowhere"), self.path("link"))
        self.assert_error(fmrt("copy", src, self.path("link")), "copy", self.path("link"), "already exists")
        self.assertFalse(os.path.exists(self.path("nowhere")))

    def test_copy_of_a_heap_open_for_writing_is_refused(self):
        src, dst = self.make("heap"), self.path("copy.heap")
        with self.held_open(src):
            r = fmrt("copy", src, dst)
        self.assert_error(r, "copy", src, "open read-write by another process")
        self.assertEqual(sorted(os.listdir(self.dir)), ["heap.heap"])
        self.assert_ok(fmrt("copy", src, dst))  # the writer is gone

    def test_copy_into_a_missing_directory_fails(self):
        src = self.make("heap")
        dst = self.path("no/such/dir.heap")
        self.assert_error(fmrt("copy", src, dst), "copy", dst)

    def test_copy_of_a_damaged_heap_reports_its_problems(self):
        src, dst = self.make("damaged"), self.path("copy.heap")
        r = fmrt("copy", src, dst)
        self.assert_ok(r, 1)
        self.assertIn("verify %s: 1 problem" % dst, r.out)
        self.assertEqual(read(src), read(dst))

    def test_copy_keeps_holes(self):
        src, dst = self.make("holed"), self.path("copy.heap")
        hole_off, hole_len = map(int, self.fixture_output.split())
        with open(src, "rb") as f:  # the source really has the hole
            self.assertGreaterEqual(os.lseek(f.fileno(), hole_off, os.SEEK_HOLE), hole_off)
            try:
                self.assertGreaterEqual(os.lseek(f.fileno(), hole_off, os.SEEK_DATA), hole_off + hole_len)
            except OSError:  # ENXIO: nothing but hole after it
                pass
        r = fmrt("copy", src, dst)
        self.assert_ok(r)
        self.assertRegex(r.out, r"method: (sparse copy|reflink)")
        self.assertEqual(read(src), read(dst))
        st = os.stat(dst)
        self.assertLess(st.st_blocks * 512, st.st_size - hole_len // 2)
        self.assert_same_catalog(src, dst)


class NeverCrash(CliTest):
    """Mutated heaps: every command exits 0, 1 or 2 (never a signal), an
    error is one line, read-only commands change nothing, and a repair that
    says it succeeded leaves a file that verifies."""

    def test_mutated_heaps(self):
        rng = random.Random(1234)
        base = bytearray(read(self.make("heap", n=6)))
        target = self.path("mutant.heap")
        for i in range(40):
            data = bytearray(base)
            mode = i % 4
            if mode == 0:
                for _ in range(rng.randrange(1, 20)):
                    data[rng.randrange(8192, len(data))] ^= 1 << rng.randrange(8)
            elif mode == 1:
                page = rng.randrange(2, len(data) // 4096) * 4096
                for k in range(rng.randrange(1, 64)):
                    data[page + k] = rng.randrange(256)
            elif mode == 2:
                for _ in range(50):
                    data[rng.randrange(0, 65536)] = rng.randrange(256)
            else:
                data = data[:rng.randrange(0, len(data))]
            with open(target, "wb") as f:
                f.write(data)
            for args in (["info"], ["ls", "--json"], ["stat"], ["verify", "--json"], ["repair", "--dry-run"]):
                r = fmrt(*args, target)
                with self.subTest(i=i, args=args):
                    self.assertIn(r.returncode, (0, 1, 2), r.err)
                    if r.returncode == 2:
                        self.assertEqual(r.err.count("\n"), 1, r.err)
                    elif args[-1] == "--json":
                        json.loads(r.out)
                    self.assertEqual(read(target), bytes(data))
            r = fmrt("repair", target)
            self.assertIn(r.returncode, (0, 1, 2), r.err)
            if r.returncode == 0:
                self.assert_ok(fmrt("verify", target))


def main():
    global FMRT, FIXTURE
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    FMRT, FIXTURE = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)


if __name__ == "__main__":
    main()
