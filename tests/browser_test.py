#!/usr/bin/env python3
"""The web app in a real browser: Debian's headless Chromium driven through chromedriver's W3C
WebDriver HTTP API (no client library needed).

For each device (the CPU fallback, and WebGPU on SwiftShader via --enable-unsafe-webgpu):
- a bundled sample, a DICOM series and a NIfTI stack made by `scarseg phantom`, and a corrupt
  file are analysed; the corrupt file's error is shown and the good files' results stay;
- the exported mask PNGs equal `scarseg predict`'s masks on the same files and weights (the
  differing pixel count is printed and bounded);
- slice navigation, the threshold slider and the CSV/JSON exports do what they should;
- a click marks the RV insertion: the AHA segments are `scarseg predict --rv-insertion`'s at the
  click's angle, shown on a bull's-eye and over the image; base and mirror can be changed;
- the printed report keeps the result, image and bull's-eye and drops the controls;
- a weights file that does not fit gives a clear message and the default model keeps working;
- every request goes to the page's own origin and none is a POST/PUT (no image data leaves);
- with the network cut (DevTools offline) after the first load, the page reloads from the
  service worker's cache and a new file is still analysed; on the CPU pass, a default model
  published over the kept one is used on the next visit, and offline after that.
On the CPU path also (SwiftShader would take minutes per step):
- a sample opened while the worker is still starting (its wasm held back by the test's server)
  is analysed once the worker is up;
- corrections by hand: a brush stroke that erases scar and a click that paints scar change the
  exported masks by exactly the pixels within the brush's radius of the stroke (computed here),
  the report measures the corrected outlines, counts the pixels changed and keeps the network's
  own burden beside the corrected one, a new threshold keeps the corrections, leaving the page
  asks first while there are any, and undo and revert give the network's masks back; the NIfTI
  labels exported while corrected, loaded back, give the corrected masks again with the network's
  Dice against them (computed here), and a case of another shape refuses them by name; a
  bundled sample's truth loads with one button and the report gives the network's Dice against
  it; the two samples of scar that spares the endocardium (mid-wall, subepicardial) load their
  truth, whose place in the wall the report gives as computed here from their labels;
- a ZIP archive holding ZIP archives is read as the folders they hold, to `scarseg predict`'s
  masks, a cut archive inside failing by its path;
- a file over the 512 MiB limit and one declaring an absurd image size are refused with messages
  that state the limits; cancelling a long stack stops it and the worker goes on working;
- the teaching view shows the ASE gates and excitations of 4 stages, 5 CAG attention maps and the
  probability maps, follows slice navigation, and its noise panel runs (and cancels) ScarNet's
  Monte Carlo protocol;
- a case opens fitted to the view (the whole slice, as large as the box allows, no scroll bars),
  and "fit" or f fits it again after zooming in; keys typed in a drop-down choose its options and
  do not also work the viewer's shortcuts; keys held with Ctrl, Alt or Meta stay the browser's;
- in Chromium's accessibility tree, every control has a name and every image (the slice, the
  teaching view's maps and charts) a description, the file pickers take the keyboard's focus,
  and one polite live region sums up the files' states as their rows show them;
- on a tablet held upright (820 px) the page does not scroll sideways: the report's table
  scrolls in its own box;
- a worker that dies (a real panic in its wasm, injected by the test's loader) costs the file it
  was on: that file fails with the panic's message, a new worker analyses the files after it
  with the weights the user had opened (`scarseg predict`'s burdens), and a notice says so; a
  worker whose wasm does not compile is said not to start, and a file opened then fails.
On WebGPU also: a worker that dies on WebGPU is started again on the CPU, and the device line
says why; a model whose top-k the GPU cannot be trusted with (ASE keeping all 1,024
values) moves the worker to the CPU within the check's 30 s, the device line says why, and its
masks equal `scarseg predict`'s for that model.

Usage: tests/browser_test.py DIST_DIR SCARSEG_BINARY
"""
import base64
import csv
import gzip
import hashlib
import http.server
import json
import math
import os
import pathlib
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import zipfile
import zlib

DIST = pathlib.Path(sys.argv[1]).resolve()
SCARSEG = pathlib.Path(sys.argv[2]).resolve()
ROOT = pathlib.Path(__file__).resolve().parent.parent
# A file of two stacks, from the imaging crate's good corpus (written by pydicom).
PSIR = ROOT / "crates/scarseg-imaging/tests/corpus/good/enhanced_psir.dcm"
# Slices in the compressions dicom-rs decodes only with C code or not at all, decoded in the page
# in pure Rust: near-lossless JPEG-LS by CharLS (GDCM), JPEG 2000 lossless by GDCM, and 12-bit
# lossy JPEG by DCMTK.
GOOD = ROOT / "crates/scarseg-imaging/tests/corpus/good"
JPEG_LS = GOOD / "jpeg_ls_near_lossless.dcm"
JPEG_2000 = GOOD / "jpeg2000_lossless.dcm"
JPEG_12 = GOOD / "jpeg_extended_dcmtk.dcm"
# A web PACS's study download (Python's zipfile): a series in SE1/, a NIfTI volume, a readme.
STUDY_ZIP = GOOD / "study.zip"
# Archives inside an archive: the same series as SE1.zip, the volume two archives down, a cut one.
NESTED_ZIP = GOOD / "nested.zip"
# study.zip's files as `tar czf` packs them (Python's tarfile and gzip).
STUDY_TGZ = GOOD / "study.tar.gz"
TIMEOUT = float(os.environ.get("BROWSER_TIMEOUT", "600"))
# Pixels allowed to differ between the page's masks and the CLI's (different float summation
# order in wasm and natively, and WebGPU kernels, can flip pixels whose probability is at the
# threshold). Stated in the output either way.
MAX_DIFF_FRACTION = 0.001


# WebDriver's codes for keys that have no character.
ENTER, SHIFT, LEFT, UP, RIGHT, DOWN = "\ue007", "\ue008", "\ue012", "\ue013", "\ue014", "\ue015"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Cleared, the server holds the worker's wasm back until it is set again: the page is then up
# and the worker still starting, for as long as the test needs.
WORKER_WASM = threading.Event()
WORKER_WASM.set()


# URL paths the server answers with another file than dist's: a model published over the default.
UPDATED = {}


class Quiet(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".wasm": "application/wasm", ".js": "text/javascript"}

    def __init__(self, *a, **kw):
        super().__init__(*a, directory=str(DIST), **kw)

    def do_GET(self):
        if self.path.split("?")[0].endswith("/scarseg-worker_bg.wasm"):
            WORKER_WASM.wait(timeout=120)
        super().do_GET()

    def translate_path(self, path):
        instead = UPDATED.get(urllib.parse.urlsplit(path).path)
        return str(instead) if instead else super().translate_path(path)

    def log_message(self, *a):
        pass


def serve():
    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, port


class Driver:
    def __init__(self, downloads, webgpu):
        self.port = free_port()
        self.proc = subprocess.Popen(["chromedriver", f"--port={self.port}"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(self.base + "/status", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        self.profile = tempfile.mkdtemp(prefix="scarseg-chrome-")
        args = ["--headless=new", "--no-sandbox", "--disable-gpu-sandbox",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", f"--user-data-dir={self.profile}",
                "--window-size=1400,1000"]
        if webgpu:
            args.append("--enable-unsafe-webgpu")
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": shutil.which("chromium") or "chromium",
                "args": args,
                "prefs": {"download.default_directory": str(downloads),
                          "download.prompt_for_download": False,
                          "profile.default_content_setting_values.automatic_downloads": 1},
            },
            "goog:loggingPrefs": {"performance": "ALL", "browser": "ALL"},
        }}}
        self.session = self.call("POST", "/session", caps)["sessionId"]
        self.call("POST", f"/session/{self.session}/timeouts", {"script": int(TIMEOUT * 1000)})

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT + 60) as r:
                return json.loads(r.read())["value"]
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"{method} {path}: {e.read().decode()[:500]}") from None

    def s(self, path):
        return f"/session/{self.session}{path}"

    def get(self, url):
        self.call("POST", self.s("/url"), {"url": url})

    def js(self, script, *args):
        return self.call("POST", self.s("/execute/sync"), {"script": script, "args": list(args)})

    def find(self, selector):
        v = self.call("POST", self.s("/element"), {"using": "css selector", "value": selector})
        return next(iter(v.values()))

    def upload(self, selector, paths):
        element = self.find(selector)
        self.call("POST", self.s(f"/element/{element}/value"), {"text": "\n".join(map(str, paths))})

    def keys(self, text):
        body = self.find("body")
        self.call("POST", self.s(f"/element/{body}/value"), {"text": text})

    def press(self, *keys, shift=False):
        """Key presses (WebDriver's key codes) to the focused element, Shift held through them
        when `shift`, as a keyboard sends them: keydown and keyup each."""
        actions = [{"type": "keyDown", "value": SHIFT}] if shift else []
        for k in keys:
            actions += [{"type": "keyDown", "value": k}, {"type": "keyUp", "value": k}]
        actions += [{"type": "keyUp", "value": SHIFT}] if shift else []
        self.call("POST", self.s("/actions"), {"actions": [{"type": "key", "id": "keyboard", "actions": actions}]})
        self.call("DELETE", self.s("/actions"))

    def offline(self, offline):
        self.call("POST", self.s("/chromium/network_conditions"), {"network_conditions": {
            "offline": offline, "latency": 0, "download_throughput": -1, "upload_throughput": -1}})

    def cdp(self, command, params=None):
        """A Chrome DevTools Protocol command, through chromedriver."""
        return self.call("POST", self.s("/goog/cdp/execute"),
                         {"cmd": command, "params": params or {}})

    def requests(self):
        logs = self.call("POST", self.s("/se/log"), {"type": "performance"})
        out = []
        for entry in logs:
            msg = json.loads(entry["message"])["message"]
            if msg.get("method") == "Network.requestWillBeSent":
                req = msg["params"]["request"]
                out.append((req["method"], req["url"], req.get("hasPostData", False),
                            msg["params"].get("documentURL", "")))
        return out

    def wait(self, condition_js, what, timeout=TIMEOUT):
        end = time.time() + timeout
        while time.time() < end:
            value = self.js(condition_js)
            if value:
                return value
            time.sleep(0.5)
        state = self.js("return document.body.innerText")
        # The console (the page's, and the workers' where Chromium forwards them) says what the
        # page text cannot: a worker that died, a GPU device that was lost.
        try:
            console = [f"{e.get('level')}: {e.get('message', '')[:400]}"
                       for e in self.call("POST", self.s("/se/log"), {"type": "browser"})]
        except RuntimeError as e:
            console = [f"(no console log: {e})"]
        raise AssertionError(f"timed out waiting for {what}; page says:\n{state[:3000]}\n"
                             "console (last 40 entries):\n" + "\n".join(console[-40:]))

    def quit(self):
        try:
            self.call("DELETE", self.s(""))
        finally:
            self.proc.terminate()
            shutil.rmtree(self.profile, ignore_errors=True)


def read_png(path):
    """(rows, cols, bytes) of an 8-bit grey PNG, decoded by hand (zlib + filters)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
            assert (depth, colour) == (8, 0), f"{path}: not 8-bit grey"
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    out, prev = bytearray(), bytearray(width)
    for r in range(height):
        f = raw[r * (width + 1)]
        line = bytearray(raw[r * (width + 1) + 1:(r + 1) * (width + 1)])
        for i in range(width):
            a = line[i - 1] if i else 0
            b = prev[i]
            c = prev[i - 1] if i else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out += line
        prev = line
    return height, width, bytes(out)


def wait_files(directory, names, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        if all((directory / n).is_file() for n in names) and not list(directory.glob("*.crdownload")):
            return
        time.sleep(0.3)
    raise AssertionError(f"downloads missing: {[n for n in names if not (directory / n).is_file()]}")


def open_file(d, name):
    """Selects the file whose row starts with `name` and waits until the report shows it."""
    rows = d.js("return [...document.querySelectorAll('[data-testid=file-row] button')].map(b => b.innerText)")
    index = next(i for i, r in enumerate(rows) if r.startswith(name))
    d.js(f"document.querySelectorAll('[data-testid=file-row] button')[{index}].click()")
    d.wait(f"return document.querySelector('[data-testid=stack-summary]')?.innerText.startsWith('{name}')",
           f"{name} selected")


def opened_while_the_worker_starts(d, origin):
    """A sample opened while the worker is still starting (the server holds its wasm back) is
    analysed once the worker is up: a message that reaches a worker before its wasm has set a
    handler is dropped, and such a file stayed "queued" for ever. The session's first load, so
    that no service worker or cache stands between the page and the server holding the wasm."""
    WORKER_WASM.clear()
    try:
        d.get(f"{origin}/?device=cpu")
        d.wait("return document.querySelectorAll('[data-testid=sample]').length > 0", "samples")
        d.js("[...document.querySelectorAll('[data-testid=sample]')]"
             ".find(b => b.innerText.includes('phantom-9001')).click()")
        d.wait("return document.querySelectorAll('[data-testid=file-row]').length == 1",
               "the sample's row")
        line = d.js("return document.querySelector('[data-testid=device]').innerText")
        assert "starting" in line, f"the worker was not starting when the sample was opened: {line}"
    finally:
        WORKER_WASM.set()
    status = d.wait("const s = document.querySelector('[data-testid=file-status]').innerText;"
                    "return s.startsWith('done') || s.startsWith('failed') ? s : null",
                    "the sample opened while the worker started", timeout=180)
    print(f"[cpu] a sample opened while the device line said {line.splitlines()[0]!r}: {status}")
    assert status.startswith("done"), status


def folder_with_other_files(d, tmp, series):
    """A folder as a CD export holds one: a DICOM series beside a viewer program, an autorun
    file and a readme, and a file named like an image that is not one. Opened with the folder
    picker, the series is analysed and the broken file fails with its reason; the other files
    are left out in one note, not each shown as a failed file."""
    cd = tmp / "cd"
    shutil.copytree(series, cd / "DICOM")
    (cd / "AUTORUN.INF").write_text("[autorun]\nopen=viewer.exe\n")
    (cd / "viewer.exe").write_bytes(b"MZ\x90\x00\x03" + bytes(600))
    (cd / "README.TXT").write_text("Images of one study.\n")
    (cd / "DICOM" / "IM9999").write_bytes(b"not a DICOM file")
    before = d.js("return document.querySelectorAll('[data-testid=file-status]').length")
    # ChromeDriver fills a webkitdirectory input with the files below the folder given.
    d.upload("[data-testid=folder-input]", [cd])
    statuses = d.wait(f"""
        const s = [...document.querySelectorAll('[data-testid=file-status]')].slice({before})
            .map(e => e.innerText);
        return s.length == 2 && s.every(t => t.startsWith('done') || t.startsWith('failed')) ? s : null;
    """, "the folder's series and its broken file")
    print(f"[cpu] a CD-like folder: {statuses}")
    assert sum(t.startswith("done") for t in statuses) == 1, statuses
    failed = [t for t in statuses if t.startswith("failed")]
    assert len(failed) == 1 and "not a supported image" in failed[0], statuses
    note = d.js("return document.querySelector('[data-testid=left-out]')?.innerText")
    print(f"[cpu] {note}")
    assert note.startswith("From the folder opened last: left out 3 file(s) that are images neither "
                           "by their content nor by their names: "), note
    for name in ["cd/AUTORUN.INF", "cd/viewer.exe", "cd/README.TXT"]:
        assert name in note, (name, note)


def labels_beside_by_name(d, tmp):
    """A label volume opened with its image and named after it (`X_labels.nii.gz` beside
    `X.nii.gz`, as `scarseg phantom` and `scarseg predict` write them) is offered as the image's
    labels, not analysed as an image of its own, and loading it gives the corrections that
    loading it through "load labels" gives."""
    named = tmp / "named"
    named.mkdir()
    phantom = tmp / "p1"
    shutil.copy(next(p for p in phantom.glob("*.nii.gz") if "_labels" not in p.name), named / "named.nii.gz")
    shutil.copy(next(phantom.glob("*_labels.nii.gz")), named / "named_labels.nii.gz")
    rows = len(statuses(d))
    d.upload("[data-testid=file-input]", [named / "named.nii.gz", named / "named_labels.nii.gz"])
    d.wait(f"const s = [...document.querySelectorAll('[data-testid=file-status]')];"
           f"return s.length == {rows + 1} && s[{rows}].innerText.startsWith('done')",
           "the image opened with its label volume, as one file")
    time.sleep(1)
    assert len(statuses(d)) == rows + 1, statuses(d)[rows:]
    open_file(d, "named.nii.gz")
    button = d.wait("return document.querySelector('[data-testid=apply-beside]')?.innerText",
                    "the label volume offered")
    assert button == "load named_labels.nii.gz as labels", button
    d.js("document.querySelector('[data-testid=apply-beside]').click()")
    status = "return document.querySelector('[data-testid=correct-status]').innerText"
    beside = d.wait(f"const t = ({status.removeprefix('return ')}); "
                    "return t.includes(' of the stack') && !t.includes(' and 0 of the stack') ? t : null",
                    "the label volume loaded")
    d.upload("[data-testid=labels-input]", [named / "named_labels.nii.gz"])
    time.sleep(2)
    through_load = d.js(status)
    assert beside == through_load, (beside, through_load)
    assert not d.js("return document.querySelector('[data-testid=labels-error]')")
    print(f"[cpu] a label volume opened with its image: offered, not read as an image; loaded: {beside}")


def grey_png(path, rows):
    """Writes the 8-bit greyscale PNG whose rows of pixel values are `rows`."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    raw = b"".join(b"\x00" + bytes(r) for r in rows)
    header = struct.pack(">IIBBBBB", len(rows[0]), len(rows), 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
                     + chunk(b"IEND", b""))


def doubted_outline(d, tmp):
    """An image that holds no heart (a checkerboard of 8-pixel squares): the network draws
    "myocardium" on it anyway, and the outline checks say so, in the file list and in the
    report, in the words `scarseg predict` prints for the same file."""
    board = tmp / "checkerboard.png"
    grey_png(board, [[255 if (r // 8 + c // 8) % 2 == 0 else 0 for c in range(96)] for r in range(96)])
    run = subprocess.run([str(SCARSEG), "predict", str(board), "--out", str(tmp / "board-out")],
                         capture_output=True, text=True, check=True)
    cli = [line.strip() for line in run.stdout.splitlines() if line.strip().startswith("Check the outline")]
    assert len(cli) == 1, run.stdout
    assert "encloses no cavity" in cli[0], cli
    rows = len(statuses(d))
    d.upload("[data-testid=file-input]", [board])
    d.wait(f"const s = [...document.querySelectorAll('[data-testid=file-status]')];"
           f"return s.length == {rows + 1} && s[{rows}].innerText.startsWith('done')",
           "the checkerboard analysed")
    flagged = d.js(f"return document.querySelectorAll('[data-testid=file-row]')[{rows}]"
                   ".querySelector('[data-testid=file-doubt]')?.innerText")
    assert flagged == " - check the outline (see the report)", flagged
    open_file(d, "checkerboard.png")
    page = d.js("return document.querySelector('[data-testid=doubts]')?.innerText")
    print(f"[cpu] no heart in it: {page}")
    assert page == cli[0], (page, cli[0])
    # The report's table gives the slice's reasons in the words of the CSV's `doubts` column.
    with open(tmp / "board-out" / "report.csv", newline="") as f:
        slices = [r for r in csv.DictReader(f) if r["level"] == "slice"]
    assert len(slices) == 1 and "encloses no cavity" in slices[0]["doubts"], slices
    cells = d.js("return [...document.querySelectorAll('[data-testid=slice-doubts]')].map(c => c.innerText)")
    assert cells == [slices[0]["doubts"]], (cells, slices[0]["doubts"])
    # A phantom slice's ring passes: its report says nothing of the kind.
    open_file(d, "single.png")
    assert d.js("return document.querySelector('[data-testid=doubts]')") is None
    cells = d.js("return [...document.querySelectorAll('[data-testid=slice-doubts]')].map(c => c.innerText)")
    assert cells == ["-"], cells


def run_device(device, port, data, cli_out, tmp):
    downloads = tmp / f"downloads-{device}"
    downloads.mkdir()
    d = Driver(downloads, webgpu=(device == "webgpu"))
    origin = f"http://127.0.0.1:{port}"
    try:
        if device == "cpu":
            opened_while_the_worker_starts(d, origin)
        d.get(f"{origin}/?device={device}")
        d.wait("return document.querySelector('[data-testid=model-sha]')", "the default model")
        shown = d.js("return document.querySelector('[data-testid=device]').innerText")
        print(f"[{device}] device line: {shown}")
        assert ("WebGPU" if device == "webgpu" else "CPU") in shown, shown
        # The model line says how good the model is, from its manifest's test metrics.
        manifest = json.loads((DIST / "models" / "scarseg-atto-phantom" / "manifest.json").read_text())
        score = d.js("return document.querySelector('[data-testid=model-score]').innerText")
        metrics = manifest["metrics"]
        expected = (f"scar Dice {metrics['scar_dice_mean']:.2f} (95% CI "
                    f"{metrics['scar_dice_mean_ci95_lower']:.2f} to "
                    f"{metrics['scar_dice_mean_ci95_upper']:.2f}) on its test set")
        assert expected in score, (score, expected)

        # A bundled sample (phantom-9003, the one with the most scar: a transmural RCA scar, 16%
        # of the myocardium in its labels), then our files with a corrupt one among them.
        d.wait("return document.querySelectorAll('[data-testid=sample]').length > 0", "samples")
        d.js("[...document.querySelectorAll('[data-testid=sample]')]"
             ".find(b => b.innerText.includes('phantom-9003')).click()")
        d.wait("return [...document.querySelectorAll('[data-testid=file-status]')]"
               ".some(e => e.innerText.startsWith('done'))", "the sample's result")
        # The report weighs the flag against the model's measured agreement (its manifest's
        # Bland-Altman bias and SD): 15.8% lies well above 5% even at the limits.
        open_file(d, "phantom-9003")
        bias, sd = metrics["burden_bland_altman_mean"], metrics["burden_bland_altman_sd"]
        agreement = d.js("return document.querySelector('[data-testid=flag-agreement]').innerText")
        assert (f"within {bias - 1.96 * sd:+.1f} to {bias + 1.96 * sd:+.1f} points" in agreement
                and agreement.endswith("the 5% threshold lies outside it.")), agreement
        inputs = [data / "case.nii.gz", data / "broken.nii.gz"] + sorted((data / "series").iterdir())
        d.upload("[data-testid=file-input]", inputs)
        done = d.wait("""
            const s = [...document.querySelectorAll('[data-testid=file-status]')].map(e => e.innerText);
            return s.length == 4 && s.every(t => t.startsWith('done') || t.startsWith('failed')) ? s : null;
        """, "all files analysed")
        print(f"[{device}] statuses: {done}")
        failed = [t for t in done if t.startswith("failed")]
        assert len(failed) == 1 and "broken.nii.gz" in failed[0], done
        assert sum(t.startswith("done") for t in done) == 3, done
        ms = [float(t.split("(")[-1].split(" ms")[0]) for t in done if "ms/slice" in t]
        print(f"[{device}] ms per slice: {ms}")

        # Masks against `scarseg predict` on the same files and weights.
        # DICOM files opened together form one series, named "DICOM series" on the page.
        same_masks(d, device, downloads, cli_out, [("case.nii.gz", "case", "case", 4),
                                                   ("DICOM series", "DICOM series", "series", 3)])
        dicom_segmentation(d, device, downloads, cli_out)

        # Slice navigation with the keyboard, on the 4-slice NIfTI stack.
        open_file(d, "case.nii.gz")
        d.keys("\ue015")  # ArrowDown
        label = d.wait("const t = document.querySelector('[data-testid=slice]').parentElement.innerText;"
                       "return t.includes('2 / 4') ? t : null", "slice 2 of 4")
        assert "2 / 4" in label

        # Threshold slider, on the DICOM series (it has scar; the NIfTI case has none, where any
        # slider would pass): a higher threshold never grows the scar, and 0.9 shrinks it.
        open_file(d, "DICOM series")

        def scar_areas():
            return d.js("return [...document.querySelectorAll('[data-testid=slice-row]')]"
                        ".map(r => parseFloat(r.children[1].innerText))")
        before = scar_areas()
        assert sum(before) > 0, f"the DICOM series should show scar at the default threshold: {before}"
        default_threshold = d.js("return document.querySelector('[data-testid=threshold]').value")
        d.js("""const t = document.querySelector('[data-testid=threshold]');
                t.value = '0.9'; t.dispatchEvent(new Event('input', {bubbles: true}));
                t.dispatchEvent(new Event('change', {bubbles: true}));""")
        d.wait("return document.querySelector('[data-testid=threshold]').parentElement.innerText.includes('0.90')",
               "threshold 0.90")
        time.sleep(1)
        after = scar_areas()
        print(f"[{device}] scar mm2 at the default threshold: {before}; at 0.9: {after}")
        assert all(a <= b + 1e-9 for a, b in zip(after, before)), (before, after)
        assert sum(after) < sum(before), f"threshold 0.9 left the scar as it was: {before} -> {after}"
        # Back to the model's default threshold.
        d.js("""const t = document.querySelector('[data-testid=threshold]');
                t.value = arguments[0]; t.dispatchEvent(new Event('input', {bubbles: true}));
                t.dispatchEvent(new Event('change', {bubbles: true}));""", default_threshold)
        time.sleep(1)
        # Scar's extent through the wall, sector by sector: the page's table and summary give
        # `scarseg predict`'s counts for the same series (one computation, in the pipeline).
        cli_report = json.loads((cli_out / "report.json").read_text())
        cli_series = next(i for i in cli_report["inputs"] if i["input"].endswith("series"))
        want = [f"{x['transmural_sectors']} / {x['wall_sectors']}" for x in cli_series["slices"]]
        got = d.js("return [...document.querySelectorAll('[data-testid=slice-transmural]')]"
                   ".map(c => c.innerText)")
        print(f"[{device}] sectors over half the wall, per slice: {got}")
        assert got == want, (got, want)
        summary = d.js("return document.querySelector('[data-testid=stack-transmurality]').innerText")
        assert summary.startswith(f"Scar through more than half the wall in "
                                  f"{cli_series['transmural_sectors']} of {cli_series['wall_sectors']} "
                                  "wall sectors"), summary

        # CSV and JSON exports.
        d.js("document.querySelector('[data-testid=export-csv]').click()")
        d.js("document.querySelector('[data-testid=export-json]').click()")
        wait_files(downloads, ["scarseg-report.csv", "scarseg-report.json"])
        csv_lines = (downloads / "scarseg-report.csv").read_text().strip().splitlines()
        # 1 sample slice + stack, 4 NIfTI slices + stack, 3 DICOM slices + stack, header.
        assert len(csv_lines) == 1 + 2 + 5 + 4, csv_lines
        # The page's CSV has `scarseg predict`'s columns (one writer, in the pipeline crate).
        cli_header = (cli_out / "report.csv").read_text().splitlines()[0]
        assert csv_lines[0] == cli_header, (csv_lines[0], cli_header)
        assert "scar_volume_mm3" in cli_header.split(","), cli_header
        report = json.loads((downloads / "scarseg-report.json").read_text())
        manifest = json.loads((DIST / "models/scarseg-atto-phantom/manifest.json").read_text())
        assert report["weights"]["sha256"] == manifest["weights"]["sha256"]
        assert len(report["inputs"]) == 3
        # Each sector's scar percentage in the page's JSON is `scarseg predict`'s for the series.
        page_series = next(i for i in report["inputs"] if i["input"] == "DICOM series")
        page_sectors = [x["sector_scar_percent"] for x in page_series["slices"]]
        cli_sectors = [x["sector_scar_percent"] for x in cli_series["slices"]]
        print(f"[{device}] sector scar % of the series' first slice: {page_sectors[0]}")
        assert any(p and p > 0 for p in page_sectors[0]), page_sectors[0]
        assert page_sectors == cli_sectors, (page_sectors, cli_sectors)
        # The flag weighed against the model's agreement limits: predict's record, in the page's.
        assert page_series["flag_agreement"] == cli_series["flag_agreement"], (
            page_series["flag_agreement"], cli_series["flag_agreement"])
        assert page_series["flag_agreement"]["limits_of_agreement_pp"][0] < 0
        # ... and in its CSV's stack row, as in predict's.
        weighing = ["reference_burden_low_percent", "reference_burden_high_percent", "flag_uncertain"]
        def series_row(text, is_series):
            return next(r for r in csv.DictReader(text.splitlines())
                        if r["level"] == "stack" and is_series(r["input"]))
        page_row = series_row((downloads / "scarseg-report.csv").read_text(),
                              lambda i: i == "DICOM series")
        cli_row = series_row((cli_out / "report.csv").read_text(), lambda i: i.endswith("series"))
        assert [page_row[k] for k in weighing] == [cli_row[k] for k in weighing], (page_row, cli_row)
        assert float(page_row["reference_burden_low_percent"]) == \
            page_series["flag_agreement"]["reference_burden_percent"][0], page_row
        # The gray zone per slice: the page's table gives predict's figures for the series.
        gray = d.js("return [...document.querySelectorAll('[data-testid=slice-gray-zone]')]"
                    ".map(c => c.innerText)")
        want = [f"{x['gray_zone_percent']:.2f}" for x in cli_series["slices"]]
        print(f"[{device}] gray zone % per slice: {gray}")
        assert gray == want, (gray, want)
        # The sectors overlay draws over the image, and unticking it gives the image back.
        d.js("window.plainView = document.querySelector('[data-testid=view]').toDataURL()")
        same = "return (document.querySelector('[data-testid=view]').toDataURL() == window.plainView)"
        d.js("document.querySelector('[data-testid=overlay-sectors]').click()")
        d.wait(same + " == false", "the sectors drawn")
        d.js("document.querySelector('[data-testid=overlay-sectors]').click()")
        d.wait(same, "the sectors gone")

        aha_segments(d, device, data, cli_out, downloads, tmp)

        if device == "cpu":
            edited = corrections_by_hand(d, downloads, data)
            sample_truth(d, downloads)
            pattern_samples(d)
            limits_and_cancel(d, data, tmp)
            several_stacks(d, device, downloads, cli_out)
            compressed(d, device, downloads, cli_out)
            archive(d, device, downloads, cli_out)
            nested_archive(d, device, downloads, tmp / "cli-nested")
            stored_window(d, data, tmp)
            zoom_fit(d)
            keys_in_a_dropdown(d)
            browser_shortcuts(d)
            teaching_view(d, data)
            segmentation_beside(d, data, downloads, edited)
            segmentation_beside_two_series(d, data, downloads)
            folder_with_other_files(d, tmp, data / "series")
            labels_beside_by_name(d, tmp)
            doubted_outline(d, tmp)

        # Weights that do not fit: a clear message, and the default model still works.
        bad = tmp / f"bad-{device}"
        bad.mkdir()
        shutil.copy(DIST / "models/scarseg-atto-phantom/manifest.json", bad / "manifest.json")
        weights = bytearray((DIST / "models/scarseg-atto-phantom/weights.safetensors").read_bytes())
        weights[-1] ^= 0xFF
        (bad / "weights.safetensors").write_bytes(bytes(weights))
        d.upload("[data-testid=weights-input]", [bad / "manifest.json", bad / "weights.safetensors"])
        message = d.wait("return document.querySelector('[data-testid=model-error]')?.innerText",
                         "the weights error")
        print(f"[{device}] bad weights: {message}")
        assert "sha256" in message and "previous model stays" in message, message
        before = d.js("return document.querySelectorAll('[data-testid=file-status]').length")
        d.upload("[data-testid=file-input]", [data / "single.png"])
        d.wait("const s = [...document.querySelectorAll('[data-testid=file-status]')];"
               f"return s.length == {before + 1} && s[{before}].innerText.startsWith('done')",
               "analysis after bad weights")

        # Every request went to the page's own origin, and none carried a body.
        # Requests made on behalf of the page or its workers (documentURL on our origin); the
        # browser's own start page before navigation is not ours.
        requests = [r for r in d.requests() if r[3].startswith(origin + "/")]
        foreign = [r for r in requests if not (r[1].startswith(origin + "/") or r[1].startswith("data:")
                                                or r[1].startswith("blob:"))]
        bodies = [r for r in requests if r[0] not in ("GET", "HEAD") or r[2]]
        print(f"[{device}] {len(requests)} requests, all to {origin}")
        assert not foreign, foreign
        assert not bodies, bodies
        # The tab's icon is the page's own file: no request for a favicon.ico that is not there.
        urls = {r[1] for r in requests}
        assert f"{origin}/favicon.svg" in urls and f"{origin}/favicon.ico" not in urls, sorted(urls)

        # Offline: reload from the service worker's cache, then analyse a new file.
        d.wait("return navigator.serviceWorker.controller !== null || "
               "(navigator.serviceWorker.ready.then(() => location.reload()), false)",
               "the service worker", timeout=60)
        d.offline(True)
        d.get(f"{origin}/?device={device}")
        d.wait("return document.querySelector('[data-testid=model-sha]')", "the model, offline")
        d.upload("[data-testid=file-input]", [data / "offline.png"])
        d.wait("const s = [...document.querySelectorAll('[data-testid=file-status]')];"
               "return s.length == 1 && s[0].innerText.startsWith('done')", "analysis offline")
        print(f"[{device}] offline analysis works")
        d.offline(False)
        if device == "cpu":
            model_update(d, origin, data, tmp)
            worker_deaths(d, origin, data, tmp)
            page_fault(d, origin, data, tmp)

        # Last, because the GPU may still be busy with the failed check afterwards.
        if device == "webgpu":
            worker_death_on_gpu(d, origin, data, tmp)
            gpu_fallback(d, data, tmp, downloads)
    finally:
        d.quit()


def click_view(d, x, y, event="mousedown"):
    """A mouse press (or another mouse `event`) on the image at canvas point (x, y), as a mouse's
    events land: on whole CSS pixels. Returns the canvas point it made."""
    return d.js("""
        const c = document.querySelector('[data-testid=view]');
        const r = c.getBoundingClientRect();
        const cx = Math.round(r.left + arguments[0] / c.width * r.width);
        const cy = Math.round(r.top + arguments[1] / c.height * r.height);
        c.dispatchEvent(new MouseEvent(arguments[2], {bubbles: true, clientX: cx, clientY: cy}));
        return [(cx - r.left) / r.width * c.width, (cy - r.top) / r.height * c.height];
    """, x, y, event)


def aha_segments(d, device, data, cli_out, downloads, tmp):
    """Marks the anterior RV insertion on the DICOM series with a click, as a user does. The
    angle is the click's around the wall's centroid, computed here from `scarseg predict`'s
    myocardium mask of the slice clicked; the page's segments are `scarseg predict
    --rv-insertion`'s at that angle; the base (auto: the wider, first, end) and the mirror can be
    changed, and the marks cleared."""
    open_file(d, "DICOM series")
    status = d.js("return document.querySelector('[data-testid=aha-status]').innerText")
    assert status.startswith("No insertion marked"), status
    rows, cols, myo = read_png(cli_out / "series_000_myo.png")
    wall = [(i // cols, i % cols) for i, v in enumerate(myo) if v]
    cy = sum(r for r, _ in wall) / len(wall)
    cx = sum(c for _, c in wall) / len(wall)
    # Up and to the left of the wall's centre, where the standard view has the insertion. The
    # click lands on whole CSS pixels: the canvas point it makes is returned.
    d.js("document.querySelector('[data-testid=aha-mark]').click()")
    x, y = click_view(d, cx + 0.5 - 12, cy + 0.5 - 20)
    # Pixel centres at +0.5; the phantom's pixels are square, so the angle in mm is the angle in
    # pixels; clockwise from 12 o'clock, rows growing downwards.
    want = math.degrees(math.atan2((x - 0.5) - cx, -((y - 0.5) - cy))) % 360
    status = d.wait("const t = document.querySelector('[data-testid=aha-status]').innerText;"
                    "return t.startsWith('Anterior RV insertion') ? t : null", "the AHA segments")
    print(f"[{device}] AHA: clicked at {want:.2f} degrees: {status}")
    assert f"at {want:.0f} degrees" in status and "counterclockwise" in status, status
    assert "base first" in status, status
    levels = d.js("return [...document.querySelectorAll('[data-testid=slice-level]')].map(c => c.innerText)")
    assert levels == ["basal", "mid", "apical"], levels
    shown = d.js("return [...document.querySelectorAll('[data-testid=aha-segment]')]"
                 ".map(g => [g.dataset.segment, g.dataset.percent, g.dataset.grade])")
    assert [int(s) for s, _, _ in shown] == list(range(1, 17)), shown

    # The page's JSON holds the angle, and its segments are `scarseg predict`'s at that angle.
    (downloads / "scarseg-report.json").unlink(missing_ok=True)
    d.js("document.querySelector('[data-testid=export-json]').click()")
    wait_files(downloads, ["scarseg-report.json"])
    report = json.loads((downloads / "scarseg-report.json").read_text())
    page = next(i for i in report["inputs"] if i["input"] == "DICOM series")["aha_segments"]
    # One mark, on the first slice; every slice is cut at it.
    angle = page["insertion_marks_deg"][0]
    assert page["insertion_marks_deg"][1:] == [None, None], page["insertion_marks_deg"]
    assert page["insertions_deg"] == [angle] * 3, page["insertions_deg"]
    assert abs(angle - want) < 1e-9, (angle, want)
    out = tmp / f"cli-aha-{device}"
    subprocess.run([str(SCARSEG), "predict", str(data / "series"), "--out", str(out),
                    "--weights", str(DIST / "models/scarseg-atto-phantom"),
                    "--rv-insertion", repr(angle)], check=True, stderr=subprocess.DEVNULL)
    cli = json.loads((out / "report.json").read_text())["inputs"][0]["aha_segments"]
    assert page["levels"] == cli["levels"] == ["basal", "mid", "apical"], (page["levels"], cli["levels"])
    worst = 0.0
    for p, c in zip(page["segments"], cli["segments"]):
        assert p["number"] == c["number"] and p["name"] == c["name"]
        if p["scar_percent"] is None or c["scar_percent"] is None:
            assert p["scar_percent"] == c["scar_percent"], (p, c)
            continue
        worst = max(worst, abs(p["scar_percent"] - c["scar_percent"]))
    print(f"[{device}] AHA segment scar % against scarseg predict: largest difference {worst:.4f}")
    # The masks may differ by a few threshold pixels (see MAX_DIFF_FRACTION).
    assert worst < 1.0, worst
    # The bull's-eye shows the JSON's figures.
    for (number, percent, _), p in zip(shown, page["segments"]):
        if p["scar_percent"] is not None:
            assert abs(float(percent) - p["scar_percent"]) < 1e-3, (number, percent, p)
    assert any(p["scar_percent"] and p["scar_percent"] > 0 for p in page["segments"]), page
    # Scar by coronary territory, the AHA's assignment written out here: shares of the segments'
    # scar, in the JSON and the summary line.
    supply = {"LAD": [1, 2, 7, 8, 13, 14], "RCA": [3, 4, 9, 10, 15], "LCx": [5, 6, 11, 12, 16]}
    total = sum(x["scar_mm3"] for x in page["segments"])
    for t in page["territories"]:
        share = 100 * sum(page["segments"][n - 1]["scar_mm3"] for n in supply[t["name"]]) / total
        assert abs(t["share_of_scar_percent"] - share) < 1e-9, (t, share)
        assert f"{t['name']} {share:.0f}%" in status, (status, t)
    # The phantom drew this series' scar in one territory: most of the scar lies there.
    truth = json.loads((tmp / "p2" / "cases.json").read_text())["cases"][0]["territory"]
    most = max(page["territories"], key=lambda t: t["share_of_scar_percent"])["name"]
    assert most == truth, (page["territories"], truth)
    # The page's AHA CSV is `scarseg predict`'s aha.csv for the series, but for the input's name.
    (downloads / "scarseg-aha.csv").unlink(missing_ok=True)
    d.js("document.querySelector('[data-testid=export-aha-csv]').click()")
    wait_files(downloads, ["scarseg-aha.csv"])
    page_csv = (downloads / "scarseg-aha.csv").read_text().splitlines()
    cli_csv = (out / "aha.csv").read_text().splitlines()
    assert len(page_csv) == len(cli_csv) == 17, (page_csv, cli_csv)
    assert page_csv[0] == cli_csv[0], (page_csv[0], cli_csv[0])
    for p, c in zip(page_csv[1:], cli_csv[1:]):
        p, c = p.split(","), c.split(",")
        assert p[0] == "DICOM series", p
        assert p[1:5] == c[1:5] and p[9:] == c[9:], (p, c)
        # Volumes within 1%, the percentage within a point (a few threshold pixels may differ).
        assert all(abs(float(a) - float(b)) <= 0.01 * max(abs(float(b)), 1.0)
                   for a, b in zip(p[5:7], c[5:7])), (p, c)
        assert (p[7] == c[7] == "") or abs(float(p[7]) - float(c[7])) < 1.0, (p, c)

    # The segments are drawn over the image, and unticking them gives the image back.
    d.js("window.ahaView = document.querySelector('[data-testid=view]').toDataURL()")
    toggle = "[...document.querySelectorAll('.aha label')].find(l => l.innerText.includes('show on the image')).querySelector('input').click()"
    d.js(toggle)
    d.wait("return document.querySelector('[data-testid=view]').toDataURL() != window.ahaView", "segments hidden")
    d.js(toggle)
    d.wait("return document.querySelector('[data-testid=view]').toDataURL() == window.ahaView", "segments shown")

    printed_report(d)
    turning_insertion(d, device, data, cli_out, downloads, tmp, angle)

    # The base named last turns the levels round; the mirror puts the septum clockwise.
    d.js("""const s = document.querySelector('[data-testid=aha-base]');
            s.value = 'last'; s.dispatchEvent(new Event('change', {bubbles: true}));""")
    levels = d.wait("const l = [...document.querySelectorAll('[data-testid=slice-level]')].map(c => c.innerText);"
                    "return l[0] == 'apical' ? l : null", "the base last")
    assert levels == ["apical", "mid", "basal"], levels
    d.js("document.querySelector('[data-testid=aha-mirror]').click()")
    status = d.wait("const t = document.querySelector('[data-testid=aha-status]').innerText;"
                    "return t.includes('the septum clockwise') ? t : null", "the mirror")
    assert "base last" in status, status
    # One level for every slice (for a slice or two whose level the user knows).
    d.js("""const s = document.querySelector('[data-testid=aha-level]');
            s.value = 'mid'; s.dispatchEvent(new Event('change', {bubbles: true}));""")
    levels = d.wait("const l = [...document.querySelectorAll('[data-testid=slice-level]')].map(c => c.innerText);"
                    "return l.every(x => x == 'mid') ? l : null", "every slice mid")
    status = d.js("return document.querySelector('[data-testid=aha-status]').innerText")
    assert "every slice at the level chosen" in status, status
    assert d.js("return document.querySelector('[data-testid=aha-base]').disabled")
    d.js("document.querySelector('[data-testid=aha-clear]').click()")
    d.wait("return document.querySelector('[data-testid=aha-status]').innerText.startsWith('No insertion marked')",
           "the marks cleared")
    assert not d.js("return document.querySelectorAll('[data-testid=aha-segment]').length")
    # The keyboard: i arms the next click, Esc disarms it.
    button = "return document.querySelector('[data-testid=aha-mark]').innerText"
    d.js("document.activeElement.blur()")
    d.keys("i")
    d.wait(button + ".startsWith('now click')", "marking armed by i")
    d.keys("\ue00c")  # Escape
    d.wait(button + " == 'mark RV insertion'", "marking stopped by Esc")

    # Suggested from the image: the page's marks are `scarseg predict --rv-insertion auto`'s, near
    # the insertion the phantom drew (its cases.json), the septum counterclockwise, and a note
    # asks the user to check them.
    d.js("document.querySelector('[data-testid=aha-suggest]').click()")
    status = d.wait("const t = document.querySelector('[data-testid=aha-status]').innerText;"
                    "return t.startsWith('Anterior RV insertion') ? t : null", "the suggestion")
    assert "the septum counterclockwise" in status, status
    note = d.js("return document.querySelector('[data-testid=aha-note]').innerText")
    assert note.startswith("Suggested from the image on slice(s)") and "check" in note, note
    (downloads / "scarseg-report.json").unlink(missing_ok=True)
    d.js("document.querySelector('[data-testid=export-json]').click()")
    wait_files(downloads, ["scarseg-report.json"])
    report = json.loads((downloads / "scarseg-report.json").read_text())
    page = next(i for i in report["inputs"] if i["input"] == "DICOM series")["aha_segments"]
    out = tmp / f"cli-aha-auto-{device}"
    subprocess.run([str(SCARSEG), "predict", str(data / "series"), "--out", str(out),
                    "--weights", str(DIST / "models/scarseg-atto-phantom"),
                    "--rv-insertion", "auto"], check=True, stderr=subprocess.DEVNULL)
    cli = json.loads((out / "report.json").read_text())["inputs"][0]["aha_segments"]
    truth = json.loads((tmp / "p2" / "cases.json").read_text())["cases"][0]["rv_insertion_deg"]
    marks = page["insertion_marks_deg"]
    print(f"[{device}] AHA suggested: {marks} (CLI {cli['insertion_marks_deg']}, phantom {truth:.1f})")
    assert [m is None for m in marks] == [m is None for m in cli["insertion_marks_deg"]], (marks, cli)
    assert any(m is not None for m in marks), marks
    for p, c in zip(marks, cli["insertion_marks_deg"]):
        if p is not None:
            # One 5-degree direction apart at most, should a threshold pixel differ.
            assert abs((p - c + 180) % 360 - 180) <= 5.01, (p, c)
            assert abs((p - truth + 180) % 360 - 180) <= 20, (p, truth)
    assert page["septum_clockwise"] is False, page
    d.js("document.querySelector('[data-testid=aha-clear]').click()")
    d.wait("return document.querySelector('[data-testid=aha-status]').innerText.startsWith('No insertion marked')",
           "the suggestion cleared")


def turning_insertion(d, device, data, cli_out, downloads, tmp, first):
    """A second mark, on the series' last slice, up and to the right of its wall's centre: the
    middle slice is cut at the angle halfway between the marks along the shorter arc (computed
    here), the table and the summary say so, and the page's segments are `scarseg predict
    --rv-insertion 1:A,3:B`'s. Unmarking the slice gives the one-angle segments back."""
    d.js("""const s = document.querySelector('[data-testid=slice]');
            s.value = '2'; s.dispatchEvent(new Event('input', {bubbles: true}));""")
    d.wait("return document.querySelector('[data-testid=slice]').parentElement.innerText.includes('3 / 3')",
           "the last slice")
    rows, cols, myo = read_png(cli_out / "series_002_myo.png")
    wall = [(i // cols, i % cols) for i, v in enumerate(myo) if v]
    cy = sum(r for r, _ in wall) / len(wall)
    cx = sum(c for _, c in wall) / len(wall)
    d.js("document.querySelector('[data-testid=aha-mark]').click()")
    x, y = click_view(d, cx + 0.5 + 6, cy + 0.5 - 20)
    want = math.degrees(math.atan2((x - 0.5) - cx, -((y - 0.5) - cy))) % 360
    status = d.wait("const t = document.querySelector('[data-testid=aha-status]').innerText;"
                    "return t.includes('slice 3 at') ? t : null", "the second mark")
    print(f"[{device}] AHA: second mark at {want:.2f} degrees: {status}")
    (downloads / "scarseg-report.json").unlink(missing_ok=True)
    d.js("document.querySelector('[data-testid=export-json]').click()")
    wait_files(downloads, ["scarseg-report.json"])
    report = json.loads((downloads / "scarseg-report.json").read_text())
    page = next(i for i in report["inputs"] if i["input"] == "DICOM series")["aha_segments"]
    marks = page["insertion_marks_deg"]
    assert marks[0] == first and marks[1] is None, marks
    second = marks[2]
    # The page's mask may differ from the CLI's by a few threshold pixels, so its centroid too.
    assert abs((second - want + 180) % 360 - 180) < 0.5, (second, want)
    turn = (second - first + 540) % 360 - 180
    middle = (first + turn / 2) % 360
    cut = page["insertions_deg"]
    assert cut[0] == first and cut[2] == second and abs(cut[1] - middle) < 1e-9, (cut, middle)
    assert f"marked on slice 1 at {first:.0f}, slice 3 at {second:.0f} degrees" in status, status
    cells = d.js("return [...document.querySelectorAll('[data-testid=slice-insertion]')].map(c => c.innerText)")
    assert cells == [f"{first:.0f} (marked)", f"{middle:.0f}", f"{second:.0f} (marked)"], cells
    out = tmp / f"cli-aha-turn-{device}"
    subprocess.run([str(SCARSEG), "predict", str(data / "series"), "--out", str(out),
                    "--weights", str(DIST / "models/scarseg-atto-phantom"),
                    "--rv-insertion", f"1:{first!r},3:{second!r}"], check=True, stderr=subprocess.DEVNULL)
    cli = json.loads((out / "report.json").read_text())["inputs"][0]["aha_segments"]
    assert cli["insertions_deg"] == cut, (cli["insertions_deg"], cut)
    worst = max(abs(p["scar_percent"] - c["scar_percent"])
                for p, c in zip(page["segments"], cli["segments"])
                if p["scar_percent"] is not None and c["scar_percent"] is not None)
    print(f"[{device}] AHA with two marks against scarseg predict: largest difference {worst:.4f}")
    assert worst < 1.0, worst
    # Unmarking the last slice leaves one angle for the stack.
    d.js("document.querySelector('[data-testid=aha-unmark]').click()")
    d.wait("const t = document.querySelector('[data-testid=aha-status]').innerText;"
           f"return t.startsWith('Anterior RV insertion at {first:.0f} degrees')", "the second mark taken away")
    cells = d.js("return [...document.querySelectorAll('[data-testid=slice-insertion]')].map(c => c.innerText)")
    assert cells == [f"{first:.0f} (marked)", f"{first:.0f}", f"{first:.0f}"], cells
    assert d.js("return document.querySelector('[data-testid=aha-unmark]').disabled")


def export_masks(d, downloads, names):
    """Exports the open case's mask PNGs, `names` among them: (rows, cols, each named mask as
    booleans)."""
    for n in names:
        (downloads / n).unlink(missing_ok=True)
    d.js("document.querySelector('[data-testid=export-masks]').click()")
    wait_files(downloads, names)
    decoded = [read_png(downloads / n) for n in names]
    return decoded[0][0], decoded[0][1], [[v > 0 for v in px] for _, _, px in decoded]


def wait_corrected(d, prefix, what):
    """Waits until the corrections' status line starts with `prefix` ("12 pixel", say)."""
    d.wait(f"return document.querySelector('[data-testid=correct-status]').innerText.startsWith('{prefix}')",
           what)


def corrections_by_hand(d, downloads, data):
    """Corrects the DICOM series' first slice with the brush, as a user does, and checks the
    exported masks against the network's masks changed by the pixels whose centres lie within the
    brush's radius (in mm) of the stroke, computed here; the report's areas, burden and pixel
    counts follow; a new threshold keeps the corrections; undo and revert take them back; the
    NIfTI labels and the DICOM segmentation exported while corrected, loaded back, give the
    corrected masks again, and on a case of another shape are refused by name."""
    open_file(d, "DICOM series")
    d.js("""const s = document.querySelector('[data-testid=slice]');
            s.value = '0'; s.dispatchEvent(new Event('input', {bubbles: true}));""")
    d.wait("return document.querySelector('[data-testid=slice]').parentElement.innerText.includes('1 / 3')",
           "slice 1 of 3")
    # Every slice's files: the export spaces its downloads out, and one still under way would
    # race the next export.
    names = [f"DICOM series_{k:03}_{kind}.png" for k in range(3) for kind in ("scar", "myo")]

    def masks():
        rows, cols, (scar, myo, *_) = export_masks(d, downloads, names)
        return rows, cols, scar, myo

    def report():
        (downloads / "scarseg-report.json").unlink(missing_ok=True)
        d.js("document.querySelector('[data-testid=export-json]').click()")
        wait_files(downloads, ["scarseg-report.json"])
        return next(i for i in json.loads((downloads / "scarseg-report.json").read_text())["inputs"]
                    if i["input"] == "DICOM series")

    rows, cols, scar0, myo0 = masks()
    base = report()
    sy, sx = base["slices"][0]["spacing_mm"]
    assert base["edited_px"] == 0 and sum(scar0) > 0, base["edited_px"]

    def brush(points, radius):
        """Pixels whose centre lies within `radius` mm of the polyline through `points`."""
        reached, closest = set(), float("inf")
        segments = list(zip(points, points[1:])) or [(points[0], points[0])]
        for r in range(rows):
            for c in range(cols):
                best = float("inf")
                for (x0, y0), (x1, y1) in segments:
                    px, py = (c + 0.5 - x0) * sx, (r + 0.5 - y0) * sy
                    dx, dy = (x1 - x0) * sx, (y1 - y0) * sy
                    t = 0.0 if dx == dy == 0 else max(0.0, min(1.0, (px * dx + py * dy) / (dx * dx + dy * dy)))
                    best = min(best, math.hypot(px - t * dx, py - t * dy))
                if best <= radius:
                    reached.add(r * cols + c)
                closest = min(closest, abs(best - radius))
        # A pixel at the brush's very edge could fall either way in another summation order.
        assert closest > 1e-6, closest
        return reached

    def drag(points):
        """mousedown, mousemoves and mouseup at whole CSS pixels near `points` (slice pixel
        units); returns the points on the slice's grid the page received."""
        return d.js("""
            const c = document.querySelector('[data-testid=view]');
            const r = c.getBoundingClientRect();
            const at = arguments[0].map(([x, y]) => [Math.round(r.left + x / c.width * r.width),
                                                      Math.round(r.top + y / c.height * r.height)]);
            at.forEach(([x, y], i) => c.dispatchEvent(new MouseEvent(i == 0 ? 'mousedown' : 'mousemove',
                {bubbles: true, clientX: x, clientY: y, buttons: 1})));
            const [x, y] = at[at.length - 1];
            c.dispatchEvent(new MouseEvent('mouseup', {bubbles: true, clientX: x, clientY: y}));
            return at.map(([x, y]) => [(x - r.left) / r.width * c.width, (y - r.top) / r.height * c.height]);
        """, points)

    def choose(tool):
        d.js("""const s = document.querySelector('[data-testid=correct-tool]');
                s.value = arguments[0]; s.dispatchEvent(new Event('change', {bubbles: true}));""", tool)

    def status():
        return d.js("return document.querySelector('[data-testid=correct-status]').innerText")

    # Erase scar along a stroke through the scar's middle: the pixel of scar nearest its centroid,
    # and 6 pixels either side of it along the rows.
    scar_px = [i for i, v in enumerate(scar0) if v]
    cy = sum(i // cols for i in scar_px) / len(scar_px)
    cx = sum(i % cols for i in scar_px) / len(scar_px)
    mid = min(scar_px, key=lambda i: (i // cols - cy) ** 2 + (i % cols - cx) ** 2)
    my, mx = mid // cols + 0.5, mid % cols + 0.5
    choose("erase scar")
    d.js("""const b = document.querySelector('[data-testid=brush]');
            b.value = '3'; b.dispatchEvent(new Event('input', {bubbles: true}));""")
    stroke = drag([[mx - 6, my], [mx, my], [mx + 6, my]])
    erased = brush(stroke, 3.0)
    want_scar = [v and i not in erased for i, v in enumerate(scar0)]
    changed = sum(a != b for a, b in zip(scar0, want_scar))
    assert changed > 0, "the stroke should cross scar"
    wait_corrected(d, f"{changed} pixel", "the stroke measured")
    _, _, scar1, myo1 = masks()
    assert scar1 == want_scar and myo1 == myo0, (sum(scar1), sum(want_scar), sum(myo1), sum(myo0))

    # Paint scar with a click just outside the wall, on the far side from the scar: scar is
    # myocardium, so the wall grows by the brush there too.
    wall = [i for i, v in enumerate(myo0) if v]
    wy = sum(i // cols for i in wall) / len(wall)
    wx = sum(i % cols for i in wall) / len(wall)
    far = max(wall, key=lambda i: (i // cols - my) ** 2 + (i % cols - mx) ** 2)
    fy, fx = far // cols + 0.5, far % cols + 0.5
    # One pixel beyond the wall's far edge, away from the centroid.
    norm = math.hypot(fy - wy, fx - wx)
    out = [fx + (fx - wx) / norm * 1.5, fy + (fy - wy) / norm * 1.5]
    d.keys("1")
    assert d.js("return document.querySelector('[data-testid=correct-tool]').value") == "paint scar"
    click = drag([out])
    painted = brush(click, 3.0)
    want_scar = [v or i in painted for i, v in enumerate(want_scar)]
    want_myo = [v or i in painted for i, v in enumerate(myo0)]
    assert any(i not in wall for i in painted), "the click should reach past the wall"
    edited = sum(a != b or c != e for a, b, c, e in zip(scar0, want_scar, myo0, want_myo))
    wait_corrected(d, f"{edited} pixel", "the click measured")
    _, _, scar2, myo2 = masks()
    assert scar2 == want_scar and myo2 == want_myo
    # The report measures the corrected outlines: areas from the masks and the pixel size, the
    # stack's burden volume-weighted from the slices' areas and discs, the pixels counted.
    after = report()
    first = after["slices"][0]
    assert abs(first["scar_area_mm2"] - sum(want_scar) * sx * sy) < 1e-6, first["scar_area_mm2"]
    assert abs(first["myocardium_area_mm2"] - sum(want_myo) * sx * sy) < 1e-6
    assert first["edited_px"] == after["edited_px"] == edited, (first["edited_px"], after["edited_px"], edited)
    scar_v = sum(x["scar_area_mm2"] * x["disc_height_mm"] for x in after["slices"])
    myo_v = sum(x["myocardium_area_mm2"] * x["disc_height_mm"] for x in after["slices"])
    assert abs(after["burden_percent"] - 100 * scar_v / myo_v) < 1e-9, (after["burden_percent"], scar_v, myo_v)
    assert after["slices"][1:] == base["slices"][1:], "the other slices are the network's"
    shown = d.js("return [...document.querySelectorAll('[data-testid=slice-edited]')].map(c => c.innerText)")
    assert shown == [str(edited), "0", "0"], shown
    summary = d.js("return document.querySelector('[data-testid=stack-corrected]').innerText")
    assert summary.startswith(f"Corrected by hand on slice(s) 1 ({edited} pixel(s) changed)"), summary
    # The burden the network alone found stays beside the corrected one.
    assert f"The network alone found a burden of {base['burden_percent']:.2f}%" in summary, summary
    assert abs(after["network_burden_percent"] - base["burden_percent"]) < 1e-9
    assert abs(first["network_burden_percent"] - base["slices"][0]["burden_percent"]) < 1e-9
    # Leaving the page now asks first: the corrections live only here.
    leave = ("const e = new Event('beforeunload', {cancelable: true}); window.dispatchEvent(e);"
             "return e.defaultPrevented")
    assert d.js(leave), "leaving with corrections should ask"
    # The corrected labels, for loading back below.
    labels = downloads / "DICOM series_labels.nii.gz"
    labels.unlink(missing_ok=True)
    d.js("document.querySelector('[data-testid=export-nifti]').click()")
    wait_files(downloads, [labels.name])
    saved = downloads / "corrected_labels.nii.gz"
    shutil.copy(labels, saved)
    # And as a DICOM segmentation, which loads back the same way.
    seg_file = downloads / "DICOM series_seg.dcm"
    seg_file.unlink(missing_ok=True)
    d.js("document.querySelector('[data-testid=export-seg]').click()")
    wait_files(downloads, [seg_file.name])
    saved_seg = downloads / "corrected_seg.dcm"
    shutil.copy(seg_file, saved_seg)
    print(f"[cpu] corrections: a stroke erased {changed} scar pixels, a click painted {len(painted)}; "
          f"burden {base['burden_percent']:.2f}% -> {after['burden_percent']:.2f}%")

    # A new threshold keeps the corrections: at 0.9 the erased pixels stay erased and the painted
    # ones scar; back at the model's threshold the masks are the corrected ones exactly.
    def set_threshold(t):
        d.js("""const t = document.querySelector('[data-testid=threshold]');
                t.value = arguments[0]; t.dispatchEvent(new Event('input', {bubbles: true}));
                t.dispatchEvent(new Event('change', {bubbles: true}));""", t)
        time.sleep(1)
    default_threshold = d.js("return document.querySelector('[data-testid=threshold]').value")
    set_threshold("0.9")
    _, _, scar9, myo9 = masks()
    assert all(not scar9[i] for i in erased - painted) and all(scar9[i] and myo9[i] for i in painted)
    set_threshold(default_threshold)
    _, _, scar_back, myo_back = masks()
    assert scar_back == want_scar and myo_back == want_myo

    # Undo (u) takes the click back, then the stroke; revert drops a slice's corrections.
    d.js("document.activeElement.blur()")
    d.keys("u")
    wait_corrected(d, f"{changed} pixel", "the click undone")
    d.js("document.querySelector('[data-testid=correct-undo]').click()")
    wait_corrected(d, "0 pixel", "the stroke undone")
    _, _, scar_u, myo_u = masks()
    assert scar_u == scar0 and myo_u == myo0
    assert report() == base
    assert d.js("return document.querySelector('[data-testid=stack-corrected]') === null")
    assert not d.js(leave), "nothing to lose: leaving should not ask"
    drag([[mx, my]])
    d.wait("return !document.querySelector('[data-testid=correct-status]').innerText.startsWith('0 pixel')",
           "a click painted")
    d.js("document.querySelector('[data-testid=correct-revert]').click()")
    wait_corrected(d, "0 pixel", "the slice reverted")
    _, _, scar_r, myo_r = masks()
    assert scar_r == scar0 and myo_r == myo0
    # The labels loaded back: the corrected masks and report again, on the network's.
    d.upload("[data-testid=labels-input]", [saved])
    d.wait("return !document.querySelector('[data-testid=correct-status]').innerText.startsWith('0 pixel')"
           " || document.querySelector('[data-testid=labels-error]')", "the labels loaded")
    shown = d.js("return [document.querySelector('[data-testid=correct-status]').innerText,"
                 " document.querySelector('[data-testid=labels-error]')?.innerText]")
    assert shown[0].startswith(f"{edited} pixel") and not shown[1], (shown, edited)
    _, _, scar_l, myo_l = masks()
    assert scar_l == want_scar and myo_l == want_myo
    loaded = report()
    assert loaded["edited_px"] == edited and loaded["burden_percent"] == after["burden_percent"], loaded["edited_px"]
    assert not d.js("return document.querySelector('[data-testid=labels-error]')")
    # How far the network was from the loaded labels, pooled over the stack: Dice by hand from
    # the masks before and after (slices 2 and 3 agree with themselves).
    others = [[v > 0 for v in read_png(downloads / n)[2]] for n in names[2:]]
    same_scar, same_myo = sum(map(sum, others[0::2])), sum(map(sum, others[1::2]))

    def pooled(network, corrected, same):
        overlap = sum(a and b for a, b in zip(network, corrected)) + same
        return 2 * overlap / (sum(network) + sum(corrected) + 2 * same)
    scar_dice, myo_dice = pooled(scar0, want_scar, same_scar), pooled(myo0, want_myo, same_myo)
    assert abs(loaded["network_scar_dice"] - scar_dice) < 1e-12, (loaded["network_scar_dice"], scar_dice)
    assert abs(loaded["network_myocardium_dice"] - myo_dice) < 1e-12
    summary = d.js("return document.querySelector('[data-testid=stack-corrected]').innerText")
    assert f"scar Dice {scar_dice:.3f}, myocardium Dice {myo_dice:.3f}" in summary, (summary, scar_dice, myo_dice)
    assert scar_dice < 1 and myo_dice < 1
    print(f"[cpu] labels loaded back: {edited} pixels; the network against them: scar Dice "
          f"{scar_dice:.3f}, myocardium Dice {myo_dice:.3f}")
    # Undo takes a load back a slice at a time (three here).
    d.js("document.activeElement.blur()")
    for _ in range(3):
        d.keys("u")
    wait_corrected(d, "0 pixel", "the load undone")
    _, _, scar_u, myo_u = masks()
    assert scar_u == scar0 and myo_u == myo0
    # The DICOM segmentation exported while corrected gives the same corrections back.
    d.upload("[data-testid=labels-input]", [saved_seg])
    wait_corrected(d, f"{edited} pixel", "the segmentation loaded")
    _, _, scar_s, myo_s = masks()
    assert scar_s == want_scar and myo_s == want_myo
    assert not d.js("return document.querySelector('[data-testid=labels-error]')")
    print(f"[cpu] DICOM segmentation loaded back: {edited} pixels, the corrected masks")
    d.js("document.activeElement.blur()")
    for _ in range(3):
        d.keys("u")
    wait_corrected(d, "0 pixel", "the segmentation's load undone")
    keyboard_brush(d, masks, brush, choose, status, scar0, myo0, cols, (mx, my))
    keyboard_insertion(d, report, myo0, cols, (sx, sy))
    # On the 4-slice NIfTI case the series' labels do not fit: refused by name, nothing changed.
    open_file(d, "case.nii.gz")
    d.upload("[data-testid=labels-input]", [saved])
    error = d.wait("return document.querySelector('[data-testid=labels-error]')?.innerText", "the labels refused")
    print(f"[cpu] labels on another case: {error.strip()}")
    assert "corrected_labels.nii.gz: 3 label slices for 4 image slices" in error, error
    d.upload("[data-testid=labels-input]", [saved_seg])
    error = d.wait("const e = document.querySelector('[data-testid=labels-error]')?.innerText;"
                   "return e && e.includes('corrected_seg.dcm') ? e : null", "the segmentation refused")
    print(f"[cpu] segmentation on another case: {error.strip()}")
    assert "corrected_seg.dcm: DICOM segmentation: " in error, error
    assert status().startswith("0 pixel")
    open_file(d, "DICOM series")
    # Esc puts the brush away: left-drag sets the window again.
    d.keys("\ue00c")
    assert d.js("return document.querySelector('[data-testid=correct-tool]').value") == "off"
    assert status().startswith("0 pixel")
    return edited


def keyboard_brush(d, masks, brush, choose, status, scar0, myo0, cols, mid):
    """The brush without a mouse: Tab reaches the image; with a brush chosen the arrows move it a
    pixel (Shift: five) from the pixel of the wall's centroid, computed here, without painting,
    and without changing the slice; Space puts it down, arrows then paint, Space lifts it. The
    masks are the network's less the pixels within the radius of the path it went down, computed
    here; one undo takes the whole stroke back."""
    # The pointer leaves the image, as it does when the keyboard takes over.
    d.js("document.querySelector('[data-testid=view]').dispatchEvent(new MouseEvent('mouseleave'))")
    choose("erase scar")
    assert d.js("const c = document.querySelector('[data-testid=view]'); c.focus();"
                "return document.activeElement === c"), "the keyboard cannot reach the image"
    label = d.js("return document.querySelector('[data-testid=view]').getAttribute('aria-label')")
    assert "brush: erase scar, the arrow keys move it" in label, label
    wall = [i for i, v in enumerate(myo0) if v]
    x = math.floor(sum(i % cols + 0.5 for i in wall) / len(wall)) + 0.5
    y = math.floor(sum(i // cols + 0.5 for i in wall) / len(wall)) + 0.5
    # To the scar's middle pixel: steps of five with Shift, then of one.
    for delta, (minus, plus) in [(mid[0] - x, (LEFT, RIGHT)), (mid[1] - y, (UP, DOWN))]:
        n, key = round(abs(delta)), plus if delta > 0 else minus
        if n // 5:
            d.press(*[key] * (n // 5), shift=True)
        if n % 5:
            d.press(*[key] * (n % 5))
    time.sleep(0.5)
    assert status().startswith("0 pixel"), status()
    assert d.js("return document.querySelector('[data-testid=slice]').parentElement.innerText.includes('1 / 3')")
    d.press(" ", RIGHT, RIGHT, RIGHT, RIGHT, " ")
    erased = brush([[mid[0] + k, mid[1]] for k in range(5)], 3.0)
    want_scar = [v and i not in erased for i, v in enumerate(scar0)]
    changed = sum(a != b for a, b in zip(scar0, want_scar))
    assert changed > 0, "the keyboard's stroke should cross scar"
    wait_corrected(d, f"{changed} pixel", "the keyboard's stroke measured")
    # Lifted, it moves without painting.
    d.press(RIGHT, RIGHT, DOWN)
    time.sleep(0.5)
    assert status().startswith(f"{changed} pixel"), (status(), changed)
    assert d.js("return document.activeElement === document.querySelector('[data-testid=view]')")
    _, _, scar, myo = masks()
    assert scar == want_scar and myo == myo0, (sum(scar), sum(want_scar))
    d.js("document.querySelector('[data-testid=view]').focus()")
    d.press("u")
    wait_corrected(d, "0 pixel", "the keyboard's stroke undone in one step")
    d.js("document.activeElement.blur()")
    print(f"[cpu] keyboard brush: from the wall's centroid ({x}, {y}) to ({mid[0]}, {mid[1]}), "
          f"a stroke of 4 pixels erased {changed} scar pixels; one undo took it back")


def keyboard_insertion(d, report, myo0, cols, spacing):
    """The RV insertion marked without a mouse: on the focused image, i shows a cross at the
    pixel of the wall's centroid, the arrows move it, Enter marks there; the angle is the cross's
    around the wall's centroid, computed here."""
    status = d.js("return document.querySelector('[data-testid=aha-status]').innerText")
    assert status.startswith("No insertion marked"), status
    d.keys("0")
    assert d.js("const c = document.querySelector('[data-testid=view]'); c.focus();"
                "return document.activeElement === c")
    d.press("i")
    label = d.js("return document.querySelector('[data-testid=view]').getAttribute('aria-label')")
    assert "marking the RV insertion: the arrow keys move the cross" in label, label
    wall = [i for i, v in enumerate(myo0) if v]
    cx = sum(i % cols + 0.5 for i in wall) / len(wall)
    cy = sum(i // cols + 0.5 for i in wall) / len(wall)
    # Twenty pixels up and ten to the left of the centroid's pixel, where the standard view has
    # the anterior insertion.
    d.press(UP, UP, UP, UP, LEFT, LEFT, shift=True)
    d.press(ENTER)
    x, y = math.floor(cx) + 0.5 - 10, math.floor(cy) + 0.5 - 20
    sx, sy = spacing
    want = math.degrees(math.atan2((x - cx) * sx, -(y - cy) * sy)) % 360
    status = d.wait("const t = document.querySelector('[data-testid=aha-status]').innerText;"
                    "return t.startsWith('Anterior RV insertion') ? t : null", "the insertion marked")
    assert f"at {want:.0f} degrees" in status, (status, want)
    marks = report()["aha_segments"]["insertion_marks_deg"]
    assert abs(marks[0] - want) < 1e-9 and marks[1:] == [None, None], (marks, want)
    label = d.js("return document.querySelector('[data-testid=view]').getAttribute('aria-label')")
    assert "marking" not in label, "marked: marking should stop"
    print(f"[cpu] keyboard insertion: marked at {marks[0]:.2f} degrees (computed {want:.2f})")
    d.js("document.querySelector('[data-testid=aha-clear]').click()")
    d.wait("return document.querySelector('[data-testid=aha-status]').innerText.startsWith('No insertion marked')",
           "the keyboard's mark cleared")
    d.js("document.activeElement.blur()")


def sample_truth(d, downloads):
    """A bundled sample's truth: "load the phantom's truth" on phantom-9003 loads its labels
    file; the masks become the labels exactly and the report gives the network's Dice against
    them, both computed here from the exported masks and the labels PNG."""
    open_file(d, "phantom-9003")
    names = [f"phantom-9003_{kind}.png" for kind in ("scar", "myo")]

    def masks():
        return export_masks(d, downloads, names)[2]

    scar0, myo0 = masks()
    _, _, labels = read_png(DIST / "samples/png/phantom-9003_labels.png")
    truth_scar = [v in (3, 4) for v in labels]
    truth_myo = [v in (2, 3, 4) for v in labels]
    d.js("document.querySelector('[data-testid=load-truth]').click()")
    d.wait("return document.querySelector('[data-testid=stack-corrected]')", "the truth loaded")
    scar1, myo1 = masks()
    assert scar1 == truth_scar and myo1 == truth_myo

    def dice(a, b):
        return 2 * sum(x and y for x, y in zip(a, b)) / (sum(a) + sum(b))
    want = f"scar Dice {dice(scar0, truth_scar):.3f}, myocardium Dice {dice(myo0, truth_myo):.3f}"
    summary = d.js("return document.querySelector('[data-testid=stack-corrected]').innerText")
    print(f"[cpu] phantom-9003 against its truth: {want}")
    assert want in summary, (summary, want)
    # Undo gives the network's masks back.
    d.js("document.querySelector('[data-testid=correct-undo]').click()")
    d.wait("return document.querySelector('[data-testid=stack-corrected]') === null", "the truth undone")
    assert masks() == [scar0, myo0]
    # A case that is not a bundled sample has no truth to load.
    open_file(d, "case.nii.gz")
    assert d.js("return document.querySelector('[data-testid=load-truth]') === null")


def pattern_samples(d):
    """The teaching samples of scar that spares the endocardium: each opens, its truth loads,
    and the page's "where in the wall" line then gives the truth's thirds and regions, computed
    here from the sample's labels PNG, where no scar region reaches the endocardium (what the
    samples are for)."""
    for name, stem in (("phantom-9301 (mid-wall)", "patterns/mid-wall/phantom-9301"),
                       ("phantom-9408 (subepicardial)", "patterns/subepicardial/phantom-9408")):
        d.js("[...document.querySelectorAll('[data-testid=sample]')]"
             f".find(b => b.innerText == '{name}').click()")
        # Its row's button is disabled until the file is read; then its result.
        d.wait("return [...document.querySelectorAll('[data-testid=file-row]')]"
               f".some(r => r.innerText.startsWith('{name} done'))", f"{name}'s result")
        open_file(d, name)
        rows, cols, labels = read_png(DIST / f"samples/{stem}_labels.png")
        # Square pixels: depths, and so the thirds' shares, do not depend on their size.
        thirds, regions, endocardial = scar_depth_by_hand(
            [v in (3, 4) for v in labels], [v in (2, 3, 4) for v in labels], rows, cols, (1.0, 1.0))
        assert regions > 0 and endocardial == 0, (name, thirds, regions, endocardial)
        d.js("document.querySelector('[data-testid=load-truth]').click()")
        d.wait("return document.querySelector('[data-testid=stack-corrected]')", f"{name}'s truth")
        inner, middle, outer = (100 * t / sum(thirds) for t in thirds)
        want = (f"{inner:.0f}% of the scar in the inner third, {middle:.0f}% in the middle, "
                f"{outer:.0f}% in the outer; 0 of {regions} scar region(s)")
        d.wait(f"return document.querySelector('[data-testid=stack-depth]')?.innerText.includes('{want}')",
               f"{name}'s truth in the wall: {want}")
        print(f"[cpu] {name}'s truth: {inner:.0f} / {middle:.0f} / {outer:.0f}% of the scar by third, "
              f"0 of {regions} regions at the endocardium")


def printed_report(d):
    """"print report": under print media the page keeps the result (summary, table, image,
    bull's-eye) and drops every control; Chromium prints it as a PDF of at most three pages."""
    assert d.js("return document.querySelector('[data-testid=print]') !== null")
    media = lambda m: d.call("POST", d.s("/goog/cdp/execute"),
                             {"cmd": "Emulation.setEmulatedMedia", "params": {"media": m}})
    shown = ("return Object.fromEntries(arguments[0].map(q => [q, "
             "getComputedStyle(document.querySelector(q)).display != 'none']))")
    parts = [".input", ".files", ".viewer .controls", ".teaching", "[data-testid=print]",
             "[data-testid=aha-mark]", "[data-testid=stack-summary]", "[data-testid=view]",
             "[data-testid=bullseye]", "[data-testid=report] table"]
    screen = d.js(shown, parts)
    media("print")
    try:
        printed = d.js(shown, parts)
    finally:
        media("")
    kept = {q for q, v in printed.items() if v}
    assert kept == {"[data-testid=stack-summary]", "[data-testid=view]", "[data-testid=bullseye]",
                    "[data-testid=report] table"}, printed
    assert all(screen.values()), screen
    pdf = base64.b64decode(d.call("POST", d.s("/print"), {"background": True}))
    pages = len(re.findall(rb"/Type\s*/Page\b", pdf))
    print(f"printed report: {pages} page(s), {len(pdf)} bytes")
    assert pdf.startswith(b"%PDF") and 1 <= pages <= 3, (pdf[:8], pages)


def same_masks(d, device, downloads, cli_out, cases):
    """Exports each case's masks from the page and compares them with `scarseg predict`'s in
    `cli_out`; cases are (name on the page, stem of the page's files, stem of the CLI's, slices)."""
    total = differ = 0
    for name, stem, cli_stem, slices in cases:
        open_file(d, name)
        # A one-slice stack's files have no slice index.
        slice_stems = [f"{stem}_{k:03}" for k in range(slices)] if slices > 1 else [stem]
        names = [f"{x}_{kind}.png" for x in slice_stems for kind in ("scar", "myo")]
        # An earlier export of the same names would make the browser add " (1)" to these.
        for n in names:
            (downloads / n).unlink(missing_ok=True)
        d.js("document.querySelector('[data-testid=export-masks]').click()")
        wait_files(downloads, names)
        for n in names:
            _, _, page = read_png(downloads / n)
            _, _, cli = read_png(cli_out / n.replace(stem, cli_stem, 1))
            assert len(page) == len(cli), n
            total += len(page)
            differ += sum(a != b for a, b in zip(page, cli))
    print(f"[{device}] masks: {differ} of {total} pixels differ from scarseg predict")
    assert differ <= MAX_DIFF_FRACTION * total, f"{differ} of {total} pixels differ"


def element(data, group, elem, vr):
    """The value of the first explicit-VR little-endian element (group, elem) with a two-byte
    length (UI, CS, IS) in `data`."""
    at = data.index(struct.pack("<HH", group, elem) + vr)
    n = struct.unpack("<H", data[at + 6:at + 8])[0]
    return data[at + 8:at + 8 + n].rstrip(b"\0 ").decode()


def scar_depth_by_hand(scar, myo, rows, cols, spacing):
    """Where in the wall scar lies, computed here from the masks as the README defines it:
    (inner, middle, outer) areas in mm2, scar regions and those that reach the endocardium; None
    where the wall encloses no cavity. The cavity is the background no 4-connected path of
    background joins to the image's edge; a pixel's depth is d_endo / (d_endo + d_epi), each the
    distance from its centre to the nearest pixel square of that side."""
    dy, dx = spacing
    at = lambda r, c: r * cols + c
    near = lambda r, c: [(a, b) for a in range(max(r - 1, 0), min(r + 2, rows))
                         for b in range(max(c - 1, 0), min(c + 2, cols))]
    outside = [False] * (rows * cols)
    todo = [(r, c) for r in range(rows) for c in range(cols)
            if (r in (0, rows - 1) or c in (0, cols - 1)) and not myo[at(r, c)]]
    for r, c in todo:
        outside[at(r, c)] = True
    while todo:
        r, c = todo.pop()
        for a, b in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            if 0 <= a < rows and 0 <= b < cols and not myo[at(a, b)] and not outside[at(a, b)]:
                outside[at(a, b)] = True
                todo.append((a, b))
    edge = [(r, c) for r in range(rows) for c in range(cols)
            if not myo[at(r, c)] and any(myo[at(a, b)] for a, b in near(r, c))]
    endo = [p for p in edge if not outside[at(*p)]]
    epi = [p for p in edge if outside[at(*p)]]
    if not endo or not epi:
        return None
    dist = lambda r, c, side: min(math.hypot(max(abs(r - a) - 0.5, 0) * dy, max(abs(c - b) - 0.5, 0) * dx)
                                  for a, b in side)
    scar = [bool(s and m) for s, m in zip(scar, myo)]
    thirds, label, regions, endocardial = [0.0, 0.0, 0.0], {}, 0, set()
    for r in range(rows):
        for c in range(cols):
            if not scar[at(r, c)]:
                continue
            if (r, c) not in label:
                regions += 1
                label[(r, c)], todo = regions, [(r, c)]
                while todo:
                    p = todo.pop()
                    for q in near(*p):
                        if scar[at(*q)] and q not in label:
                            label[q] = regions
                            todo.append(q)
            e, o = dist(r, c, endo), dist(r, c, epi)
            third = min(int(e / (e + o) * 3 + 1e-9), 2)
            thirds[third] += dy * dx
            cavity = any(not myo[at(a, b)] and not outside[at(a, b)] for a, b in near(r, c))
            if third == 0 or cavity:
                endocardial.add(label[(r, c)])
    return thirds, regions, len(endocardial)


def dicom_segmentation(d, device, downloads, cli_out):
    """The page's DICOM SEG of the series (after `same_masks` exported its PNGs): one frame per
    segment and slice, each the page's own PNG mask, in the study `scarseg predict`'s SEG (which
    tests/dicom_seg_check.py checks against dciodvfy and highdicom) puts it in. A NIfTI case
    has none to give."""
    open_file(d, "case.nii.gz")
    assert d.js("return document.querySelector('[data-testid=export-seg]').disabled"), "SEG for NIfTI"
    open_file(d, "DICOM series")
    name = "DICOM series_seg.dcm"
    (downloads / name).unlink(missing_ok=True)
    d.js("document.querySelector('[data-testid=export-seg]').click()")
    wait_files(downloads, [name])
    page = (downloads / name).read_bytes()
    cli = (cli_out / "series_seg.dcm").read_bytes()
    assert page[128:132] == b"DICM", "not a DICOM file"
    assert element(page, 0x0008, 0x0060, b"CS") == "SEG"
    assert element(page, 0x0020, 0x000D, b"UI") == element(cli, 0x0020, 0x000D, b"UI")
    rows, cols = (struct.unpack("<H", page[page.index(struct.pack("<HH", 0x0028, t) + b"US") + 8:][:2])[0]
                  for t in (0x0010, 0x0011))
    slices = 3
    assert element(page, 0x0028, 0x0008, b"IS") == str(2 * slices)
    # Pixel Data (7FE0,0010), OB: two reserved bytes, a four-byte length, then the bits.
    at = page.rindex(struct.pack("<HH", 0x7FE0, 0x0010) + b"OB")
    n = struct.unpack("<I", page[at + 8:at + 12])[0]
    bits = page[at + 12:at + 12 + n]
    frame = rows * cols
    for f in range(2 * slices):
        kind, k = ("myo", "scar")[f // slices], f % slices
        _, _, png = read_png(downloads / f"DICOM series_{k:03}_{kind}.png")
        got = [bits[i // 8] >> (i % 8) & 1 for i in range(f * frame, (f + 1) * frame)]
        assert got == [int(v > 0) for v in png], f"frame {f} ({kind}, slice {k})"
    print(f"[{device}] DICOM SEG: {2 * slices} frames of {rows} x {cols}, the page's masks, in the series' study")
    # The measurement report: a Comprehensive 3D SR in the same study whose numbers are the
    # page's report's (predict's and highdicom's agreement is tests/dicom_seg_check.py's). Made
    # from the same result a few seconds later, it still references the segmentation exported
    # above by its UID (its evidence and each group's segment reference).
    time.sleep(2)
    name = "DICOM series_sr.dcm"
    (downloads / name).unlink(missing_ok=True)
    d.js("document.querySelector('[data-testid=export-sr]').click()")
    wait_files(downloads, [name])
    sr = (downloads / name).read_bytes()
    assert element(sr, 0x0008, 0x0016, b"UI") == "1.2.840.10008.5.1.4.1.1.88.34"
    assert element(sr, 0x0020, 0x000D, b"UI") == element(cli, 0x0020, 0x000D, b"UI")
    seg_uid = element(page, 0x0008, 0x0018, b"UI").encode()
    assert sr.count(seg_uid) >= 3, "the report does not reference the exported segmentation"
    (downloads / "scarseg-report.json").unlink(missing_ok=True)
    d.js("document.querySelector('[data-testid=export-json]').click()")
    wait_files(downloads, ["scarseg-report.json"])
    record = next(i for i in json.loads((downloads / "scarseg-report.json").read_text())["inputs"]
                  if i["input"] == "DICOM series")
    for key in ("scar_volume_mm3", "myocardium_volume_mm3", "scar_mass_g", "myocardium_mass_g",
                "burden_percent"):
        assert f"{record[key]:.6f}".encode() in sr, (key, record[key])
    # Where in the wall the scar lies, computed here from the page's mask PNGs: each slice's
    # thirds in its JSON record and its table cell, and the stack's (by volume) in its sentence.
    total, regions, endocardial = [0.0, 0.0, 0.0], 0, 0
    cells = d.js("return [...document.querySelectorAll('[data-testid=slice-depth]')].map(e => e.innerText)")
    for k, sl in enumerate(record["slices"]):
        rows, cols, scar = read_png(downloads / f"DICOM series_{k:03}_scar.png")
        _, _, myo = read_png(downloads / f"DICOM series_{k:03}_myo.png")
        mine = scar_depth_by_hand([v > 0 for v in scar], [v > 0 for v in myo], rows, cols, sl["spacing_mm"])
        got = sl["scar_depth"]
        if mine is None:  # an open wall: not measured
            assert got is None and cells[k] == "-", (k, got, cells[k])
            continue
        thirds, n, e = mine
        assert (got["regions"], got["endocardial_regions"]) == (n, e), (k, got, n, e)
        if sum(thirds) == 0:
            assert got["thirds_percent"] is None and cells[k] == "-", (k, got, cells[k])
            continue
        want = [100 * t / sum(thirds) for t in thirds]
        assert all(abs(a - b) < 1e-9 for a, b in zip(got["thirds_percent"], want)), (k, got, want)
        assert cells[k] == " / ".join(f"{w:.0f}" for w in want), (k, cells[k], want)
        total = [a + t * sl["disc_height_mm"] for a, t in zip(total, thirds)]
        regions, endocardial = regions + n, endocardial + e
    assert sum(total) > 0, "no slice's scar was measured"
    inner, middle, outer = (100 * t / sum(total) for t in total)
    depth_text = d.js("return document.querySelector('[data-testid=stack-depth]').innerText")
    assert (f"{inner:.0f}% of the scar in the inner third, {middle:.0f}% in the middle, {outer:.0f}% in the outer; "
            f"{endocardial} of {regions} scar region(s)") in depth_text, depth_text
    print(f"[{device}] where in the wall: {inner:.0f} / {middle:.0f} / {outer:.0f}% of the scar by third, "
          f"{endocardial} of {regions} regions at the endocardium, as computed here from the masks")
    # The page's summary gives the volumes in mL and their masses at 1.05 g/mL, as the JSON does.
    summary = d.js("return document.querySelector('[data-testid=stack-summary]').innerText")
    for part in ("scar", "myocardium"):
        ml = record[f"{part}_volume_mm3"] / 1000
        assert abs(record[f"{part}_mass_g"] - 1.05 * ml) < 1e-9 * max(ml, 1), (part, record)
        assert f"{part} {ml:.2f} mL ({1.05 * ml:.2f} g" in summary, (part, ml, summary)
    assert b"UNVERIFIED" in sr, "unsigned, the report is not verified"
    print(f"[{device}] DICOM SR: burden {record['burden_percent']:.2f}%, volumes and masses as the page's report")

    # Signed by a reader, the report is VERIFIED by them and still references the same
    # segmentation; half a signature is refused, and nothing is downloaded.
    def sign(testid, value):
        d.js(f"""const e = document.querySelector('[data-testid={testid}]'); e.value = '{value}';
                 e.dispatchEvent(new Event('input', {{bubbles: true}}));""")
    sign("sr-name", "Doe^Jane")
    (downloads / name).unlink(missing_ok=True)
    d.js("document.querySelector('[data-testid=export-sr]').click()")
    refused = d.wait("return document.querySelector('[data-testid=seg-error]')?.innerText",
                     "the half signature's message")
    assert "give both the name and the organization" in refused, refused
    sign("sr-organization", "Cardiology, General Hospital")
    assert "VERIFIED by them" in d.js(
        "return document.querySelector('[data-testid=sr-signed]').innerText")
    d.js("document.querySelector('[data-testid=export-sr]').click()")
    wait_files(downloads, [name])
    signed = (downloads / name).read_bytes()
    assert b"VERIFIED" in signed and b"UNVERIFIED" not in signed
    assert b"Doe^Jane" in signed and b"Cardiology, General Hospital" in signed
    assert signed.count(seg_uid) >= 3, "the signed report lost the segmentation"
    # Signed when it was signed, seconds after the result's objects were made.
    made = element(page, 0x0008, 0x0023, b"DA") + element(page, 0x0008, 0x0033, b"TM")
    verified = element(signed, 0x0040, 0xA030, b"DT")
    assert verified[:14] > made[:14], (verified, made)
    assert element(signed, 0x0008, 0x0018, b"UI") != element(sr, 0x0008, 0x0018, b"UI")
    assert not d.js("return document.querySelector('[data-testid=seg-error]')")
    sign("sr-name", "")
    sign("sr-organization", "")
    print(f"[{device}] DICOM SR signed: VERIFIED by the reader, same segmentation")


def faulty_model(out):
    """The bundled weights with ASE keeping every pixel (rho 1, in the manifest and in the
    weights' own config): at 128 x 128, a top-k of all 1,024 values at stage 0, far past where
    burn 0.22.1's GPU top-k goes wrong (`benchmarks/topk_survey_wgpu.md`). SwiftShader answers it
    after minutes, if at all, or wrongly; either way the worker must not trust it."""
    out.mkdir()
    source = DIST / "models/scarseg-atto-phantom"
    data = (source / "weights.safetensors").read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    config = json.loads(header["__metadata__"]["scarseg_config"])
    config["ase_rho"] = 1.0
    header["__metadata__"]["scarseg_config"] = json.dumps(config)
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    weights = struct.pack("<Q", len(encoded)) + encoded + data[8 + n:]
    (out / "weights.safetensors").write_bytes(weights)
    manifest = json.loads((source / "manifest.json").read_text())
    manifest["name"] = "rho-one"
    manifest["architecture"]["ase_rho"] = 1.0
    manifest["weights"].update(sha256=hashlib.sha256(weights).hexdigest(), bytes=len(weights))
    (out / "manifest.json").write_text(json.dumps(manifest))


def model_update(d, origin, data, tmp):
    """A default model published over the one the service worker keeps (other weights and their
    manifest under the same name, as a new release of the app brings) is the one the next visit
    uses, not the kept copy; it then works offline from the cache too; and going back to the
    first is picked up the same way."""
    base = "/models/scarseg-atto-phantom/"
    new = tmp / "rho-one"
    sha = {m: json.loads((f / "manifest.json").read_text())["weights"]["sha256"]
           for m, f in (("new", new), ("old", DIST / base.strip("/")))}
    assert sha["new"] != sha["old"]

    def visit():
        d.get(f"{origin}/?device=cpu")
        return d.wait("const m = document.querySelector('[data-testid=model-sha]');"
                      "return m && [m.innerText, m.parentElement.innerText]", "the model line")

    UPDATED.update({base + "manifest.json": new / "manifest.json",
                    base + "weights.safetensors": new / "weights.safetensors"})
    try:
        shown, line = visit()
        assert shown == sha["new"][:16] and "rho-one" in line, (line, sha)
        # The service worker keeps the new weights, by their hash, and no other copy.
        kept = ("caches.open('scarseg-v1').then(c => c.keys()).then(ks => ks.map(r => r.url)"
                ".filter(u => u.includes('/weights.safetensors')))")
        d.wait(f"return {kept}.then(ws => ws.length == 1 && ws[0].endsWith('?sha256={sha['new']}'))",
               "only the new weights kept")
        d.offline(True)
        try:
            shown, line = visit()
            assert shown == sha["new"][:16], (line, sha)
            d.upload("[data-testid=file-input]", [data / "offline.png"])
            d.wait("const s = [...document.querySelectorAll('[data-testid=file-status]')];"
                   "return s.length == 1 && s[0].innerText.startsWith('done')",
                   "analysis offline with the updated model")
        finally:
            d.offline(False)
        # The first model published again: copies, new as a release's files are (a file older
        # than the kept copy's Last-Modified is "not modified" to this server, which sends no ETag).
        again = tmp / "republished"
        again.mkdir()
        for name in ("manifest.json", "weights.safetensors"):
            shutil.copy(DIST / base.strip("/") / name, again / name)
            UPDATED[base + name] = again / name
        shown, line = visit()
        assert shown == sha["old"][:16] and "rho-one" not in line, (line, sha)
    finally:
        UPDATED.clear()
    print(f"[cpu] model update: the published model ({sha['new'][:8]}) replaced the kept one, "
          f"offline too, and the first came back ({sha['old'][:8]})")


def poisoning_loader(name, to):
    """A worker loader, served in place of the app's: the real worker, except that a job whose
    bytes hold `name` is answered with a number where a message's bytes are expected. The wasm
    that reads it takes it for the length of a byte array no wasm32 Vec can hold and panics
    (Rust's "capacity overflow"), as a bug would, or as a lost GPU or running out of memory kill
    a worker in the middle of a file. `to` is "worker" (the worker's own handler gets the number)
    or "page" (it is posted to the page)."""
    poison = {"worker": "handler({ data: 2 ** 31 + 1 })", "page": "self.postMessage(2 ** 31 + 1)"}[to]
    return """
importScripts("./scarseg-worker.js");
let handler = null;
Object.defineProperty(self, "onmessage", {
  configurable: true,
  get: () => handler,
  set: (h) => { handler = h; },
});
self.addEventListener("message", (event) => {
  const named = event.data instanceof Uint8Array &&
    new TextDecoder("latin1").decode(event.data).includes("NAME");
  if (named) POISON;
  else if (handler) handler(event);
});
wasm_bindgen("./scarseg-worker_bg.wasm");
""".replace("NAME", name).replace("POISON", poison)


LAST_PUBLISHED = [0.0]


def publish(url_path, file):
    """Serves `file` at `url_path`, dated at least two seconds after the last file published:
    this server sends no ETag, and a file not newer, to the second, than the copy the browser
    keeps is "not modified" to it."""
    when = max(time.time(), LAST_PUBLISHED[0] + 2)
    LAST_PUBLISHED[0] = when
    os.utime(file, (when, when))
    UPDATED[url_path] = file


def republish(tmp, names):
    """Serves fresh copies of dist's `names` in place of what UPDATED served."""
    UPDATED.clear()
    fresh = tmp / f"republished-{time.monotonic_ns()}"
    fresh.mkdir()
    for name in names:
        shutil.copy(DIST / name, fresh / name)
        publish("/" + name, fresh / name)


def crashing_worker(tmp, data):
    """Serves a loader whose worker panics on a file named crash-in-worker; returns the three
    files to open: the one that kills the worker first, then two good ones."""
    loader = tmp / "crashing-loader.js"
    loader.write_text(poisoning_loader("crash-in-worker", "worker"))
    publish("/scarseg-worker_loader.js", loader)
    crash = tmp / "crash-in-worker.png"
    shutil.copy(data / "single.png", crash)
    return [crash, data / "single.png", data / "offline.png"]


def after_the_crash(d, device):
    """Waits for the three files of `crashing_worker` to end; checks that the first failed with
    the panic's message and the other two were analysed by the new worker. Returns the rows."""
    rows = d.wait("""const r = [...document.querySelectorAll('[data-testid=file-row]')].map(e => e.innerText);
        return r.length == 3 && r.every(t => t.includes('done') || t.includes('failed')) ? r : null""",
                  "the files after the worker died", timeout=180)
    print(f"[{device}] after the worker died: {rows}")
    assert "crash-in-worker.png" in rows[0] and "failed" in rows[0], rows
    assert "the analysis worker stopped on this file (capacity overflow (at Rust's library/" in rows[0], rows
    assert all("done" in r for r in rows[1:]), rows
    notice = d.js("return document.querySelector('[data-testid=worker-notice]').innerText")
    assert notice.startswith("The analysis worker stopped (capacity overflow"), notice
    return rows


def worker_deaths(d, origin, data, tmp):
    """A worker that dies in the middle of a file costs that file, not the page: it fails with
    the reason, a new worker analyses the files after it with the model the user had opened,
    and the page says what happened. A worker that cannot start at all is said to, and a file
    opened then fails with the reason instead of waiting for ever."""
    files = crashing_worker(tmp, data)
    try:
        d.get(f"{origin}/?device=cpu")
        d.wait("return document.querySelector('[data-testid=model-sha]')", "the default model")
        model = tmp / "rho-one"
        # An archive without a model folder is refused with the reason; the model folder packed
        # in a ZIP archive (as it is sent to a colleague) is opened as the folder.
        notes = tmp / "notes.zip"
        with zipfile.ZipFile(notes, "w") as z:
            z.writestr("notes/readme.txt", "no model here")
        d.upload("[data-testid=weights-input]", [notes])
        message = d.wait("return document.querySelector('[data-testid=model-error]')?.innerText",
                         "the archive's error")
        assert message.startswith("notes.zip: holds no manifest.json"), message
        packed = tmp / "rho-one.zip"
        with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as z:
            for f in sorted(model.iterdir()):
                z.write(f, f"rho-one/{f.name}")
        d.upload("[data-testid=weights-input]", [packed])
        d.wait("return document.body.innerText.includes('rho-one')", "the user's model")
        assert not d.js("return document.querySelector('[data-testid=model-error]')"), "an error left"
        d.upload("[data-testid=file-input]", files)
        rows = after_the_crash(d, "cpu")
        notice = d.js("return document.querySelector('[data-testid=worker-notice]').innerText")
        # The new worker took the user's model again before the files: their burdens are
        # `scarseg predict`'s with it (the default model gives 4.5% and 10.7%, rho-one 0.5%, 0.7%).
        line = d.js("return document.querySelector('[data-testid=model]').innerText")
        assert "rho-one" in line, line
        cli = tmp / "cli-rho-one-png"
        subprocess.run([str(SCARSEG), "predict", *map(str, files[1:]), "--out", str(cli),
                        "--weights", str(model)], check=True, stderr=subprocess.DEVNULL)
        burdens = [i["burden_percent"] for i in json.loads((cli / "report.json").read_text())["inputs"]]
        for row, burden in zip(rows[1:], burdens):
            assert f"burden {burden:.1f}%" in row, (rows, burdens)

        # The crashed worker's successor is on the device it was on.
        assert d.js("return document.querySelector('[data-testid=device]').innerText").startswith(
            "Network runs on: CPU (flex (WebAssembly)): you chose the CPU")
        print(f"[cpu] worker died: {notice}")

        # Another device chosen while a stack is analysed: the stack starts again there, and the
        # user's weights come along (Auto is the CPU here: this browser has no WebGPU).
        d.upload("[data-testid=file-input]", [data / "long.nii.gz"])
        d.wait("return document.querySelectorAll('[data-testid=file-status]')[3]?.innerText"
               ".startsWith('analysing slice')", "the long stack to start")
        d.js("""const s = document.querySelector('[data-testid=device-choice]');
                s.value = 'auto'; s.dispatchEvent(new Event('change', {bubbles: true}));""")
        row = d.wait("""const r = document.querySelectorAll('[data-testid=file-row]')[3].innerText;
            return r.includes('done') || r.includes('failed') || r.includes('cancelled') ? r : null""",
                     "the long stack on the new device")
        device = d.js("return document.querySelector('[data-testid=device]').innerText")
        assert "no WebGPU device" in device, device
        line = d.js("return document.querySelector('[data-testid=model]').innerText")
        assert "rho-one" in line, line
        subprocess.run([str(SCARSEG), "predict", str(data / "long.nii.gz"), "--out", str(cli / "long"),
                        "--weights", str(model)], check=True, stderr=subprocess.DEVNULL)
        burden = json.loads((cli / "long" / "report.json").read_text())["inputs"][0]["burden_percent"]
        print(f"[cpu] a device switch during a stack: {row}")
        assert "done" in row and f"burden {burden:.1f}%" in row, (row, burden)

        # A worker whose wasm this browser cannot compile (started by the app's own loader).
        junk = tmp / "junk.wasm"
        junk.write_bytes(b"not a wasm module")
        republish(tmp, ["scarseg-worker_loader.js"])
        publish("/scarseg-worker_bg.wasm", junk)
        d.get(f"{origin}/?device=cpu")
        notice = d.wait("return document.querySelector('[data-testid=worker-notice]')?.innerText",
                        "the worker's failed start")
        print(f"[cpu] worker could not start: {notice}")
        assert notice.startswith("No analysis runs: the analysis worker could not start (") \
            and "CompileError" in notice, notice
        d.upload("[data-testid=file-input]", [data / "single.png"])
        status = d.wait("""const s = document.querySelector('[data-testid=file-status]');
            return s && !s.innerText.startsWith('queued') ? s.closest('[data-testid=file-row]').innerText : null""",
                        "the file opened without a worker")
        assert "failed" in status and "not analysed: the analysis worker could not start" in status, status
        republish(tmp, ["scarseg-worker_loader.js", "scarseg-worker_bg.wasm"])
        d.get(f"{origin}/?device=cpu")
        d.wait("return document.querySelector('[data-testid=model-sha]')", "the default model again")
    finally:
        UPDATED.clear()


def page_fault(d, origin, data, tmp):
    """A panic in the page's own wasm says so at the top of the page, with its message, and
    leaves what was shown in place; the notice's button, which has the focus, reloads a working
    page. A trap without a panic (memory running out) is said too."""
    loader = tmp / "page-poisoning-loader.js"
    loader.write_text(poisoning_loader("crash-in-page", "page"))
    publish("/scarseg-worker_loader.js", loader)
    crash = tmp / "crash-in-page.png"
    shutil.copy(data / "single.png", crash)

    def reload_from_the_notice(what):
        d.js("document.querySelector('[data-testid=page-fault-reload]').click()")
        d.wait("return !document.querySelector('[data-testid=page-fault]') && "
               "document.querySelector('[data-testid=model-sha]')", what)

    try:
        d.get(f"{origin}/?device=cpu")
        d.wait("return document.querySelector('[data-testid=model-sha]')", "the default model")
        d.upload("[data-testid=file-input]", [data / "single.png"])
        d.wait("return document.querySelector('[data-testid=file-status]')?.innerText.startsWith('done')",
               "the file before the fault")
        d.upload("[data-testid=file-input]", [crash])
        notice = d.wait("return document.querySelector('[data-testid=page-fault]')?.innerText",
                        "the page's notice of its fault")
        print(f"[cpu] page fault: {notice}")
        assert notice.startswith("ScarSeg's page stopped on a fault (capacity overflow (at Rust's library/"), notice
        assert "Reload the page to go on" in notice, notice
        # At the top, in sight, and what was shown before stays.
        assert d.js("return document.body.firstElementChild.dataset.testid") == "page-fault"
        assert d.js("return document.activeElement.dataset.testid") == "page-fault-reload"
        first = d.js("return document.querySelector('[data-testid=file-row]').innerText")
        assert "single.png done: burden 4.5%" in first, first
        republish(tmp, ["scarseg-worker_loader.js"])
        reload_from_the_notice("the reloaded page")

        # A trap that no panic announced (an allocation that fails aborts without the panic
        # hook: the page's memory running out), as the browser reports it. Another page error
        # (an extension's, say) is not the page's own.
        raise_js = "window.dispatchEvent(new ErrorEvent('error', {error: new %s, message: '%s'}))"
        d.js(raise_js % ("Error('elsewhere')", "Uncaught Error: elsewhere"))
        assert not d.js("return document.querySelector('[data-testid=page-fault]')")
        d.js(raise_js % ("WebAssembly.RuntimeError('unreachable')", "Uncaught RuntimeError: unreachable"))
        notice = d.wait("return document.querySelector('[data-testid=page-fault]')?.innerText",
                        "the page's notice of a trap")
        print(f"[cpu] page trap: {notice.splitlines()[0][:120]}")
        assert notice.startswith("ScarSeg's page stopped: its WebAssembly was halted without a panic "
                                 "(Uncaught RuntimeError: unreachable), as it is when its memory runs out"), notice
        reload_from_the_notice("the page reloaded again")
        d.upload("[data-testid=file-input]", [crash])
        d.wait("return document.querySelector('[data-testid=file-status]')?.innerText.startsWith('done')",
               "a file analysed after the reload")
    finally:
        UPDATED.clear()


def worker_death_on_gpu(d, origin, data, tmp):
    """A worker that dies on WebGPU is started again on the CPU, and the device line says why."""
    files = crashing_worker(tmp, data)
    try:
        d.get(f"{origin}/?device=webgpu")
        d.wait("return document.querySelector('[data-testid=model-sha]')", "the default model")
        d.upload("[data-testid=file-input]", files)
        after_the_crash(d, "webgpu")
        notice = d.js("return document.querySelector('[data-testid=worker-notice]').innerText")
        assert ", on the CPU," in notice, notice
        line = d.js("return document.querySelector('[data-testid=device]').innerText")
        print(f"[webgpu] worker died: {line.splitlines()[0]}")
        assert line.startswith("Network runs on: CPU (flex (WebAssembly)): the worker stopped on "
                               "WebGPU (capacity overflow"), line
        assert d.js("return document.querySelector('[data-testid=device-choice]').value") == "cpu"
        # The model's archive opened with the scans instead: its row says where it goes.
        packed = tmp / "rho-one-scans.zip"
        with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as z:
            for f in sorted((tmp / "rho-one").iterdir()):
                z.write(f, f"rho-one/{f.name}")
        n = len(statuses(d))
        d.upload("[data-testid=file-input]", [packed])
        row = d.wait(f"""const r = [...document.querySelectorAll('[data-testid=file-row]')][{n}];
            return r && r.innerText.includes('failed') ? r.innerText : null""", "the model archive's row")
        assert "rho-one-scans.zip/rho-one: an exported model folder" in row and "Open your own weights" in row, row
        republish(tmp, ["scarseg-worker_loader.js"])
        d.get(f"{origin}/?device=webgpu")
        d.wait("return document.querySelector('[data-testid=model-sha]')", "the default model again")
    finally:
        UPDATED.clear()


def gpu_fallback(d, data, tmp, downloads):
    """A model whose top-k the GPU cannot be trusted with moves the worker to the CPU, the
    device line says why, and the masks are the CLI's (flex, which sorts) for that model."""
    model = tmp / "rho-one"
    d.upload("[data-testid=weights-input]", [model / "manifest.json", model / "weights.safetensors"])
    line = d.wait("const t = document.querySelector('[data-testid=device]').innerText;"
                  "return t.includes('known answers') ? t : null", "the move to the CPU", timeout=180)
    print(f"[webgpu] faulty top-k: {line.splitlines()[0]}")
    assert line.startswith("Network runs on: CPU") and "WebGPU failed a check" in line, line
    d.wait("return document.body.innerText.includes('rho-one')", "the rho-one model")
    d.upload("[data-testid=file-input]", sorted((data / "series").iterdir()))
    d.wait("return [...document.querySelectorAll('[data-testid=file-status]')]"
           ".some(e => e.innerText.startsWith('done') && e.closest('[data-testid=file-row]')"
           "?.innerText.includes('DICOM series'))", "the series on the CPU")
    same_masks(d, "webgpu, fallen back to the CPU", downloads, tmp / "cli-rho-one",
               [("DICOM series", "DICOM series", "series", 3)])


def segmentation_beside(d, data, downloads, edited):
    """A DICOM segmentation opened with its series (a folder exported from a PACS with a
    reader's segmentation in it) is not read as a slice but offered as the series' labels, and
    loading it gives the corrections loading it through "load labels" gave."""
    rows = len(statuses(d))
    d.upload("[data-testid=file-input]",
             sorted((data / "series").iterdir()) + [downloads / "corrected_seg.dcm"])
    shown = d.wait(f"const s = [...document.querySelectorAll('[data-testid=file-status]')];"
                   f"return s.length == {rows + 1} && s[{rows}].innerText.startsWith('done')"
                   f" ? s[{rows}].innerText : null", "the series opened with its segmentation")
    d.js(f"document.querySelectorAll('[data-testid=file-row] button')[{rows}].click()")
    button = d.wait("return document.querySelector('[data-testid=apply-beside]')?.innerText",
                    "the segmentation offered")
    assert button == "load corrected_seg.dcm as labels", button
    summary = d.js("return document.querySelector('[data-testid=stack-summary]').innerText")
    assert summary.startswith("DICOM series") and "3 slice" in summary, summary
    d.js("document.querySelector('[data-testid=apply-beside]').click()")
    wait_corrected(d, f"{edited} pixel", "the segmentation beside the series loaded")
    assert not d.js("return document.querySelector('[data-testid=labels-error]')")
    print(f"[cpu] a segmentation opened with its series: offered, not read as a slice ({shown}); "
          f"loaded, {edited} pixels as through 'load labels'")


def segmentation_beside_two_series(d, data, downloads):
    """A folder of two series (the test series and the bundled DICOM sample) with the
    segmentation of one: each series is a part of its own, and only the test series' part
    offers the segmentation, which fits none of the sample's slices."""
    rows = len(statuses(d))
    sample = sorted((ROOT / "public/samples/dicom/phantom-9201").iterdir())
    d.upload("[data-testid=file-input]",
             sorted((data / "series").iterdir()) + sample + [downloads / "corrected_seg.dcm"])
    names = d.wait(f"const r = [...document.querySelectorAll('[data-testid=file-row]')].slice({rows});"
                   "return r.length == 2 && r.every(e => e.querySelector('[data-testid=file-status]')"
                   ".innerText.startsWith('done')) ? r.map(e => e.querySelector('button').innerText) : null",
                   "both series of the folder")
    offered = {}
    for k, name in enumerate(names):
        d.js(f"document.querySelectorAll('[data-testid=file-row] button')[{rows + k}].click()")
        summary = d.wait(f"const t = document.querySelector('[data-testid=stack-summary]')?.innerText;"
                         f"return t && t.startsWith({json.dumps(name)}) ? t : null", f"{name} selected")
        slices = re.search(r"over (\d+) slice", summary).group(1)
        offered[slices] = d.js("return [...document.querySelectorAll('[data-testid=apply-beside]')]"
                               ".map(b => b.innerText)")
    assert offered == {"3": ["load corrected_seg.dcm as labels"], "4": []}, (names, offered)
    print(f"[cpu] a folder of two series and one segmentation: {names}; offered per part by slice count {offered}")


def statuses(d):
    return d.js("return [...document.querySelectorAll('[data-testid=file-row]')]"
                ".map(r => r.querySelector('button').innerText + ' | ' + "
                "r.querySelector('[data-testid=file-status]').innerText)")


def limits_and_cancel(d, data, tmp):
    # Over the byte limit: a sparse file, so the test writes nothing; the page refuses it from
    # its size before reading a byte.
    huge = tmp / "huge.nii"
    with open(huge, "wb") as f:
        f.truncate((512 << 20) + 1)
    absurd = ROOT / "crates/scarseg-imaging/tests/corpus/bad/absurd_size.nii"
    n = len(statuses(d))
    d.upload("[data-testid=file-input]", [huge, absurd])
    rows = d.wait(f"""const r = [...document.querySelectorAll('[data-testid=file-status]')].slice({n});
        return r.length == 2 && r.every(e => e.innerText.startsWith('failed')) ? r.map(e => e.innerText) : null""",
                  "the size-limit messages")
    print(f"[cpu] limits: {rows}")
    assert any("huge.nii" in r and "512 MiB" in r for r in rows), rows
    assert any("absurd_size.nii" in r and "4096 pixels per side" in r for r in rows), rows

    # Cancel a long stack while it runs; the worker then still analyses the next file.
    n = len(statuses(d))
    d.upload("[data-testid=file-input]", [data / "long.nii.gz"])
    d.wait(f"return document.querySelectorAll('[data-testid=file-status]')[{n}]?.innerText.startsWith('analysing slice')",
           "the long stack to start")
    d.js(f"document.querySelectorAll('[data-testid=file-row]')[{n}].querySelectorAll('button')[1].click()")
    status = d.wait(f"""const t = document.querySelectorAll('[data-testid=file-status]')[{n}].innerText;
        return t == 'cancelled' || t.startsWith('done') ? t : null""", "the cancel")
    print(f"[cpu] long stack after cancel: {status}")
    assert status == "cancelled", status
    d.upload("[data-testid=file-input]", [data / "single.png"])
    d.wait(f"return document.querySelectorAll('[data-testid=file-status]')[{n + 1}]?.innerText.startsWith('done')",
           "analysis after a cancel")


def several_stacks(d, device, downloads, cli_out):
    """A file of two stacks (a PSIR acquisition's magnitude and real images) becomes two cases,
    each analysed, with the masks `scarseg predict` writes for each."""
    n = len(statuses(d))
    d.upload("[data-testid=file-input]", [PSIR])
    rows = d.wait(f"""const r = [...document.querySelectorAll('[data-testid=file-row]')].slice({n});
        const s = r.map(e => e.querySelector('button').innerText + ' | ' +
                             e.querySelector('[data-testid=file-status]').innerText);
        return s.length == 2 && s.every(t => t.includes('| done')) ? s : null""", "both stacks")
    print(f"[{device}] a PSIR file: {rows}")
    names = [r.split(" | ")[0] for r in rows]
    assert names == ["enhanced_psir.dcm (image type MAGNITUDE)",
                     "enhanced_psir.dcm (image type REAL)"], names
    same_masks(d, device, downloads, cli_out,
               [(f"enhanced_psir.dcm (image type {k})", f"enhanced_psir_image-type-{k}",
                 f"enhanced_psir_image-type-{k}", 2) for k in ("MAGNITUDE", "REAL")])


def compressed(d, device, downloads, cli_out):
    """JPEG-LS, JPEG 2000 and 12-bit lossy JPEG files (which dicom-rs would decode only with C
    code, or not at all) are analysed in the page, the near-lossless one with its warning, to
    `scarseg predict`'s masks."""
    for path, what in [(JPEG_LS, "JPEG-LS"), (JPEG_2000, "JPEG 2000"), (JPEG_12, "12-bit JPEG")]:
        n = len(statuses(d))
        d.upload("[data-testid=file-input]", [path])
        row = d.wait(f"""const r = [...document.querySelectorAll('[data-testid=file-row]')][{n}];
            return r && r.querySelector('[data-testid=file-status]').innerText.startsWith('done')
                ? r.innerText : null""", f"the {what} file")
        print(f"[{device}] a {what} file: {row}")
        if path == JPEG_LS:
            assert "near-lossless JPEG-LS (NEAR 3)" in row, row
        same_masks(d, device, downloads, cli_out, [(path.name, path.stem, path.stem, 1)])


def archive(d, device, downloads, cli_out):
    """A ZIP archive dropped on the page is read as the folder it holds: its series and its
    volume each a case, analysed to `scarseg predict`'s masks for the same archive, and its
    readme left out with a note; a tar archive of the same files the same way."""
    n = len(statuses(d))
    d.upload("[data-testid=file-input]", [STUDY_ZIP])
    done = d.wait(f"""const r = [...document.querySelectorAll('[data-testid=file-row]')].slice({n});
        return r.length == 2 && r.every(x => x.querySelector('[data-testid=file-status]')
            .innerText.startsWith('done')) ? r.map(x => x.innerText) : null""", "the archive's cases")
    print(f"[{device}] a ZIP archive: {done}")
    assert [row.split(" ")[0] for row in done] == ["study.zip/volume.nii", "study.zip/SE1"], done
    note = d.js("return document.body.innerText")
    assert "study.zip/readme.txt" in note, "the readme's note"
    same_masks(d, device, downloads, cli_out,
               [("study.zip/SE1", "SE1", "SE1", 3), ("study.zip/volume.nii", "volume", "volume", 3)])
    # The same files in a gzip-compressed tar archive: the same cases, and the same masks.
    n = len(statuses(d))
    d.upload("[data-testid=file-input]", [STUDY_TGZ])
    done = d.wait(f"""const r = [...document.querySelectorAll('[data-testid=file-row]')].slice({n});
        return r.length == 2 && r.every(x => x.querySelector('[data-testid=file-status]')
            .innerText.startsWith('done')) ? r.map(x => x.innerText) : null""", "the tar archive's cases")
    print(f"[{device}] a tar archive: {done}")
    assert [row.split(" ")[0] for row in done] == ["study.tar.gz/volume.nii", "study.tar.gz/SE1"], done
    assert "study.tar.gz/readme.txt" in d.js("return document.body.innerText"), "the readme's note"
    same_masks(d, device, downloads, cli_out,
               [("study.tar.gz/SE1", "SE1", "SE1", 3),
                ("study.tar.gz/volume.nii", "volume", "volume", 3)])


def nested_archive(d, device, downloads, cli_out):
    """Archives inside a dropped archive are read as its folders: the series in SE1.zip and the
    volume two archives down each a case, analysed to `scarseg predict`'s masks for the same
    archive; the cut archive inside fails by its path and the others are read."""
    n = len(statuses(d))
    d.upload("[data-testid=file-input]", [NESTED_ZIP])
    rows = d.wait(f"""const r = [...document.querySelectorAll('[data-testid=file-row]')].slice({n});
        return r.length == 3 && r.every(x => /^(done|failed)/.test(x.querySelector(
            '[data-testid=file-status]').innerText)) ? r.map(x => x.innerText) : null""",
                  "the nested archive's cases")
    print(f"[{device}] archives inside an archive: {rows}")
    failed = [r for r in rows if "failed" in r]
    assert len(failed) == 1 and failed[0].startswith("nested.zip/cut.zip"), rows
    assert "not a ZIP archive that reads" in failed[0], failed
    done = sorted(r.split(" ")[0] for r in rows if r not in failed)
    assert done == ["nested.zip/SE1.zip", "nested.zip/more/volume.zip/deeper.zip/volume.nii"], rows
    same_masks(d, device, downloads, cli_out,
               [("nested.zip/SE1.zip", "SE1", "SE1", 3),
                ("nested.zip/more/volume.zip/deeper.zip/volume.nii", "volume", "volume", 3)])


# Explicit VRs whose length takes four bytes (after two reserved ones).
LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}


def dicom_elements(data):
    """{(group, element): (VR, offset of the element, value bytes)} of an explicit-VR
    little-endian Part 10 file's top-level elements, the file meta group's included."""
    at, out = 132, {}
    while at < len(data):
        group, elem = struct.unpack("<HH", data[at:at + 4])
        vr = data[at + 4:at + 6]
        if vr in LONG_VRS:
            n, start = struct.unpack("<I", data[at + 8:at + 12])[0], at + 12
        else:
            n, start = struct.unpack("<H", data[at + 6:at + 8])[0], at + 8
        assert n != 0xFFFFFFFF, "an undefined length: not walked here"
        out[(group, elem)] = (vr, at, data[start:start + n])
        at = start + n
    return out


def stored_window(d, data, tmp):
    """A DICOM image with a window stored by the scanner (the series' first file with
    WindowCenter and WindowWidth put in here, two presets) opens with the first preset: the
    level and width fields show it, and the image is drawn with it, each pixel's grey computed
    here from the file's stored values and rescale. A typed level redraws the image with it;
    "stored" goes back to the scanner's window."""
    source = sorted((data / "series").iterdir())[0].read_bytes()
    elements = dicom_elements(source)

    def ds(elem, text):
        value = text.encode() + b" " * (len(text) % 2)
        return struct.pack("<HH", 0x0028, elem) + b"DS" + struct.pack("<H", len(value)) + value
    rows = struct.unpack("<H", elements[(0x0028, 0x0010)][2])[0]
    cols = struct.unpack("<H", elements[(0x0028, 0x0011)][2])[0]
    stored = struct.unpack(f"<{rows * cols}H", elements[(0x7FE0, 0x0010)][2])
    slope = float(elements[(0x0028, 0x1053)][2].decode().strip())
    intercept = float(elements[(0x0028, 0x1052)][2].decode().strip())
    values = [v * slope + intercept for v in stored]
    # A window over the middle of the image's values, unlike the page's automatic one.
    ordered = sorted(values)
    centre = round(ordered[len(ordered) // 2])
    width = min(round((ordered[-1] - ordered[0]) / 3), 999)
    assert (0x0028, 0x1050) not in elements, "the phantom stores no window of its own"
    # The fields show whole numbers for widths of 100 to 999 (steps of 1).
    assert 100 <= width < 1000, width
    after = min(at for (g, e), (_, at, _) in elements.items() if g != 2 and (g, e) > (0x0028, 0x1051))
    windowed = (source[:after] + ds(0x1050, f"{centre}\\{centre * 2}")
                + ds(0x1051, f"{width}\\{width * 2}") + source[after:])
    path = tmp / "windowed.dcm"
    path.write_bytes(windowed)
    n = len(statuses(d))
    d.upload("[data-testid=file-input]", [path])
    d.wait(f"""const r = [...document.querySelectorAll('[data-testid=file-row]')][{n}];
        return r && r.querySelector('[data-testid=file-status]').innerText.startsWith('done')""",
           "the windowed file")
    open_file(d, "windowed.dcm")

    def fields():
        return d.js("return ['centre', 'width'].map(k => "
                    "document.querySelector(`[data-testid=window-${k}]`).value)")

    def drawn():
        return d.js("""const c = document.querySelector('[data-testid=view]');
            const p = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            return [c.width, c.height, Array.from({length: c.width * c.height}, (_, i) => p[4 * i])];""")

    def grey(c, w):
        return [round(min(max((v - (c - w / 2)) / w, 0.0), 1.0) * 255) for v in values]

    def worst(c, w):
        width_, height, shown = drawn()
        assert (width_, height) == (cols, rows), (width_, height, cols, rows)
        return max(abs(a - b) for a, b in zip(shown, grey(c, w)))
    assert fields() == [str(centre), str(width)], (fields(), centre, width)
    # The masks off: the image alone.
    d.js("document.activeElement.blur()")
    d.keys("m")
    time.sleep(0.5)
    assert worst(centre, width) <= 1, worst(centre, width)
    # A level typed in: the image follows.
    d.js("""const f = document.querySelector('[data-testid=window-centre]');
            f.value = arguments[0]; f.dispatchEvent(new Event('change', {bubbles: true}));""",
         str(centre + width // 2))
    time.sleep(0.5)
    assert fields() == [str(centre + width // 2), str(width)], fields()
    assert worst(centre + width // 2, width) <= 1
    d.js("document.querySelector('[data-testid=window-stored]').click()")
    time.sleep(0.5)
    assert fields() == [str(centre), str(width)], fields()
    assert worst(centre, width) <= 1
    # r: the automatic window; w: the stored one again.
    d.keys("r")
    time.sleep(0.5)
    assert fields() != [str(centre), str(width)], fields()
    d.keys("w")
    time.sleep(0.5)
    assert fields() == [str(centre), str(width)], fields()
    # The readout under the pointer: the pixel it is over and its value in the file's units.
    bright = max(range(len(values)), key=lambda j: values[j])
    px, py = click_view(d, bright % cols + 0.5, bright // cols + 0.5, "mousemove")
    x, y = math.floor(px), math.floor(py)
    text = d.wait("return document.querySelector('[data-testid=readout]').innerText", "the readout")
    found = re.fullmatch(r"pixel x (\d+), y (\d+) \(from the top left, from 0\), LPS \(([-\d.]+), "
                         r"([-\d.]+), ([-\d.]+)\) mm: value ([-\d.]+), scar probability ([\d.]+); "
                         r"(scar|myocardium, not scar|outside the myocardium)", text.strip())
    assert found, text
    # The pixel's centre in scanner coordinates from the file's own position, orientation and
    # spacing (ImagePositionPatient, ImageOrientationPatient, PixelSpacing).
    def floats(tag):
        return [float(v) for v in elements[tag][2].decode().strip(" \0").split("\\")]
    position, orientation = floats((0x0020, 0x0032)), floats((0x0020, 0x0037))
    row_mm, col_mm = floats((0x0028, 0x0030))
    lps = [position[k] + orientation[k] * x * col_mm + orientation[3 + k] * y * row_mm for k in range(3)]
    assert all(abs(float(found[3 + k]) - lps[k]) <= 0.051 for k in range(3)), (text, lps)
    want = values[y * cols + x]
    shown = float(found[6])
    # Four significant digits: within half a unit of the last one shown.
    assert (int(found[1]), int(found[2])) == (x, y) and abs(shown - want) <= 0.5 * 10 ** (
        math.floor(math.log10(abs(want))) - 3) + 1e-3, (text, x, y, want)
    assert 0 <= float(found[7]) <= 1, text
    d.js("document.querySelector('[data-testid=view]').dispatchEvent(new MouseEvent('mouseleave'))")
    d.wait("return document.querySelector('[data-testid=readout]').innerText.trim() === ''",
           "the readout cleared")
    d.keys("m")
    print(f"[cpu] stored window: level {centre}, width {width} shown and drawn (grey within 1 of "
          f"the file's values through it), a typed level too; readout: {text.strip()!r}")


def zoom_fit(d):
    """A case opens fitted to the view, as clinical viewers open a series: the whole slice, as
    large as the box's width and 80% of the window's height (its CSS max-height) allow, in its
    pixels' aspect (square in these cases), with no scroll bars. "+" zooms in past it, and "fit"
    or f fits it again. Checked on two cases whose slices differ in size."""
    def shown():
        return d.js("""const c = document.querySelector('[data-testid=view]'), b = c.parentElement;
            const r = c.getBoundingClientRect();
            return {w: r.width, h: r.height, cols: c.width, rows: c.height, box: b.clientWidth,
                    tall: Math.floor(0.8 * innerHeight),
                    scrolls: b.scrollWidth > b.clientWidth || b.scrollHeight > b.clientHeight};""")

    def assert_fitted(name):
        s = shown()
        assert s["w"] <= s["box"] and s["h"] <= s["tall"] and not s["scrolls"], (name, s)
        # As large as it can be: one side meets the box, to the CSS pixel the size is rounded to.
        assert s["box"] - s["w"] < 1 or s["tall"] - s["h"] < 1, (name, s)
        assert abs(s["w"] - s["h"] * s["cols"] / s["rows"]) <= 1, (name, s)
        return s
    sizes = {}
    for name in ("DICOM series", "phantom-9003"):
        open_file(d, name)
        time.sleep(0.3)
        fitted = assert_fitted(name)
        sizes[name] = (fitted["rows"], fitted["cols"])
        d.js("document.activeElement.blur()")
        d.keys("++")
        time.sleep(0.3)
        zoomed = shown()
        assert zoomed["w"] > fitted["w"] * 1.5 and zoomed["scrolls"], (name, zoomed, fitted)
        if name == "DICOM series":
            d.js("document.querySelector('[data-testid=zoom-fit]').click()")
        else:
            d.keys("f")
        time.sleep(0.3)
        assert assert_fitted(name)["w"] == fitted["w"], name
    assert len(set(sizes.values())) == 2, sizes
    # A smaller window fits the image again, unless the user zoomed (kept).
    size = d.call("GET", d.s("/window/rect"))
    try:
        d.call("POST", d.s("/window/rect"), {"width": 1000, "height": 700})
        time.sleep(0.5)
        smaller = assert_fitted("phantom-9003, a smaller window")
        assert smaller["w"] < fitted["w"], (smaller, fitted)
        d.keys("+")
        time.sleep(0.3)
        zoomed = shown()["w"]
        d.call("POST", d.s("/window/rect"), {"width": 1100, "height": 750})
        time.sleep(0.5)
        assert shown()["w"] == zoomed, (shown(), zoomed)
    finally:
        d.call("POST", d.s("/window/rect"), {"width": size["width"], "height": size["height"]})
    d.keys("f")
    print(f"[cpu] zoom: cases of {sizes} open fitted to the view and fit again after zooming in")


def viewer_state(d):
    """What the viewer's keys change: the slice shown, the probability map, the correction tool
    and the image's width on screen (its zoom)."""
    return d.js("""return {
        slice: document.querySelector('[data-testid=slice]').parentElement.innerText.trim(),
        probability: [...document.querySelectorAll('.viewer label')]
            .find(l => l.innerText.trim() == 'scar probability').querySelector('input').checked,
        tool: document.querySelector('[data-testid=correct-tool]').value,
        width: document.querySelector('[data-testid=view]').style.width};""")


def keys_in_a_dropdown(d):
    """Keys typed in a drop-down are its own: with the correction tool's drop-down focused, the
    down arrow chooses its next option instead of stepping the slice, and p the option that
    starts with p instead of turning on the probability map."""
    open_file(d, "DICOM series")
    before = viewer_state(d)
    assert (before["slice"], before["probability"], before["tool"]) == ("Slice  1 / 3", False, "off"), before
    d.js("document.querySelector('[data-testid=correct-tool]').focus()")
    d.press(DOWN)
    time.sleep(0.5)
    after_arrow = viewer_state(d)
    d.press("p")
    time.sleep(0.5)
    after_p = viewer_state(d)
    # Back to no tool, the focus off the drop-down.
    d.js("""const s = document.querySelector('[data-testid=correct-tool]');
            s.value = 'off'; s.dispatchEvent(new Event('change', {bubbles: true})); s.blur();""")
    unchanged = lambda after: all(after[k] == before[k] for k in ("slice", "probability"))  # noqa: E731
    assert unchanged(after_arrow) and after_arrow["tool"] != "off", (before, after_arrow)
    assert unchanged(after_p) and after_p["tool"].startswith("paint"), (before, after_p)
    print(f"[cpu] keys in the tool drop-down: down chose {after_arrow['tool']!r}, p chose "
          f"{after_p['tool']!r}; the slice and the overlays unchanged")


def browser_shortcuts(d):
    """Keys held with Ctrl, Alt or Meta are the browser's (Ctrl+P prints, Ctrl+F finds, Ctrl+R
    reloads, Ctrl+plus zooms the page, Ctrl+1 picks a tab, Alt+Left goes back): the viewer neither
    acts on them nor stops them; Ctrl+Z alone is the page's, undo. The same keys alone are the
    viewer's (p: the probability map)."""
    open_file(d, "DICOM series")
    press = """const e = new KeyboardEvent('keydown', {key: arguments[0], ctrlKey: arguments[1],
                   altKey: arguments[2], metaKey: arguments[3], bubbles: true, cancelable: true});
               document.body.dispatchEvent(e);
               return e.defaultPrevented;"""
    d.js("document.activeElement.blur()")
    before = viewer_state(d)
    for key, ctrl, alt, meta in [("p", True, False, False), ("f", True, False, False),
                                 ("r", True, False, False), ("+", True, False, False),
                                 ("-", True, False, False), ("0", True, False, False),
                                 ("1", True, False, False), ("ArrowLeft", False, True, False),
                                 ("ArrowDown", False, True, False), ("m", False, False, True)]:
        prevented = d.js(press, key, ctrl, alt, meta)
        time.sleep(0.2)
        after = viewer_state(d)
        assert not prevented and after == before, (key, ctrl, alt, meta, prevented, after, before)
    # Ctrl+Z is the page's: undo (of nothing here), taken from the browser.
    assert d.js(press, "z", True, False, False)
    # Alone, p is the viewer's: taken, and the probability map turns on (and off again).
    assert d.js(press, "p", False, False, False)
    time.sleep(0.2)
    assert viewer_state(d)["probability"] is True, viewer_state(d)
    d.js(press, "p", False, False, False)
    print("[cpu] browser shortcuts (Ctrl+P, F, R, +, -, 0, 1; Alt+arrows; Meta+M) left to the browser")


# Roles a user operates; each needs a name a screen reader can say.
CONTROL_ROLES = {"button", "checkbox", "combobox", "link", "listbox", "menuitem", "radio",
                 "searchbox", "slider", "spinbutton", "switch", "tab", "textbox"}


def accessibility(d):
    """What a screen reader and the keyboard get, as Chromium's accessibility tree gives it (its
    own computation of roles and names from the page): every control has a name, every image
    (the slice view, the teaching view's maps, the bull's-eye) a description, the file pickers are
    reachable from the keyboard, and a live region sums up the files' states, as the rows show
    them."""
    nodes = [n for n in d.cdp("Accessibility.getFullAXTree")["nodes"] if not n.get("ignored")]

    def role(n):
        return n.get("role", {}).get("value")

    def name(n):
        return n.get("name", {}).get("value", "").strip()

    unnamed = [role(n) for n in nodes if role(n) in CONTROL_ROLES and not name(n)]
    assert not unnamed, f"controls without a name: {unnamed}"
    # A canvas without a role is "Canvas" to Chromium: a picture a screen reader cannot say.
    images = [(role(n), name(n)) for n in nodes if role(n) in {"image", "Canvas"}]
    assert all(r == "image" and t for r, t in images), f"images without a description: {images}"
    shown = d.js("return [...document.querySelectorAll('canvas, svg')]"
                 ".filter(e => e.getClientRects().length > 0).length")
    assert len(images) == shown, f"{shown} canvases and charts shown, {len(images)} images: {images}"
    view = d.js("return document.querySelector('[data-testid=view]').getAttribute('aria-label')")
    assert view and any(t == view for _, t in images), (view, images)
    print(f"[cpu] accessibility: {len([n for n in nodes if role(n) in CONTROL_ROLES])} controls "
          f"named, {len(images)} images described; the slice view: {view!r}")
    for picker in ["file-input", "folder-input", "weights-input", "labels-input"]:
        focused = d.js(f"const e = document.querySelector('[data-testid={picker}]'); e.focus(); "
                       "return document.activeElement === e")
        assert focused, f"{picker}: the keyboard cannot reach it"
    # The summary, computed here from the rows' states.
    rows = [row.split(" | ", 1)[1] for row in statuses(d)]
    counts = {state: sum(t.startswith(state) for t in rows) for state in ["done", "failed", "cancelled"]}
    pending = len(rows) - sum(counts.values())
    want = ", ".join([f"{counts['done']} of {len(rows)} done"]
                     + [f"{n} {state}" for state, n in counts.items() if state != "done" and n]
                     + ([f"{pending} in progress"] if pending else []))
    summary = d.js("return document.querySelector('[data-testid=files-summary]').innerText")
    assert summary == want, (summary, want)
    # ... is the page's one live region, polite (read out when the reader is idle).
    live = [n for n in nodes if any(p["name"] == "live" for p in n.get("properties", []))]
    document = d.cdp("DOM.getDocument")["root"]["nodeId"]
    found = d.cdp("DOM.querySelector", {"nodeId": document,
                                        "selector": "[data-testid=files-summary]"})["nodeId"]
    backend = d.cdp("DOM.describeNode", {"nodeId": found})["node"]["backendNodeId"]
    assert [(n.get("backendDOMNodeId"), role(n)) for n in live] == [(backend, "status")], live
    politeness = [p["value"]["value"] for p in live[0]["properties"] if p["name"] == "live"]
    assert politeness == ["polite"], politeness
    print(f"[cpu] accessibility: the files' live region says {summary!r}")

def narrow_screen(d):
    """On a tablet held upright (820 x 1180 CSS px) nothing sticks out of the page: the report's
    table scrolls inside its own box instead of the whole page sideways."""
    d.cdp("Emulation.setDeviceMetricsOverride",
          {"width": 820, "height": 1180, "deviceScaleFactor": 1, "mobile": False})
    try:
        d.wait("return window.innerWidth == 820", "the narrow screen")
        past = d.js("""return [...document.querySelectorAll('body *')]
            .filter(e => e.getClientRects().length && e.getBoundingClientRect().right > innerWidth + 0.5
                         && !e.closest('.table-scroll, .canvas-box'))
            .map(e => e.tagName + (e.dataset.testid ? '[' + e.dataset.testid + ']' : ''))""")
        width = d.js("return [document.documentElement.scrollWidth, innerWidth]")
        assert not past and width[0] <= width[1], (width, past)
        table = d.js("const t = document.querySelector('.table-scroll');"
                     "return [t.scrollWidth, t.clientWidth]")
        print(f"[cpu] at 820 px: page {width[0]} px wide; the table {table[0]} px in a box of {table[1]}")
    finally:
        d.cdp("Emulation.clearDeviceMetricsOverride")


def first_pass(d, crop, size, nifti=None):
    """A two-pass model's first pass is shown on the whole slice, at the slice's own size, with
    the crop the page names outlined in white on exactly its edge pixels (as many deep as keep
    one on screen where the map is shown smaller than 240 px a side), and for a NIfTI the grid's
    pixel sizes are the header's spacing times the source pixels per grid pixel."""
    top, bottom = (int(v) for v in crop.split("rows ")[1].split(",")[0].split("-"))
    left, right = (int(v) for v in crop.split("columns ")[1].split(" ")[0].split("-"))
    width, height, white = d.js("""const c = document.querySelector('[data-testid=first-pass-map]');
        const p = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const white = [];
        for (let i = 0; i < p.length; i += 4)
            if (p[i] == 255 && p[i + 1] == 255 && p[i + 2] == 255) white.push([Math.floor(i / 4 / c.width), (i / 4) % c.width]);
        return [c.width, c.height, white];""")
    depth = math.ceil(max(width, height) / 240)
    edge = {(r, c) for r in range(top - 1, bottom) for c in range(left - 1, right)
            if min(r - (top - 1), bottom - 1 - r, c - (left - 1), right - 1 - c) < depth}
    assert {tuple(w) for w in white} == edge, f"white pixels off the crop's edge: {len(white)} of {len(edge)}"
    # Beside it, what the first pass saw: the whole slice on the model's grid.
    side = d.js("return document.querySelector('[data-testid=first-pass-input]').width")
    assert side == size, side
    text = d.js("return document.querySelector('[data-testid=first-pass-grid]').innerText")
    print(f"[cpu] first pass: {width} x {height}, crop outlined {depth} px deep; {text}")
    if nifti:
        with gzip.open(nifti) as f:
            header = f.read(348)
        nx, ny = struct.unpack_from("<2h", header, 42)
        dx, dy = struct.unpack_from("<2f", header, 80)
        # NIfTI's i runs along the image's columns, j along its rows.
        assert (width, height) == (nx, ny), (width, height, nx, ny)
        spacing = max(dx, dy)
        whole = spacing * max(nx, ny) / size
        cropped = spacing * max(bottom - top + 1, right - left + 1) / size
        assert f"this slice's pixels are {whole:.1f} mm" in text, (text, whole)
        assert f"on it the grid's pixels are {cropped:.1f} mm, {whole / cropped:.1f} times finer" in text, \
            (text, cropped)
    return depth


def teaching_view(d, data):
    open_file(d, "case.nii.gz")
    d.js("document.querySelector('[data-testid=teaching-toggle]').click()")
    d.wait("return document.querySelectorAll('[data-testid=cag-maps] canvas').length == 5 && "
           "document.querySelectorAll('[data-testid=ase-stage]').length == 4", "the teaching view")
    captions = d.js("return [...document.querySelectorAll('[data-testid=ase-stage] figcaption')].map(e => e.innerText)")
    print(f"[cpu] ASE: {captions}")
    # A two-pass model's maps are its second pass's, and the page says on which crop.
    manifest = json.loads((DIST / "models/scarseg-atto-phantom/manifest.json").read_text())
    if manifest["preprocessing"].get("roi"):
        crop = d.wait("return document.querySelector('[data-testid=explain-roi]')?.innerText", "the heart crop line")
        print(f"[cpu] teaching view: {crop}")
        assert "runs twice" in crop and "rows " in crop and "columns " in crop, crop
        first_pass(d, crop, manifest["preprocessing"]["size"], data / "case.nii.gz")
    # The default model is atto: 40, 80, 160, 320 channels; one bar per channel for g and s.
    for caption, channels in zip(captions, [40, 80, 160, 320]):
        assert f"{channels} channels" in caption, caption
    bars = d.js("return [...document.querySelectorAll('[data-testid=ase-stage] svg')].map(s => s.querySelectorAll('rect').length)")
    assert bars == [80, 160, 320, 640], bars
    # Every map was drawn (no transparent pixel left), and all but the scar probability with more
    # than one colour (an attention map that is one flat value would not be). The scar map may be
    # flat on this slice, which has little or no scar; it is checked on the sample below.
    spread_js = """return [...document.querySelectorAll(`.teaching canvas:not([data-testid^=first-pass])`)].map(c => {
        const p = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const seen = new Set();
        let drawn = true;
        for (let i = 0; i < p.length; i += 4) {
            seen.add(p[i] * 65536 + p[i + 1] * 256 + p[i + 2]);
            if (p[i + 3] != 255) drawn = false;
        }
        return [c.width, seen.size, drawn]; })"""
    spread = d.js(spread_js)
    print(f"[cpu] teaching maps (width, colours, drawn): {spread}")
    assert len(spread) == 8, spread  # input, 2 probabilities, 5 psi
    # psi from stride 16 to stride 1 of the model's input side.
    size = json.loads((DIST / "models/scarseg-atto-phantom/manifest.json").read_text())["preprocessing"]["size"]
    assert [w for w, _, _ in spread[3:]] == [size // s for s in (16, 8, 4, 2, 1)], spread
    assert all(drawn for _, _, drawn in spread), spread
    assert all(colours > 1 for i, (_, colours, _) in enumerate(spread) if i != 1), spread
    # It follows the slice: the network input shown changes.
    checksum = ("const c = document.querySelector('.teaching canvas:not([data-testid^=first-pass])');"
                "const p = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
                "let h = 0; for (let i = 0; i < p.length; i++) h = (h * 31 + p[i]) % 1000000007; return h;")
    first = d.js(checksum)
    d.keys("\ue015")
    d.wait(f"{checksum.replace('return h;', '')} return h != {first};", "the explanation of the next slice")

    # Noise panel, on the bundled sample (a slice with scar): 3 runs, then a cancelled 60-run
    # request.
    sample_checksum = d.js(checksum)
    d.js("document.querySelectorAll('[data-testid=file-row] button')[0].click()")
    d.wait(f"{checksum.replace('return h;', '')} return h != {sample_checksum};", "the sample's explanation")
    sample_spread = d.js(spread_js)
    if manifest["preprocessing"].get("roi"):
        # Larger than 240 px a side: its crop is outlined two pixels deep.
        crop = d.js("return document.querySelector('[data-testid=explain-roi]').innerText")
        assert first_pass(d, crop, manifest["preprocessing"]["size"]) == 2
    print(f"[cpu] teaching maps of the sample: {sample_spread}")
    assert sample_spread[1][1] > 1, f"the sample's scar probability map is flat: {sample_spread}"
    def set_value(testid, value):
        d.js(f"""const e = document.querySelector('[data-testid={testid}]'); e.value = '{value}';
                 e.dispatchEvent(new Event('change', {{bubbles: true}}));""")
    set_value("noise-n", 3)
    set_value("noise-sigma", 0.05)
    d.js("document.querySelector('[data-testid=noise-run]').click()")
    text = d.wait("return document.querySelector('[data-testid=noise-result]')?.innerText", "the noise result")
    print(f"[cpu] noise: {text}")
    assert text.startswith("3 noisy runs at sigma 0.050"), text
    dice = float(text.split("noise-free result ")[1].split(" ")[0])
    clean = float(text.split("noise-free ")[2].split(" ")[0])
    assert 0.0 <= dice <= 1.0, text
    assert clean > 1.0, f"the network finds the sample's scar (16% in its labels): {text}"
    set_value("noise-n", 60)
    d.js("document.querySelector('[data-testid=noise-run]').click()")
    d.wait("return document.querySelector('[data-testid=noise-progress]')?.innerText.includes(' of 60')",
           "the noise runs to start")
    d.js("document.querySelector('[data-testid=noise-cancel]').click()")
    text = d.wait("return document.querySelector('[data-testid=noise-result]')?.innerText", "the cancelled noise result")
    runs = int(text.split(" ")[0])
    print(f"[cpu] cancelled noise run: {text}")
    assert 1 <= runs < 60, text
    # With the teaching view's maps and charts on the page too.
    accessibility(d)
    narrow_screen(d)
    d.js("document.querySelector('[data-testid=teaching-toggle]').click()")


def main():
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="scarseg-browser-"))
    data = tmp / "data"

    def scarseg(*args):
        subprocess.run([str(SCARSEG), *map(str, args)], check=True, stderr=subprocess.DEVNULL)

    # Inputs made by `scarseg phantom` (seeds outside every training/validation/test range).
    scarseg("phantom", "--out", tmp / "p1", "--count", "1", "--seed", "9501", "--format", "nifti", "--slices", "4")
    scarseg("phantom", "--out", tmp / "p2", "--count", "1", "--seed", "9502", "--format", "dicom", "--slices", "3")
    scarseg("phantom", "--out", tmp / "p3", "--count", "2", "--seed", "9503")
    scarseg("phantom", "--out", tmp / "p4", "--count", "1", "--seed", "9504", "--format", "nifti", "--slices", "40")
    data.mkdir()
    shutil.copy(next(p for p in (tmp / "p1").glob("*.nii.gz") if "_labels" not in p.name), data / "case.nii.gz")
    shutil.copytree(next(p for p in (tmp / "p2").iterdir() if p.is_dir()), data / "series")
    pngs = sorted(p for p in (tmp / "p3").glob("*.png") if "_labels" not in p.name)
    shutil.copy(pngs[0], data / "single.png")
    shutil.copy(pngs[1], data / "offline.png")
    shutil.copy(next(p for p in (tmp / "p4").glob("*.nii.gz") if "_labels" not in p.name), data / "long.nii.gz")
    # A NIfTI whose gzip stream is cut short.
    (data / "broken.nii.gz").write_bytes((data / "case.nii.gz").read_bytes()[:300])

    # The CLI's masks on the same files with the same (bundled) weights.
    cli_out = tmp / "cli"
    scarseg("predict", data / "case.nii.gz", data / "series", PSIR, JPEG_LS, JPEG_2000, JPEG_12,
            STUDY_ZIP, "--out", cli_out,
            "--weights", DIST / "models/scarseg-atto-phantom")

    # ... and with a model whose top-k no GPU here computes in time and right (WebGPU's fallback).
    faulty_model(tmp / "rho-one")
    scarseg("predict", data / "series", "--out", tmp / "cli-rho-one", "--weights", tmp / "rho-one")
    # The nested archive holds a cut one, which fails (exit 2) while the others are read.
    nested = subprocess.run([str(SCARSEG), "predict", str(NESTED_ZIP), "--out", str(tmp / "cli-nested"),
                             "--weights", str(DIST / "models/scarseg-atto-phantom")],
                            stderr=subprocess.PIPE, text=True)
    assert nested.returncode == 2 and "2 stack(s) from 1 input(s) analysed, 1 error(s)" in nested.stderr, \
        nested.stderr

    server, port = serve()
    try:
        for device in os.environ.get("BROWSER_DEVICES", "cpu webgpu").split():
            run_device(device, port, data, cli_out, tmp)
    finally:
        server.shutdown()
    shutil.rmtree(tmp, ignore_errors=True)
    print("browser tests passed")


if __name__ == "__main__":
    main()
