"""PyTorch's time for the 3x3 convolutions that `profile_forward` times (same shapes, 2 threads), so that
benchmarks/profile.md compares burn's convolution with PyTorch's directly. Run by
benchmarks/profile.sh through tools/reference/run.sh."""
import time

import torch

torch.set_num_threads(2)
print("| conv 3x3 (batch 1), PyTorch " + torch.__version__ + " | ms | GFLOP/s |")
print("|---|---|---|")
for c_in, c_out, side in [(60, 20, 256), (20, 20, 256), (80, 40, 128), (40, 40, 128)]:
    x = torch.randn(1, c_in, side, side)
    w = torch.randn(c_out, c_in, 3, 3) * 0.1
    with torch.no_grad():
        torch.nn.functional.conv2d(x, w, padding=1)  # warm-up
        samples = []
        for _ in range(7):
            t = time.perf_counter()
            torch.nn.functional.conv2d(x, w, padding=1)
            samples.append((time.perf_counter() - t) * 1e3)
    ms = sorted(samples)[len(samples) // 2]
    gflop = 2 * 9 * c_in * c_out * side * side / 1e9
    print(f"| {c_in} -> {c_out} at {side} x {side} | {ms:.1f} | {gflop / (ms / 1e3):.1f} |")
