#!/usr/bin/env python3
"""Static checks on the page trunk built (dist/): the Content-Security-Policy allows only the
page's own origin to be contacted, every inline script the page carries is allowed by its sha256
(so the CSP needs no 'unsafe-inline'), no built file names another origin, and every file the
sample list names was copied (the page skips a sample file it cannot fetch), and neither wasm
module has its exports wrapped in the linker's constructor call (each call from JavaScript into
Rust re-ran every static constructor; `run_constructors_once` in web/src/lib.rs).

Usage: tests/check_page.py DIST_DIR
"""
import base64
import collections
import hashlib
import json
import pathlib
import re
import sys

dist = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "dist")
html = (dist / "index.html").read_text()
failures = []

csp_match = re.search(r'http-equiv="Content-Security-Policy"\s+content="([^"]+)"', html)
if not csp_match:
    failures.append("index.html has no Content-Security-Policy meta tag")
    csp = ""
else:
    csp = csp_match.group(1)
directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
if directives.get("connect-src") != ["'self'"]:
    failures.append(f"connect-src must be exactly 'self', found {directives.get('connect-src')}")
if directives.get("default-src") != ["'self'"]:
    failures.append(f"default-src must be exactly 'self', found {directives.get('default-src')}")
if "'unsafe-inline'" in directives.get("script-src", []):
    failures.append("script-src allows 'unsafe-inline'")

for body in re.findall(r"<script[^>]*>(.*?)</script>", html, re.S):
    digest = "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
    if digest not in directives.get("script-src", []):
        failures.append(f"inline script not allowed by the CSP: add {digest} to script-src")

for path in dist.rglob("*"):
    if path.suffix in {".html", ".js", ".css", ".json"}:
        text = path.read_text(errors="replace")
        if path.suffix == ".js":
            # Comments are not requests (wasm-bindgen's glue links documentation in them).
            text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
            text = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("//"))
        for url in re.findall(r"""(?:https?:|wss?:)//[^\s"'<>)]+""", text):
            # Namespace identifiers are not requests.
            if url.startswith("http://www.w3.org/"):
                continue
            failures.append(f"{path.relative_to(dist)} names another origin: {url}")

samples = json.loads((dist / "samples" / "index.json").read_text())
for sample in samples:
    for name in sample["files"] + [sample["labels"]]:
        if not (dist / "samples" / name).is_file():
            failures.append(f"sample {sample['name']!r}: samples/{name} is not in {dist}")
# The teaching samples of scar that spares the endocardium (scripts/make-samples.sh).
for pattern in ("mid-wall", "subepicardial"):
    if not any(s["name"].endswith(f"({pattern})") for s in samples):
        failures.append(f"samples/index.json lists no {pattern} sample")



def leb128(data, at):
    """An unsigned LEB128 number at `at`, and where it ends."""
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


def first_callees(data):
    """For each function a wasm module exports, the function its body calls first if its first
    instruction is a call (else None), read from the import, export and code sections."""
    at, imported, exported, bodies = 8, 0, [], []
    while at < len(data):
        section, at = data[at], at + 1
        size, at = leb128(data, at)
        end = at + size
        if section == 2:  # imports: count the functions among them
            count, j = leb128(data, at)
            for _ in range(count):
                for _ in range(2):  # module and field names
                    n, j = leb128(data, j)
                    j += n
                kind, j = data[j], j + 1
                if kind == 0:  # function: a type index
                    imported += 1
                    _, j = leb128(data, j)
                elif kind in (1, 2):  # table (element type first) or memory: limits
                    j += kind == 1
                    flags, j = leb128(data, j)
                    _, j = leb128(data, j)
                    if flags & 1:
                        _, j = leb128(data, j)
                elif kind == 3:  # global: value type, mutability
                    j += 2
                else:  # tag: attribute, type index
                    _, j = leb128(data, j + 1)
        elif section == 7:
            count, j = leb128(data, at)
            for _ in range(count):
                n, j = leb128(data, j)
                j += n
                kind, j = data[j], j + 1
                index, j = leb128(data, j)
                if kind == 0:
                    exported.append(index)
        elif section == 10:
            count, j = leb128(data, at)
            for _ in range(count):
                n, j = leb128(data, j)
                bodies.append(j)
                j += n
        at = end
    out = []
    for index in exported:
        if index < imported:
            continue
        groups, j = leb128(data, bodies[index - imported])
        for _ in range(groups):  # local declarations: a count and a type each
            _, j = leb128(data, j)
            j += 1
        out.append(leb128(data, j + 1)[0] if data[j] == 0x10 else None)
    return out


# wasm-ld wraps every export of a module that never calls `__wasm_call_ctors` itself in
# "call the constructors, then the function": many exports then begin by calling one function.
for path in sorted(dist.glob("*.wasm")):
    callees = collections.Counter(c for c in first_callees(path.read_bytes()) if c is not None)
    callee, n = callees.most_common(1)[0] if callees else (None, 0)
    if n >= 5:
        failures.append(f"{path.name}: {n} exported functions begin by calling function {callee}: "
                        "the linker's constructor wrapper (is run_constructors_once still called "
                        "first in main?)")

if failures:
    print("\n".join(failures))
    sys.exit(1)
print(f"page checks passed ({dist})")
