#!/usr/bin/env python3
"""Takes the README's screenshots of the built page (`trunk build --release` first):
docs/web-main-view.png (the bundled sample phantom-9003 analysed on the CPU path, with its wall
sectors drawn), docs/web-teaching-view.png (its teaching view), and, for the bundled DICOM series
with the RV insertion suggested from the image, docs/web-aha-view.png (the segments over the image),
docs/web-aha-segments.png (the bull's-eye) and docs/web-report.png (its report), and docs/web-correct.png (the heart with scar
painted along its wall by a brush stroke and the brush's outline). Not a test; run by hand after the page or the
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
        # The DICOM sample, its RV insertion suggested from the image (the phantom put it at
        # 346 degrees, cases.json), as a user starts.
        d.js("document.querySelector('[data-testid=teaching-toggle]').click()")
        d.js("[...document.querySelectorAll('[data-testid=sample]')]"
             ".find(b => b.innerText.includes('DICOM')).click()")
        d.wait("const s = [...document.querySelectorAll('[data-testid=file-status]')];"
               "return s.length == 2 && s[1].innerText.startsWith('done')", "the series' result")
        bt.open_file(d, "phantom-9201")
        d.js("document.querySelector('[data-testid=aha-suggest]').click()")
        d.wait("return document.querySelectorAll('[data-testid=aha-segment]').length == 16", "the bull's-eye")
        # The segments alone over the image (the sectors off), the slice fitted to the view.
        d.js("document.querySelector('[data-testid=overlay-sectors]').click()")
        d.js("document.querySelector('.viewer').scrollIntoView()")
        viewer = d.find("[data-testid=view]")
        aha = d.find(".aha")
        (out / "web-aha-view.png").write_bytes(
            base64.b64decode(d.call("GET", d.s(f"/element/{viewer}/screenshot"))))
        d.js("document.querySelector('.aha').scrollIntoView()")
        (out / "web-aha-segments.png").write_bytes(
            base64.b64decode(d.call("GET", d.s(f"/element/{aha}/screenshot"))))
        # The report with its AHA columns filled: the summary, the flag's weighing, where in the
        # wall the scar lies, and the table.
        report = d.find("[data-testid=report]")
        d.js("document.querySelector('[data-testid=report]').scrollIntoView()")
        (out / "web-report.png").write_bytes(
            base64.b64decode(d.call("GET", d.s(f"/element/{report}/screenshot"))))
        # A correction by hand: scar painted along the lateral wall, the brush's outline where the
        # pointer rests.
        d.js("document.querySelector('.viewer').scrollIntoView()")
        d.js("""const s = document.querySelector('[data-testid=correct-tool]');
                s.value = 'paint scar'; s.dispatchEvent(new Event('change', {bubbles: true}));""")
        # The segments' numbers off. The wall found by its cyan overlay on the canvas; the stroke
        # runs along its middle from 20 to 60 degrees clockwise from 12 o'clock (anterolateral,
        # where the phantom drew no scar), and the pointer rests on it at 260.
        d.js("[...document.querySelectorAll('.aha label')].find(l => l.innerText.includes('show on the image'))"
             ".querySelector('input').click()")
        d.js("""const b = document.querySelector('[data-testid=brush]');
                b.value = '4'; b.dispatchEvent(new Event('input', {bubbles: true}));""")
        d.js("""const c = document.querySelector('[data-testid=view]');
                const r = c.getBoundingClientRect();
                const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                const wall = [];
                for (let i = 0; i < c.width * c.height; i++)
                    if (px[4 * i + 2] > px[4 * i] + 40) wall.push([i % c.width + 0.5, Math.floor(i / c.width) + 0.5]);
                const cx = wall.reduce((s, p) => s + p[0], 0) / wall.length;
                const cy = wall.reduce((s, p) => s + p[1], 0) / wall.length;
                const radius = wall.reduce((s, p) => s + Math.hypot(p[0] - cx, p[1] - cy), 0) / wall.length;
                const at = deg => {
                    const a = deg * Math.PI / 180;
                    return [r.left + (cx + radius * Math.sin(a)) / c.width * r.width,
                            r.top + (cy - radius * Math.cos(a)) / c.height * r.height];
                };
                const pts = [20, 30, 40, 50, 60].map(at);
                // The button held through the drag, as a mouse reports it (a move without it
                // lifts the brush).
                pts.forEach(([x, y], i) => c.dispatchEvent(new MouseEvent(i ? 'mousemove' : 'mousedown',
                    {bubbles: true, clientX: x, clientY: y, buttons: 1})));
                c.dispatchEvent(new MouseEvent('mouseup', {bubbles: true}));
                const [x, y] = at(260);
                c.dispatchEvent(new MouseEvent('mousemove', {bubbles: true, clientX: x, clientY: y}));
                window.heartBox = [r.left + window.scrollX + cx / c.width * r.width,
                                   r.top + window.scrollY + cy / c.height * r.height,
                                   radius / c.width * r.width];""")
        d.wait("return !document.querySelector('[data-testid=correct-status]').innerText.startsWith('0 pixel')",
               "the stroke")
        # The heart and the corrections' controls: two clips of the page, stacked in one PNG is
        # beyond the standard library, so the heart's clip alone, at twice the scale, with the
        # controls' row above it in the page's own layout is left to the README's text.
        cx, cy, radius = d.js("return window.heartBox")
        half = 3.2 * radius
        clip = {"x": cx - half, "y": cy - half, "width": 2 * half, "height": 2 * half, "scale": 2}
        shot = d.call("POST", d.s("/goog/cdp/execute"),
                      {"cmd": "Page.captureScreenshot", "params": {"clip": clip, "captureBeyondViewport": True}})
        (out / "web-correct.png").write_bytes(base64.b64decode(shot["data"]))
        print(f"wrote {out / 'web-main-view.png'}, {out / 'web-teaching-view.png'}, "
              f"{out / 'web-aha-view.png'}, {out / 'web-aha-segments.png'}, {out / 'web-report.png'} "
              f"and {out / 'web-correct.png'}")
    finally:
        d.quit()
        server.shutdown()


if __name__ == "__main__":
    bt.DIST = pathlib.Path(sys.argv[1]).resolve()
    main()
