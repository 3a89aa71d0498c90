"""ScarSeg against PyTorch and ONNX Runtime on the CPU: same weights, same input size, one run.

Run through `benchmarks/run.sh` (which builds the Rust side and sets up the Python side). For each
variant the reference (`tools/reference/scarsegnet.py`) builds the model with fixed seeds, writes
it as ScarSeg safetensors (the file ScarSeg loads) and as ONNX (opset 17, checked against
PyTorch); then every measurement runs in its own process, pinned to the same thread count, and
each process reports its own peak resident memory (VmHWM). Writes
`benchmarks/README.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tools", "reference"))

THREADS = 2


def measure_torch(onnx_or_weights: str, framework: str, mode: str, batch: int, size: int, runs: int) -> None:
    """Child process body: one measurement, one JSON line."""
    import numpy as np
    import torch

    torch.set_num_threads(THREADS)
    torch.set_num_interop_threads(1)
    import scarsegnet as ref

    if framework == "onnxruntime":
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = THREADS
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(onnx_or_weights, options, providers=["CPUExecutionProvider"])
        x = np.random.default_rng(0).standard_normal((batch, 1, size, size), dtype=np.float32)

        def step():
            session.run(None, {"image": x})

    else:
        model = ref.load_scarseg(onnx_or_weights)
        x = torch.randn(batch, 1, size, size, generator=torch.Generator().manual_seed(0))
        if mode == "infer":
            model.eval()

            def step():
                with torch.inference_mode():
                    model(x)

        else:
            model.train()
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
            gen = torch.Generator().manual_seed(1)
            myo = (torch.rand(x.shape, generator=gen) < 0.3).float()
            scar = myo * (torch.rand(x.shape, generator=gen) < 0.4).float()

            def step():
                optimizer.zero_grad(set_to_none=True)
                scar_z, myo_z, _ = model(x)
                loss = ref.losses("scarsegnet", scar_z, myo_z, scar, myo)["total"]
                loss.backward()
                optimizer.step()
                loss.item()

    step()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    times.sort()
    print(json.dumps({"framework": framework, "mode": mode, "batch": batch, "size": size,
                      "seconds_per_batch": times[len(times) // 2], "peak_kib": peak_kib()}))


def peak_kib() -> int:
    """This process's VmHWM. Read by the process itself: the rusage its parent would see also
    counts the parent's pages from before the exec (here, an interpreter with torch loaded)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def run_child(cmd: list[str], env: dict) -> dict:
    """Runs one measurement; returns its JSON, with its own peak RSS in MiB."""
    proc = subprocess.run(cmd, capture_output=True, env=env, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    line = [l for l in proc.stdout.splitlines() if l.startswith("{")][-1]
    result = json.loads(line)
    result["peak_mib"] = result["peak_kib"] / 1024.0
    return result


def prepare(variant: str, size: int, folder: str) -> tuple[str, str]:
    import torch

    import export_onnx
    import scarsegnet as ref

    torch.manual_seed(0)
    model = ref.ScarSegNet(ref.Config.variant(variant)).eval()
    weights = os.path.join(folder, f"{variant}.safetensors")
    onnx = os.path.join(folder, f"{variant}.onnx")
    ref.save_scarseg(model, weights)
    export_onnx.export(model, onnx, size)
    worst = export_onnx.check(model, onnx, size, batch=1)
    if worst > 1e-4:
        raise RuntimeError(f"{variant}: ONNX disagrees with PyTorch by {worst}")
    return weights, onnx


def versions(scarseg_bin: str) -> str:
    import onnxruntime
    import timm
    import torch

    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    return (f"ScarSeg: burn 0.22.1 `flex` (rayon + simd), {rustc}; PyTorch {torch.__version__} "
            f"(eager, CPU); timm {timm.__version__}; ONNX Runtime {onnxruntime.__version__} "
            f"(CPUExecutionProvider)")


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scarseg-bin", help="the built bench_peers example")
    parser.add_argument("--variants", default="atto,femto,pico,nano")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--train-variants", default="atto,nano")
    parser.add_argument("--train-batch", type=int, default=2)
    parser.add_argument("--train-size", type=int, default=128)
    parser.add_argument("--out", default=os.path.join(HERE, "README.md"))
    parser.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        path, framework, mode, batch, size, runs = args.child
        measure_torch(path, framework, mode, int(batch), int(size), int(runs))
        return

    env = dict(os.environ, OMP_NUM_THREADS=str(THREADS), MKL_NUM_THREADS=str(THREADS),
               RAYON_NUM_THREADS=str(THREADS))
    me = [sys.executable, os.path.abspath(__file__), "--child"]
    rows, train_rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for variant in args.variants.split(","):
            weights, onnx = prepare(variant, args.size, tmp)
            for batch in (1, 8):
                runs = args.runs if batch == 1 else max(3, args.runs // 2)
                results = {}
                for framework, cmd in [
                    ("scarseg", [args.scarseg_bin, "--weights", weights, "--mode", "infer",
                                 "--batch", str(batch), "--size", str(args.size), "--runs", str(runs)]),
                    ("pytorch", me + [weights, "pytorch", "infer", str(batch), str(args.size), str(runs)]),
                    ("onnxruntime", me + [onnx, "onnxruntime", "infer", str(batch), str(args.size), str(runs)]),
                ]:
                    results[framework] = run_child(cmd, env)
                    r = results[framework]
                    print(f"{variant} batch {batch} {framework}: {r['seconds_per_batch'] * 1e3:.0f} ms/batch, "
                          f"peak {r['peak_mib']:.0f} MiB", flush=True)
                rows.append((variant, batch, results))
            if variant in args.train_variants.split(","):
                results = {}
                b, s = args.train_batch, args.train_size
                for framework, cmd in [
                    ("scarseg", [args.scarseg_bin, "--weights", weights, "--mode", "train",
                                 "--batch", str(b), "--size", str(s), "--runs", "3"]),
                    ("pytorch", me + [weights, "pytorch", "train", str(b), str(s), "3"]),
                ]:
                    results[framework] = run_child(cmd, env)
                    r = results[framework]
                    print(f"{variant} train step batch {b} at {s}: {framework} "
                          f"{r['seconds_per_batch'] * 1e3:.0f} ms, peak {r['peak_mib']:.0f} MiB", flush=True)
                train_rows.append((variant, results))

    write_report(args, rows, train_rows)


def write_report(args, rows, train_rows) -> None:
    lines = [
        "# ScarSeg against PyTorch and ONNX Runtime (CPU)",
        "",
        f"Machine: {cpu_name()}, {os.cpu_count()} logical CPUs, every framework limited to {THREADS} "
        "threads; no GPU.  ",
        f"Versions: {versions(args.scarseg_bin)}.  ",
        "Command: `benchmarks/run.sh` (this file is its output).  ",
        f"Same weights in all three (made by the PyTorch reference with fixed seeds and loaded by "
        f"ScarSeg from safetensors; ONNX opset 17 checked against PyTorch within 1e-4), input "
        f"{args.size}x{args.size}, one channel, random normal. Median of {args.runs} timed runs "
        f"(batch 8: {max(3, args.runs // 2)}) after one warm-up; every measurement in its own "
        "process. Peak memory is that process's maximum resident set (weights, runtime and "
        "interpreter included).",
        "",
        "## Inference",
        "",
        "Latency is milliseconds per batch; throughput slices per second. The ratio is ScarSeg's "
        "time over the peer's (above 1: ScarSeg is slower).",
        "",
        "| variant | batch | ScarSeg ms | PyTorch ms | ORT ms | ScarSeg slices/s | PyTorch slices/s | "
        "ORT slices/s | ScarSeg / PyTorch | ScarSeg / ORT | peak MiB ScarSeg / PyTorch / ORT |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for variant, batch, r in rows:
        t = {k: v["seconds_per_batch"] for k, v in r.items()}
        m = {k: v["peak_mib"] for k, v in r.items()}
        lines.append(
            f"| {variant} | {batch} | {t['scarseg'] * 1e3:.0f} | {t['pytorch'] * 1e3:.0f} | "
            f"{t['onnxruntime'] * 1e3:.0f} | {batch / t['scarseg']:.2f} | {batch / t['pytorch']:.2f} | "
            f"{batch / t['onnxruntime']:.2f} | {t['scarseg'] / t['pytorch']:.2f} | "
            f"{t['scarseg'] / t['onnxruntime']:.2f} | {m['scarseg']:.0f} / {m['pytorch']:.0f} / "
            f"{m['onnxruntime']:.0f} |"
        )
    if train_rows:
        b, s = args.train_batch, args.train_size
        lines += [
            "",
            "## Training step",
            "",
            f"Forward, the paper's loss, backward and one AdamW step, batch {b} at {s}x{s}; median "
            "of 3 after one warm-up step.",
            "",
            "| variant | ScarSeg ms | PyTorch ms | ScarSeg samples/s | PyTorch samples/s | "
            "ScarSeg / PyTorch | peak MiB ScarSeg / PyTorch |",
            "|---|---|---|---|---|---|---|",
        ]
        for variant, r in train_rows:
            t = {k: v["seconds_per_batch"] for k, v in r.items()}
            m = {k: v["peak_mib"] for k, v in r.items()}
            lines.append(
                f"| {variant} | {t['scarseg'] * 1e3:.0f} | {t['pytorch'] * 1e3:.0f} | "
                f"{b / t['scarseg']:.2f} | {b / t['pytorch']:.2f} | {t['scarseg'] / t['pytorch']:.2f} | "
                f"{m['scarseg']:.0f} / {m['pytorch']:.0f} |"
            )
    lines.append("")
    lines.append(f"Measured {time.strftime('%Y-%m-%d')}.")
    text = "\n".join(lines) + "\n"
    print(text)
    with open(args.out, "w") as f:
        f.write(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
