"""Exports the reference ScarSegNet to ONNX and checks it against PyTorch with onnxruntime.

    tools/reference/run.sh export_onnx.py WEIGHTS.safetensors OUT.onnx [--size 256]

WEIGHTS is any ScarSeg safetensors file (for example the default model's); the ONNX graph has
one input `image` [batch, 1, size, size] (batch dynamic) and two outputs `scar` and `myocardium`
(logits). Opset 17: the first with LayerNormalization, which keeps ConvNeXt's norms one node each;
TopK (ASE) has been in ONNX since opset 1 and takes k as an input from opset 10.
The spatial size is fixed at export because ASE's k = round(rho * H * W) is a constant of the
graph. The check prints the largest absolute difference between onnxruntime and PyTorch and
fails unless every logit is within 1e-4 + 1e-5 x |PyTorch's value| (NumPy's `allclose`, the
parity test's rule: the trained model's logits reach tens, where f32 rounding alone is ~1e-4).
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import onnxruntime as ort
import torch

sys.path.insert(0, os.path.dirname(__file__))
import scarsegnet as ref  # noqa: E402

OPSET = 17


class LogitsOnly(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        scar, myo, _ = self.model(x)
        return scar, myo


def export(model: ref.ScarSegNet, path: str, size: int) -> None:
    model.eval()
    example = torch.zeros(1, model.config.in_channels, size, size)
    torch.onnx.export(
        LogitsOnly(model),
        (example,),
        path,
        input_names=["image"],
        output_names=["scar", "myocardium"],
        dynamic_axes={"image": {0: "batch"}, "scar": {0: "batch"}, "myocardium": {0: "batch"}},
        opset_version=OPSET,
        dynamo=False,
    )


ATOL = 1e-4
RTOL = 1e-5


def check(model: ref.ScarSegNet, path: str, size: int, batch: int = 2) -> tuple[float, bool]:
    """Largest absolute difference, and whether every logit is within ATOL + RTOL x |PyTorch|."""
    x = torch.randn(batch, model.config.in_channels, size, size, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        scar, myo, _ = model.eval()(x)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = session.run(None, {"image": x.numpy()})
    pairs = [(got[0], scar.numpy()), (got[1], myo.numpy())]
    worst = max(float(np.abs(ours - theirs).max()) for ours, theirs in pairs)
    close = all(np.allclose(ours, theirs, rtol=RTOL, atol=ATOL) for ours, theirs in pairs)
    return worst, close


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights")
    parser.add_argument("out")
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    model = ref.load_scarseg(args.weights)
    export(model, args.out, args.size)
    worst, close = check(model, args.out, args.size)
    print(f"{args.out}: onnxruntime vs PyTorch max abs difference {worst:.2e} (opset {OPSET})")
    if not close:
        sys.exit(f"{args.out}: ONNX export disagrees with PyTorch (beyond {ATOL:g} + {RTOL:g} x |PyTorch|)")


if __name__ == "__main__":
    main()
