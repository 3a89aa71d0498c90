#!/usr/bin/env python3
"""Takes the README's screenshot of the web app: a bundled sample analysed on the CPU path.

Usage: tests/screenshot.py DIST_DIR OUT.png
"""
import base64
import pathlib
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import browser_test as bt  # noqa: E402

out = pathlib.Path(sys.argv[2])
server, port = bt.serve()
d = bt.Driver(pathlib.Path(tempfile.mkdtemp()), webgpu=False)
try:
    d.get(f"http://127.0.0.1:{port}/?device=cpu")
    d.wait("return document.querySelector('[data-testid=model-sha]')", "the model")
    d.wait("return document.querySelectorAll('[data-testid=sample]').length > 0", "samples")
    d.js("document.querySelectorAll('[data-testid=sample]')[3].click()")
    d.wait("return [...document.querySelectorAll('[data-testid=file-status]')]"
           ".some(e => e.innerText.startsWith('done'))", "the sample's result")
    d.keys("\ue015")
    png = base64.b64decode(d.call("GET", d.s("/screenshot")))
    out.write_bytes(png)
    print(f"wrote {out} ({len(png)} bytes)")
finally:
    d.quit()
    server.shutdown()
