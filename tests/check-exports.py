#!/usr/bin/env python3
"""The shared libvae exports exactly what its public headers declare.

    check-exports.py --nm NM --objdump OBJDUMP --soname SONAME LIBVAE.so HEADER...

Every function a public header declares must carry VAE_API (before it on
the same line, or on the line above) and be exported;
nothing else may be (libvae is built with hidden visibility, so a private
function leaks only by a stray VAE_API or a build without it).  The library's
SONAME must be SONAME (libvae.so.MAJOR).  Exits 1 listing the differences.
"""

import argparse
import re
import subprocess
import sys

# Symbols every shared object defines, none of them libvae's.
ELF_SPECIALS = {"_init", "_fini", "_edata", "_end", "__bss_start"}

DECLARATION = re.compile(r"\b(vae_[a-z0-9_]+)\s*\(")


def declared(headers):
    """Functions declared at file scope: {name: has VAE_API}."""
    found = {}
    for path in headers:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
        depth = 0
        previous = ""
        for line in text.split("\n"):
            stripped = line.strip()
            marked = stripped.startswith("VAE_API ")
            if marked:
                line = stripped = stripped[len("VAE_API "):]
            if (depth == 0 and line and not line[0].isspace() and
                    not stripped.startswith(("#", "typedef", "}", "{", "G_",
                                             "VAE_API"))):
                match = DECLARATION.search(line)
                if match:
                    found[match.group(1)] = marked or previous == "VAE_API"
            depth += line.count("{") - line.count("}")
            if stripped:
                previous = stripped
    return found


def exported(nm, library):
    out = subprocess.run([nm, "-D", "--defined-only", library],
                         check=True, capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] not in ELF_SPECIALS:
            names.add(parts[2].split("@")[0])
    return names


def soname(objdump, library):
    out = subprocess.run([objdump, "-p", library],
                         check=True, capture_output=True, text=True).stdout
    match = re.search(r"^\s*SONAME\s+(\S+)", out, flags=re.M)
    return match.group(1) if match else None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--nm", required=True)
    parser.add_argument("--objdump", required=True)
    parser.add_argument("--soname", required=True)
    parser.add_argument("library")
    parser.add_argument("headers", nargs="+")
    args = parser.parse_args()

    functions = declared(args.headers)
    symbols = exported(args.nm, args.library)
    problems = []
    for name in sorted(n for n, api in functions.items() if not api):
        problems.append(f"declared without VAE_API: {name}")
    for name in sorted(set(functions) - symbols):
        problems.append(f"declared but not exported: {name}")
    for name in sorted(symbols - set(functions)):
        problems.append(f"exported but not declared: {name}")
    got = soname(args.objdump, args.library)
    if got != args.soname:
        problems.append(f"SONAME is {got}, expected {args.soname}")

    print(f"{len(functions)} functions declared, {len(symbols)} symbols "
          f"exported, SONAME {got}")
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
