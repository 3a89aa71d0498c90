#!/usr/bin/env python3
"""Takes the README's screenshots of the web app on the CPU path: the main view with a bundled
sample analysed, and the teaching view on the same slice.

Usage: tests/screenshot.py DIST_DIR MAIN.png TEACHING.png
"""
import base64
import pathlib
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import browser_test as bt  # noqa: E402

main_png, teaching_png = pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
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
    main_png.write_bytes(png)
    print(f"wrote {main_png} ({len(png)} bytes)")

    d.js("document.querySelector('[data-testid=teaching-toggle]').click()")
    d.wait("return document.querySelectorAll('[data-testid=ase-stage]').length == 4", "the teaching view")
    d.js("const e = document.querySelector('[data-testid=noise-n]'); e.value = '5';"
         "e.dispatchEvent(new Event('change', {bubbles: true}));"
         "document.querySelector('[data-testid=noise-run]').click()")
    d.wait("return document.querySelector('[data-testid=noise-result]')", "the noise result")
    # Tall enough for the whole section: an element screenshot stops at the viewport.
    d.call("POST", d.s("/window/rect"), {"width": 1400, "height": 2400})
    section = d.find("[data-testid=teaching]")
    png = base64.b64decode(d.call("GET", d.s(f"/element/{section}/screenshot")))
    teaching_png.write_bytes(png)
    print(f"wrote {teaching_png} ({len(png)} bytes)")
finally:
    d.quit()
    server.shutdown()
