#!/usr/bin/env python3
# run_demo_twice.py - the test behind fmrt-demo: run it three times on one
# heap in a fresh temporary directory and check that runs 2 and 3 find the
# data run 1 wrote (same pid, same time, same checksum), then that --reset
# deletes the heap and nothing but heaps.
#
# usage: run_demo_twice.py PATH/TO/fmrt-demo
# SPDX-License-Identifier: GPL-2.0-or-later
import os
import re
import subprocess
import sys
import tempfile


def run(demo, *args):
    proc = subprocess.run([demo, *args], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=120)
    print(f"$ fmrt-demo {' '.join(args)}  (exit {proc.returncode})")
    print(proc.stdout)
    if proc.returncode != 0:
        sys.exit(f"FAIL: fmrt-demo {' '.join(args)} exited {proc.returncode}")
    return proc.stdout


def expect(pattern, text, what):
    m = re.search(pattern, text, re.MULTILINE)
    if not m:
        sys.exit(f"FAIL: {what}: no line matches {pattern!r}")
    return m


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: run_demo_twice.py PATH/TO/fmrt-demo")
    demo = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="fmrt-demo-test-") as tmp:
        heap = os.path.join(tmp, "demo.heap")

        out1 = run(demo, heap)
        expect(r"^created a new heap$", out1, "run 1")
        m = expect(r"^run 1: wrote (\d+) records as pid (\d+) at (.+)$", out1, "run 1")
        count, pid, when = m.group(1), m.group(2), m.group(3)
        checksum = expect(r"checksum ([0-9a-f]{16})$", out1, "run 1").group(1)

        for n in (2, 3):
            out = run(demo, heap)
            expect(r"^opened an existing heap$", out, f"run {n}")
            expect(r'^root "fmrt-demo/root" found in the catalog at offset \d+', out,
                   f"run {n}")
            expect(rf"^checksum {checksum} matches \({count} records\)$", out, f"run {n}")
            expect(rf"^run {n}: found the same data written by run 1 "
                   rf"\(pid {pid} at time {re.escape(when)}\)$", out, f"run {n}")
            found = re.findall(r"^  found record ", out, re.MULTILINE)
            if len(found) != int(count):
                sys.exit(f"FAIL: run {n} listed {len(found)} records, not {count}")
            expect(r"^  live_allocations\s+\d+$", out, f"run {n} stats")

        run(demo, "--reset", heap)
        if os.path.exists(heap):
            sys.exit("FAIL: --reset left the heap behind")
        out = run(demo, heap)
        expect(r"^created a new heap$", out, "run after --reset")

        # --reset deletes only heaps, never another file.
        other = os.path.join(tmp, "not-a-heap.txt")
        with open(other, "w") as f:
            f.write("precious data\n")
        proc = subprocess.run([demo, "--reset", other], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=120)
        print(f"$ fmrt-demo --reset not-a-heap.txt  (exit {proc.returncode})")
        print(proc.stdout)
        if proc.returncode == 0 or not os.path.exists(other):
            sys.exit("FAIL: --reset deleted a file that is not a heap")
    print("PASS: runs 2 and 3 found the data run 1 wrote")


if __name__ == "__main__":
    main()
