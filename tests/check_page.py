#!/usr/bin/env python3
"""Static checks on the page trunk built (dist/): the Content-Security-Policy allows only the
page's own origin to be contacted, every inline script the page carries is allowed by its sha256
(so the CSP needs no 'unsafe-inline'), no built file names another origin, and every file the
sample list names was copied (the page skips a sample file it cannot fetch).

Usage: tests/check_page.py DIST_DIR
"""
import base64
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

if failures:
    print("\n".join(failures))
    sys.exit(1)
print(f"page checks passed ({dist})")
