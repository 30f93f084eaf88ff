#!/usr/bin/env python3
"""Checks that libfmrt exports exactly its public API.

Usage: check_symbols.py HEADER MAP LIBRARY

The fmrt_* functions declared with FMRT_API in HEADER, the names in the
global: section of the linker version script MAP, and the defined dynamic
symbols of LIBRARY (`nm -D --defined-only`) must be the same three sets,
and the library must export nothing else (the version node itself, an
absolute symbol named after the node, is ignored).  Exits 1 and prints
the differences otherwise.
"""

import os
import re
import subprocess
import sys


def strip_c_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def header_functions(path):
    """Names of the functions declared with FMRT_API."""
    with open(path, encoding="utf-8") as f:
        text = strip_c_comments(f.read())
    # Drop preprocessor lines (the FMRT_API definition itself).
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    names = set()
    for decl in re.finditer(r"\bFMRT_API\b([^;{]*?)\(", text, flags=re.S):
        ident = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", decl.group(1))
        if ident:
            names.add(ident[-1])
    return names


def map_symbols(path):
    """(global names, version node names) of a GNU ld version script."""
    with open(path, encoding="utf-8") as f:
        text = strip_c_comments(f.read())
    nodes = set(re.findall(r"([A-Za-z_][A-Za-z0-9_.]*)\s*\{", text))
    names = set()
    for block in re.finditer(r"global\s*:(.*?)(?:local\s*:|\})", text, flags=re.S):
        for item in block.group(1).split(";"):
            item = item.strip()
            if item:
                names.add(item)
    return names, nodes


def exported_symbols(lib):
    """(name, type) of every defined dynamic symbol, version suffix removed."""
    nm = os.environ.get("NM", "nm")
    out = subprocess.run([nm, "-D", "--defined-only", lib], check=True, capture_output=True,
                         text=True).stdout
    syms = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name, kind = parts[-1], parts[-2]
        syms.append((re.sub(r"@.*$", "", name), kind))
    return syms


def main(argv):
    if len(argv) != 4:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    header, mapfile, lib = argv[1:]
    declared = header_functions(header)
    mapped, nodes = map_symbols(mapfile)
    exported = exported_symbols(lib)

    failures = []
    if not declared:
        failures.append(f"no FMRT_API functions found in {header}")
    others = sorted(f"{n} ({k})" for n, k in exported if not n.startswith("fmrt_") and n not in nodes)
    if others:
        failures.append("exported symbols outside the API:\n    " + "\n    ".join(others))
    non_functions = sorted(f"{n} ({k})" for n, k in exported if n.startswith("fmrt_") and k not in ("T", "i"))
    if non_functions:
        failures.append("exported fmrt_ symbols that are not functions:\n    " + "\n    ".join(non_functions))
    exported_api = {n for n, _ in exported if n.startswith("fmrt_")}

    sets = {"header": declared, "map": mapped, "nm -D": exported_api}
    for a, b in (("header", "map"), ("header", "nm -D"), ("map", "nm -D")):
        only_a = sorted(sets[a] - sets[b])
        only_b = sorted(sets[b] - sets[a])
        if only_a:
            failures.append(f"in {a} but not in {b}: {', '.join(only_a)}")
        if only_b:
            failures.append(f"in {b} but not in {a}: {', '.join(only_b)}")
    bad_names = sorted(n for n in mapped if not n.startswith("fmrt_"))
    if bad_names:
        failures.append(f"map exports names without the fmrt_ prefix: {', '.join(bad_names)}")

    if failures:
        for f in failures:
            print("FAIL: " + f)
        return 1
    print(f"OK: {len(declared)} functions agree in the header, the map and nm -D; nothing else is exported")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
