#!/usr/bin/env python3
"""How long a study archive dropped on the page holds its main thread, in headless Chromium.

Usage (through benchmarks/archive_open.sh, which builds what this needs):
    benchmarks/archive_open.py DIST SCARSEG_BIN OUT.md

The archive: phantom DICOM series made by `scarseg phantom` (synthetic 16-bit MR slices), each
series a folder, deflated by Python's zipfile as a web PACS's download would be; sizes from a
small study to one near the page's 512 MiB limit. Measured from the file input's change to the
moment the page lists every series as a case (the archive read, its files grouped, the cases
queued for the worker): the wall time, and the main thread's long tasks in that window (the
browser's Long Tasks API: each task over 50 ms, during which the page answers no click or key),
the longest and their sum. The CPU device is chosen, so that no GPU start shares the window.
Then, once, the same for the whole analysis of the 20-series archive: from the drop until every
case is done, while the worker sends a result after every slice for the page to show. The
largest study and the large volume are also measured as gzip-compressed tar archives (Python's
tarfile, `w:gz`) of the same files: one stream to inflate rather than an entry at a time.
"""
import tarfile
import gzip
import io
import pathlib
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zipfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))
import browser_test as bt  # noqa: E402

DIST, SCARSEG, OUT = map(pathlib.Path, sys.argv[1:4])
# (series, slices per series, copies of each series): from one LGE series to a study with cine.
SIZES = [(1, 12, 1), (4, 20, 5), (4, 20, 25)]
# One large file in an archive (MiB, about): a long NIfTI volume, one entry to inflate.
VOLUMES = [64, 256]
RUNS = 3


def study_zip(tmp, series, slices, copies):
    """A ZIP of `series` phantom DICOM series of `slices` slices, each `copies` times (as
    further folders), and its uncompressed size."""
    out = tmp / f"p{series}x{slices}"
    if not out.exists():
        subprocess.run([str(SCARSEG), "phantom", "--out", out, "--count", str(series), "--seed", "9801",
                        "--format", "dicom", "--slices", str(slices)], check=True, stderr=subprocess.DEVNULL)
    folders = sorted(p for p in out.iterdir() if p.is_dir())
    path = tmp / f"study-{series}x{slices}x{copies}.zip"
    raw = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for c in range(copies):
            for k, folder in enumerate(folders):
                for f in sorted(folder.iterdir()):
                    z.write(f, f"SE{c * len(folders) + k + 1}/{f.name}")
                    raw += f.stat().st_size
    return path, raw, copies * len(folders)


def volume_zip(tmp, mib):
    """A ZIP of one NIfTI volume of about `mib` MiB: a phantom case's 12 slices repeated along
    z (a long stack of 16-bit slices), deflated; and the volume's size."""
    out = tmp / "volume"
    if not out.exists():
        subprocess.run([str(SCARSEG), "phantom", "--out", out, "--count", "1", "--seed", "9801",
                        "--format", "nifti", "--slices", "12"], check=True, stderr=subprocess.DEVNULL)
    image = next(p for p in sorted(out.rglob("*.nii.gz")) if "label" not in p.name)
    nii = bytearray(gzip.decompress(image.read_bytes()))
    dims = list(struct.unpack_from("<8h", nii, 40))
    offset = int(struct.unpack_from("<f", nii, 108)[0])
    header, voxels = nii[:offset], nii[offset:]
    repeat = max(1, round(mib * 2**20 / len(voxels)))
    dims[0], dims[3], dims[4] = 3, dims[3] * repeat, 1
    struct.pack_into("<8h", header, 40, *dims)
    volume = bytes(header) + bytes(voxels) * repeat
    path = tmp / f"volume-{mib}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("volume.nii", volume)
    return path, len(volume)


def as_tar_gz(zip_path):
    """The files of the ZIP archive `zip_path` in a gzip-compressed tar archive beside it."""
    path = zip_path.with_suffix(".tar.gz")
    with zipfile.ZipFile(zip_path) as z, tarfile.open(path, "w:gz") as t:
        for info in z.infolist():
            data = z.read(info)
            member = tarfile.TarInfo(info.filename)
            member.size = len(data)
            t.addfile(member, io.BytesIO(data))
    return path


def page_watching_long_tasks(port):
    """A fresh browser on the page (CPU device) that records the main thread's long tasks in
    `window.longTasks` as (start, duration) and the file input's change in `window.opened`."""
    d = bt.Driver(pathlib.Path(tempfile.mkdtemp()), webgpu=False)
    d.get(f"http://127.0.0.1:{port}/?device=cpu")
    d.wait("return document.querySelector('[data-testid=file-input]')", "the page")
    d.js("""window.longTasks = [];
        new PerformanceObserver(l => window.longTasks.push(...l.getEntries()
            .map(e => [e.startTime, e.duration]))).observe({type: 'longtask'});
        window.opened = null;
        document.querySelector('[data-testid=file-input]').addEventListener('change',
            () => { window.opened = performance.now(); });""")
    return d


def long_tasks(d, since, until):
    """The long tasks that overlap [since, until], as counted in the tables."""
    tasks = [t for t in d.js("return window.longTasks") if t[0] + t[1] >= since and t[0] <= until]
    return {"longest_ms": max((t[1] for t in tasks), default=0.0),
            "blocked_ms": sum(t[1] for t in tasks), "tasks": len(tasks)}


def one_open(port, path, cases):
    d = page_watching_long_tasks(port)
    try:
        d.upload("[data-testid=file-input]", [path])
        listed = d.wait(f"""const n = document.querySelectorAll('[data-testid=file-row]').length;
            return n >= {cases} ? performance.now() : null""", "the archive's cases", timeout=600)
        opened = d.js("return window.opened")
        # The poll above lands up to 0.5 s after the listing, so "listed after" may read late by
        # that much; long tasks are counted only up to the poll.
        return {"listed_ms": listed - opened, **long_tasks(d, opened, listed)}
    finally:
        d.quit()


def one_analysis(port, path, cases):
    """Long tasks from the drop until every case of `path` is analysed."""
    d = page_watching_long_tasks(port)
    try:
        d.upload("[data-testid=file-input]", [path])
        done = d.wait(f"""const n = [...document.querySelectorAll('[data-testid=file-status]')]
            .filter(s => s.innerText.startsWith('done')).length;
            return n >= {cases} ? performance.now() : null""", "every case done", timeout=1800)
        opened = d.js("return window.opened")
        return {"s": (done - opened) / 1000, **long_tasks(d, opened, done)}
    finally:
        d.quit()


def main():
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="scarseg-archivebench-"))
    server, port = bt.serve()
    rows = []
    try:
        for series, slices, copies in SIZES:
            path, raw, cases = study_zip(tmp, series, slices, copies)
            runs = [one_open(port, path, cases) for _ in range(RUNS)]
            row = ("ZIP", cases, raw / 2**20, path.stat().st_size / 2**20, runs)
            print(path.name, row, flush=True)
            rows.append(row)
            if (series, slices, copies) == SIZES[-1]:
                tgz = as_tar_gz(path)
                runs = [one_open(port, tgz, cases) for _ in range(RUNS)]
                row = ("tar.gz", cases, raw / 2**20, tgz.stat().st_size / 2**20, runs)
                print(tgz.name, row, flush=True)
                rows.append(row)
        volumes = []
        for mib in VOLUMES:
            path, raw = volume_zip(tmp, mib)
            runs = [one_open(port, path, 1) for _ in range(RUNS)]
            row = ("ZIP", raw / 2**20, path.stat().st_size / 2**20, runs)
            print(path.name, row, flush=True)
            volumes.append(row)
            if mib == VOLUMES[-1]:
                tgz = as_tar_gz(path)
                runs = [one_open(port, tgz, 1) for _ in range(RUNS)]
                row = ("tar.gz", raw / 2**20, tgz.stat().st_size / 2**20, runs)
                print(tgz.name, row, flush=True)
                volumes.append(row)
        series, slices, copies = SIZES[1]
        path, _, analysed = study_zip(tmp, series, slices, copies)
        analysis = one_analysis(port, path, analysed)
        print("analysis", analysis, flush=True)
    finally:
        server.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    chromium = subprocess.run(["chromium", "--version"], capture_output=True, text=True).stdout.strip()
    lines = [
        "# A study archive opened in the page: how long the main thread is held",
        "",
        f"Machine: {cpu}, {len(open('/proc/cpuinfo').read().split('processor')) - 1} logical CPUs; "
        f"{chromium}, headless, CPU device.",
        f"Command: `benchmarks/archive_open.sh` (this file is its output), {time.strftime('%Y-%m-%d', time.gmtime())}.",
        "",
        "From the file input's change to every series listed as a case; long tasks are the main",
        f"thread's tasks over 50 ms in that window (the page answers nothing during one). {RUNS} runs",
        "each, a fresh browser profile each; median of the runs, and the largest longest task.",
        "",
        "| series | DICOM files' size | archive | size | listed after | longest task (median, max) | long tasks' sum |",
        "|---:|---:|---|---:|---:|---:|---:|",
    ]
    def timings(runs):
        med = lambda k: sorted(r[k] for r in runs)[len(runs) // 2]  # noqa: E731
        return (f"{med('listed_ms'):.0f} ms | {med('longest_ms'):.0f} ms, "
                f"{max(r['longest_ms'] for r in runs):.0f} ms | {med('blocked_ms'):.0f} ms |")

    for kind, cases, raw_mib, zip_mib, runs in rows:
        lines.append(f"| {cases} | {raw_mib:.1f} MiB | {kind} | {zip_mib:.1f} MiB | {timings(runs)}")
    lines += [
        "",
        "One large file in an archive: a NIfTI volume (a phantom case's slices repeated along z),",
        "one entry to inflate; until it is listed as a case.",
        "",
        "| volume | archive | size | listed after | longest task (median, max) | long tasks' sum |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for kind, raw_mib, zip_mib, runs in volumes:
        lines.append(f"| {raw_mib:.1f} MiB | {kind} | {zip_mib:.1f} MiB | {timings(runs)}")
    lines += [
        "",
        f"The {analysed} series ({analysed * slices} slices) analysed, from the drop until every case is",
        f"done: {analysis['s']:.1f} s, {analysis['tasks']} long tasks on the page's thread, the longest",
        f"{analysis['longest_ms']:.0f} ms, {analysis['blocked_ms']:.0f} ms in all.",
    ]
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
