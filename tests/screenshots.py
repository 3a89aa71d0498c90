#!/usr/bin/env python3
"""Takes the README's screenshots of the built page (`trunk build --release` first):
docs/web-main-view.png (the bundled sample phantom-9003 analysed on the CPU path, with its wall
sectors drawn) and
docs/web-teaching-view.png (its teaching view). Not a test; run by hand after the page or the
default model changes:

    python3 tests/screenshots.py dist docs
"""
import base64
import pathlib
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import browser_test as bt  # noqa: E402


def main():
    out = pathlib.Path(sys.argv[2])
    server, port = bt.serve()
    d = bt.Driver(pathlib.Path(tempfile.mkdtemp(prefix="scarseg-shots-")), webgpu=False)
    try:
        d.get(f"http://127.0.0.1:{port}/?device=cpu")
        d.wait("return document.querySelector('[data-testid=model-sha]')", "the default model")
        d.wait("return document.querySelectorAll('[data-testid=sample]').length > 0", "samples")
        d.js("[...document.querySelectorAll('[data-testid=sample]')]"
             ".find(b => b.innerText.includes('phantom-9003')).click()")
        d.wait("return [...document.querySelectorAll('[data-testid=file-status]')]"
               ".some(e => e.innerText.startsWith('done'))", "the sample's result")
        # The wall sectors, whose red arcs mark the transmural ones.
        d.js("document.querySelector('[data-testid=overlay-sectors]').click()")
        d.wait("return document.querySelector('[data-testid=overlay-sectors]').checked", "sectors")
        shot = d.call("GET", d.s("/screenshot"))
        (out / "web-main-view.png").write_bytes(base64.b64decode(shot))
        d.js("document.querySelector('[data-testid=teaching-toggle]').click()")
        d.wait("return document.querySelectorAll('[data-testid=cag-maps] canvas').length == 5",
               "the teaching view")
        d.js("document.querySelector('.teaching').scrollIntoView()")
        element = d.find(".teaching")
        shot = d.call("GET", d.s(f"/element/{element}/screenshot"))
        (out / "web-teaching-view.png").write_bytes(base64.b64decode(shot))
        print(f"wrote {out / 'web-main-view.png'} and {out / 'web-teaching-view.png'}")
    finally:
        d.quit()
        server.shutdown()


if __name__ == "__main__":
    bt.DIST = pathlib.Path(sys.argv[1]).resolve()
    main()
