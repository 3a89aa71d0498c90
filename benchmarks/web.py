#!/usr/bin/env python3
"""The web app measured in headless Chromium, beside onnxruntime-web on the same model.

Usage (through benchmarks/web.sh, which builds and installs what this needs):
    benchmarks/web.py DIST SCARSEG_BIN MODEL.onnx ORT_DIST_DIR OUT.md

For ScarSeg's page, on the CPU path and on WebGPU:
- cold start to first result, with nothing cached (fresh profile) and with the weights cached
  (the same profile reloaded: the service worker serves wasm and weights);
- what each of those two visits downloads: the body bytes the test server sent, and its
  responses by status (a second visit's requests are revalidations, answered 304 when unchanged);
- per-slice inference time on an 8-slice phantom NIfTI stack (the page's own ms/slice figure);
- peak memory: the high-water resident set (VmHWM) summed over the browser's processes;
- the wasm and weights sizes (raw and gzip).
For onnxruntime-web on the ONNX export of the same weights: per-inference time with the wasm
execution provider (1 thread, as ScarSeg's CPU path) and the WebGPU one.
"""
import gzip
import http.server
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))
import browser_test as bt  # noqa: E402

DIST, SCARSEG, ONNX, ORT_DIST, OUT = map(pathlib.Path, sys.argv[1:6])
SLICES = 8


def chromium_version():
    out = subprocess.run(["chromium", "--version"], capture_output=True, text=True).stdout
    return out.strip() or "chromium"


def peak_rss_mib(profile):
    """Sum of VmHWM over the processes started with this profile directory."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            if profile not in cmd:
                continue
            for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def gz_size(path):
    return len(gzip.compress(path.read_bytes(), 9))


class Counting(bt.Quiet):
    """The browser test's server, counting the responses and the body bytes it sends."""

    lock = threading.Lock()
    sent = []

    def send_response(self, code, message=None):
        self.status = int(code)
        super().send_response(code, message)

    def copyfile(self, source, outputfile):
        data = source.read()
        outputfile.write(data)
        with self.lock:
            self.sent.append((self.status, len(data), self.path))

    def send_head(self):
        f = super().send_head()
        if f is None:
            with self.lock:
                self.sent.append((getattr(self, "status", 0), 0, self.path))
        return f


def downloads():
    """What the server sent since the last call: (MB of bodies, responses by status, the paths
    answered with an error)."""
    with Counting.lock:
        sent, Counting.sent[:] = list(Counting.sent), []
    statuses = {}
    for code, _, _ in sent:
        statuses[code] = statuses.get(code, 0) + 1
    failed = sorted({path for code, _, path in sent if code >= 400})
    return sum(n for _, n, _ in sent) / 1e6, statuses, failed


def page_run(device, port, stack):
    """Cold start without and with cache, per-slice times, peak memory, for one device."""
    d = bt.Driver(pathlib.Path(tempfile.mkdtemp()), webgpu=(device == "webgpu"))
    origin = f"http://127.0.0.1:{port}"
    out = {}
    try:
        for label in ("uncached", "cached"):
            downloads()
            start = time.time()
            d.get(f"{origin}/?device={device}")
            d.wait("return document.querySelector('[data-testid=model-sha]')", "the model")
            out[f"model_ready_{label}_s"] = time.time() - start
            d.wait("return document.querySelectorAll('[data-testid=sample]').length > 0", "samples")
            d.js("document.querySelector('[data-testid=sample]').click()")
            d.wait("return [...document.querySelectorAll('[data-testid=file-status]')]"
                   ".some(e => e.innerText.startsWith('done'))", "the first result")
            out[f"first_result_{label}_s"] = time.time() - start
            if label == "uncached":
                # Let the service worker take control, so the reload is served from its cache.
                d.wait("return navigator.serviceWorker.controller !== null || "
                       "(navigator.serviceWorker.ready.then(() => location.reload()), false)",
                       "the service worker", timeout=120)
                # The worker's install (its copies of the files) ends before it takes control.
                d.wait("return document.querySelector('[data-testid=model-sha]')", "the model")
            out[f"downloaded_{label}"] = downloads()
        d.upload("[data-testid=file-input]", [stack])
        stack_row = d.wait("return [...document.querySelectorAll('[data-testid=file-row]')]"
                           ".map(r => r.innerText).find(t => t.startsWith('stack') && t.includes('ms/slice'))",
                           "the stack's result")
        out["ms_per_slice"] = float(stack_row.split("(")[-1].split(" ms")[0])
        # The first line: the rest is the device selector's options.
        out["device_line"] = d.js("return document.querySelector('[data-testid=device]').innerText").splitlines()[0].strip()
        out["peak_mib"] = peak_rss_mib(d.profile)
    finally:
        d.quit()
    return out


class Isolated(http.server.SimpleHTTPRequestHandler):
    """Serves onnxruntime-web's files; cross-origin isolation lets its wasm use threads if asked."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".wasm": "application/wasm", ".mjs": "text/javascript", ".js": "text/javascript"}

    def end_headers(self):
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        super().end_headers()

    def log_message(self, *a):
        pass


ORT_PAGE = """<!doctype html><meta charset="utf-8"><title>ort bench</title>
<script src="ort.all.min.js"></script>
<script>
async function bench(ep, runs, size) {
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = './';
  const t0 = performance.now();
  const session = await ort.InferenceSession.create('model.onnx', {executionProviders: [ep]});
  const created = performance.now() - t0;
  const data = new Float32Array(size * size);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37) * 1.3;
  const feeds = {image: new ort.Tensor('float32', data, [1, 1, size, size])};
  await session.run(feeds);
  const times = [];
  for (let i = 0; i < runs; i++) {
    const s = performance.now();
    const out = await session.run(feeds);
    await out.scar.getData();
    times.push(performance.now() - s);
  }
  times.sort((a, b) => a - b);
  return {ep, created_ms: created, median_ms: times[Math.floor(times.length / 2)], times};
}
</script>"""


def ort_run(ep, runs, size):
    root = pathlib.Path(tempfile.mkdtemp(prefix="ort-bench-"))
    for f in ORT_DIST.iterdir():
        if f.name.startswith("ort") and (f.suffix in (".js", ".mjs", ".wasm")):
            shutil.copy(f, root / f.name)
    shutil.copy(ONNX, root / "model.onnx")
    (root / "index.html").write_text(ORT_PAGE)
    handler = lambda *a, **kw: Isolated(*a, directory=str(root), **kw)  # noqa: E731
    port = bt.free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    d = bt.Driver(pathlib.Path(tempfile.mkdtemp()), webgpu=(ep == "webgpu"))
    try:
        d.get(f"http://127.0.0.1:{port}/index.html")
        result = d.call("POST", d.s("/execute/async"), {
            "script": "const done = arguments[arguments.length - 1];"
                      f"bench('{ep}', {runs}, {size}).then(done, e => done({{error: String(e)}}));",
            "args": []})
        result["peak_mib"] = peak_rss_mib(d.profile)
    finally:
        d.quit()
        server.shutdown()
        shutil.rmtree(root, ignore_errors=True)
    if "error" in result:
        raise RuntimeError(f"onnxruntime-web {ep}: {result['error']}")
    return result


def status_text(downloaded):
    _, statuses, failed = downloaded
    text = ", ".join(f"{n} x {code}" for code, n in sorted(statuses.items()))
    return text + (f" (errors for {', '.join(failed)})" if failed else "")


def main():
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="scarseg-webbench-"))
    subprocess.run([str(SCARSEG), "phantom", "--out", tmp / "p", "--count", "1", "--seed", "9701",
                    "--format", "nifti", "--slices", str(SLICES)], check=True, stderr=subprocess.DEVNULL)
    stack = tmp / "stack.nii.gz"
    shutil.copy(next(p for p in (tmp / "p").glob("*.nii.gz") if "_labels" not in p.name), stack)
    manifest = json.loads((DIST / "models/scarseg-atto-phantom/manifest.json").read_text())
    size = manifest["preprocessing"]["size"]
    # A two-pass model (whole slice, then the heart crop) runs the network twice per slice; the
    # comparison with onnxruntime-web, one forward per run, is per pass.
    passes = 2 if manifest["preprocessing"].get("roi") else 1

    bt.Quiet = Counting
    server, port = bt.serve()
    page = {}
    try:
        for device in ("cpu", "webgpu"):
            page[device] = page_run(device, port, stack)
            print(device, page[device], flush=True)
    finally:
        server.shutdown()
    ort = {}
    for ep, runs in (("wasm", 5), ("webgpu", 3)):
        ort[ep] = ort_run(ep, runs, size)
        print("onnxruntime-web", ep, {k: v for k, v in ort[ep].items() if k != "times"}, flush=True)

    wasm = sorted(DIST.glob("*.wasm"))
    weights = DIST / "models/scarseg-atto-phantom" / manifest["weights"]["file"]
    cpu_name = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    lines = [
        "# The web app in the browser",
        "",
        f"Machine: {cpu_name}, {os.cpu_count()} logical CPUs, no GPU; {chromium_version()} headless. "
        "**WebGPU here is SwiftShader, a CPU rasteriser**, so the WebGPU rows say how the "
        "code path behaves, not how fast a real GPU is; on this machine the page picks the "
        "CPU path by itself.  ",
        "Command: `benchmarks/web.sh` (release build of the page; this file is its output).  ",
        f"Model: the default `scarseg-atto-phantom` (atto, {size} x {size} input"
        + (", two passes per slice: the whole slice, then the heart crop)." if passes == 2 else ")."),
        "",
        "## ScarSeg's page",
        "",
        "| | CPU path (burn flex in wasm, 1 thread) | WebGPU (SwiftShader) |",
        "|---|---|---|",
    ]
    rows = [
        ("model ready, nothing cached (s)", "model_ready_uncached_s", "{:.1f}"),
        ("first result, nothing cached (s)", "first_result_uncached_s", "{:.1f}"),
        ("downloaded, nothing cached (MB)", "downloaded_uncached", "{0[0]:.1f}"),
        ("model ready, weights cached (s)", "model_ready_cached_s", "{:.1f}"),
        ("first result, weights cached (s)", "first_result_cached_s", "{:.1f}"),
        ("downloaded, weights cached (MB)", "downloaded_cached", "{0[0]:.1f}"),
        (f"inference per slice, {SLICES}-slice stack (ms)", "ms_per_slice", "{:.0f}"),
        ("peak memory, all browser processes (MiB)", "peak_mib", "{:.0f}"),
    ]
    for label, key, fmt in rows:
        lines.append(f"| {label} | {fmt.format(page['cpu'][key])} | {fmt.format(page['webgpu'][key])} |")
    lines += [
        "",
        "First result: from navigation to the first bundled sample's result (one slice), "
        "including the worker's start, the device's start and the weights' sha256 check. "
        "Downloaded: the bodies the server sent during the visit, uncompressed (this server does "
        "not gzip; the table below gives gzip sizes). Responses by status, CPU run: nothing "
        f"cached {status_text(page['cpu']['downloaded_uncached'])}; weights cached "
        f"{status_text(page['cpu']['downloaded_cached'])}.",
        "",
        "| file | raw | gzip |",
        "|---|---|---|",
    ]
    total_gz = 0
    for w in wasm:
        g = gz_size(w)
        total_gz += g
        lines.append(f"| {w.name} | {w.stat().st_size / 1e6:.1f} MB | {g / 1e6:.1f} MB |")
    lines.append(f"| wasm together | {sum(w.stat().st_size for w in wasm) / 1e6:.1f} MB | "
                 f"{total_gz / 1e6:.1f} MB (target: under 10 MB) |")
    lines.append(f"| weights ({weights.name}, f16) | {weights.stat().st_size / 1e6:.1f} MB | "
                 f"{gz_size(weights) / 1e6:.1f} MB (target: under 20 MB) |")
    lines += [
        "",
        "## Against onnxruntime-web on the same model",
        "",
        f"The same weights exported to ONNX by the PyTorch reference (opset 17, {size} x {size}, "
        "checked against PyTorch within 1e-4), run by onnxruntime-web "
        f"{(ORT_DIST.parent / 'package.json').exists() and json.loads((ORT_DIST.parent / 'package.json').read_text())['version']} "
        "in the same browser. Median of the timed runs after one warm-up, one forward each; "
        f"ScarSeg's figure is its page's per-slice time on the stack above divided by the {passes} "
        "network pass(es) per slice (it includes preprocessing, both heads' readback and "
        "postprocessing, so it is the larger job).",
        "",
        "| path | ScarSeg (ms/pass) | onnxruntime-web (ms) | ScarSeg / ORT |",
        "|---|---|---|---|",
        f"| CPU: ScarSeg flex vs ORT wasm EP (1 thread each) | {page['cpu']['ms_per_slice'] / passes:.0f} | "
        f"{ort['wasm']['median_ms']:.0f} | {page['cpu']['ms_per_slice'] / passes / ort['wasm']['median_ms']:.2f} |",
        f"| WebGPU (SwiftShader): ScarSeg vs ORT WebGPU EP | {page['webgpu']['ms_per_slice'] / passes:.0f} | "
        f"{ort['webgpu']['median_ms']:.0f} | {page['webgpu']['ms_per_slice'] / passes / ort['webgpu']['median_ms']:.2f} |",
        "",
        f"Measured {time.strftime('%Y-%m-%d')}. Device lines the page showed: CPU run: "
        f"\"{page['cpu']['device_line']}\"; WebGPU run: \"{page['webgpu']['device_line']}\".",
    ]
    text = "\n".join(lines) + "\n"
    OUT.write_text(text)
    print(text)
    print(f"wrote {OUT}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
