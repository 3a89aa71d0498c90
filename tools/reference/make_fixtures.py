"""Writes the parity fixtures that `crates/scarseg-model/tests/reference_parity.rs` checks.

Two configs:
- `mini`: a reduced-width ConvNeXt (dims 16/32/64/128, depths 1/1/2/1), initialised by timm and
  this reference (PyTorch weights run in Rust). Layer-scale gammas, ASE thetas and BatchNorm
  statistics are randomised so that no block is an identity and eval-mode BN does real work.
- `atto`: the committed default model's weights (Rust-trained weights run in PyTorch), read from
  `public/models/scarseg-atto-phantom/weights.safetensors` and not copied; the fixture records
  their sha256.

Each fixture folder holds `weights.safetensors` (mini only), `io.safetensors` (the input, the
targets, the logits, ASE gates and excitations, CAG psi maps and every loss term of the three
loss kinds) and `fixture.json` (provenance). Run `tools/reference/run.sh make_fixtures.py`.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

import numpy as np
import timm
import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(__file__))
import scarsegnet as ref  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "crates", "scarseg-model", "tests", "fixtures", "reference")
DEFAULT_WEIGHTS = os.path.join(ROOT, "public", "models", "scarseg-atto-phantom", "weights.safetensors")


def randomise(model: ref.ScarSegNet, gen: torch.Generator) -> None:
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("gamma"):  # layer scale
                p.copy_(0.3 + 0.4 * torch.rand(p.shape, generator=gen))
            elif name.endswith("theta"):
                p.copy_(torch.randn(p.shape, generator=gen))
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                n = module.num_features
                module.running_mean.copy_(0.2 * torch.randn(n, generator=gen))
                module.running_var.copy_(0.5 + torch.rand(n, generator=gen))
                module.weight.copy_(0.8 + 0.4 * torch.rand(n, generator=gen))
                module.bias.copy_(0.1 * torch.randn(n, generator=gen))


def phantom_like(batch: int, size: int, gen: torch.Generator) -> torch.Tensor:
    """A smooth ring with a bright sector plus noise, z-scored per image like the pipeline."""
    ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    out = []
    for _ in range(batch):
        cy, cx = size / 2 + torch.randn(2, generator=gen) * size / 16
        r = torch.sqrt((ys - cy) ** 2 + (xs - cx) ** 2)
        ring = torch.exp(-((r - size / 4) ** 2) / (2 * (size / 24) ** 2))
        angle = torch.atan2(ys - cy, xs - cx)
        bright = ring * (angle > 0.5).float() * 2.0
        img = 0.3 + ring * 0.2 + bright + 0.1 * torch.randn(size, size, generator=gen)
        img = (img - img.mean()) / img.std(unbiased=False).clamp_min(1e-6)
        out.append(img)
    return torch.stack(out)[:, None]


def targets(x: torch.Tensor, gen: torch.Generator):
    myo = (torch.rand(x.shape, generator=gen) < 0.3).float()
    scar = myo * (torch.rand(x.shape, generator=gen) < 0.4).float()
    soft_scar = (scar * 0.8 + 0.1 * torch.rand(x.shape, generator=gen)).clamp(0, 1)
    soft_myo = (myo * 0.9 + 0.05 * torch.rand(x.shape, generator=gen)).clamp(0, 1)
    return scar, myo, soft_scar, soft_myo


def run(model: ref.ScarSegNet, x, gen) -> dict:
    model.eval()
    with torch.no_grad():
        scar_z, myo_z, diag = model(x)
    scar, myo, soft_scar, soft_myo = targets(x, gen)
    io = {
        "input": x,
        "target.scar": scar,
        "target.myocardium": myo,
        "target.soft_scar": soft_scar,
        "target.soft_myocardium": soft_myo,
        "logits.scar": scar_z,
        "logits.myocardium": myo_z,
    }
    for i, (g, s) in enumerate(zip(diag["gates"], diag["excitations"])):
        io[f"ase.{i}.gate"] = g
        io[f"ase.{i}.excitation"] = s
    for i, psi in enumerate(diag["psi"]):
        io[f"cag.{i}.psi"] = psi
    with torch.no_grad():
        for kind in ("scarsegnet", "scarnet"):
            for term, value in ref.losses(kind, scar_z, myo_z, scar, myo).items():
                io[f"loss.{kind}.{term}"] = value.reshape(1)
        for term, value in ref.losses("kl", scar_z, myo_z, soft_scar, soft_myo).items():
            io[f"loss.kl.{term}"] = value.reshape(1)
    return {k: v.detach().to(torch.float32).contiguous() for k, v in io.items()}


def versions() -> dict:
    return {"torch": torch.__version__, "timm": timm.__version__, "numpy": np.__version__}


def write(name: str, io: dict, info: dict) -> None:
    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    save_file(io, os.path.join(folder, "io.safetensors"))
    info = dict(info, versions=versions(), tensors=sorted(io))
    with open(os.path.join(folder, "fixture.json"), "w") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    print(f"wrote {folder}: {len(io)} tensors")


def main() -> None:
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)

    # mini: PyTorch-initialised weights, run in Rust.
    torch.manual_seed(7)
    config = ref.Config(dims=[16, 32, 64, 128], depths=[1, 1, 2, 1])
    # conv_mlp=False: the Linear MLP form (atto below covers timm's 1x1-conv form).
    mini = ref.ScarSegNet(config, conv_mlp=False)
    gen = torch.Generator().manual_seed(11)
    randomise(mini, gen)
    folder = os.path.join(OUT, "mini")
    os.makedirs(folder, exist_ok=True)
    ref.save_scarseg(mini, os.path.join(folder, "weights.safetensors"))
    # Round trip through ScarSeg's naming, loaded into timm's 1x1-conv MLP form this time, must
    # give the same outputs (not bit for bit: a Linear and a 1x1 conv sum in different orders).
    again = ref.load_scarseg(os.path.join(folder, "weights.safetensors"))
    x = phantom_like(2, 64, gen)
    with torch.no_grad():
        diff = (again(x)[0] - mini.eval()(x)[0]).abs().max().item()
    assert diff < 1e-5, f"safetensors round trip changed the model ({diff})"
    write("mini", run(mini, x, gen), {"config": config.to_json(), "weights": "weights.safetensors"})

    # atto: the Rust-trained default model, run in PyTorch.
    with open(DEFAULT_WEIGHTS, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    atto = ref.load_scarseg(DEFAULT_WEIGHTS)
    gen = torch.Generator().manual_seed(12)
    x = phantom_like(1, 128, gen)
    write(
        "atto",
        run(atto, x, gen),
        {
            "config": atto.config.to_json(),
            "weights": "public/models/scarseg-atto-phantom/weights.safetensors",
            "weights_sha256": digest,
        },
    )


if __name__ == "__main__":
    main()
