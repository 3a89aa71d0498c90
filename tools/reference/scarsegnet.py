"""ScarSegNet in PyTorch: an independent reference for the Rust model crate.

Written from `shared/design/MODEL.md` alone (not from the Rust code): timm's ConvNeXt
(`features_only`, one input channel) is the encoder; the high-resolution stem, the Adaptive
Squeeze-and-Excitation (ASE), the Contextual Attention Gate (CAG), the decoder, the two heads and
the losses are plain PyTorch.

`to_scarseg` / `from_scarseg` convert a state dict to and from the tensor names and layouts of
ScarSeg's safetensors files; `tools/reference/README.md` documents the mapping.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

import timm
import torch
import torch.nn as nn
import torch.nn.functional as F

VARIANTS = {
    "atto": ([40, 80, 160, 320], [2, 2, 6, 2]),
    "femto": ([48, 96, 192, 384], [2, 2, 6, 2]),
    "pico": ([64, 128, 256, 512], [2, 2, 6, 2]),
    "nano": ([80, 160, 320, 640], [2, 2, 8, 2]),
    "tiny": ([96, 192, 384, 768], [3, 3, 9, 3]),
    "small": ([96, 192, 384, 768], [3, 3, 27, 3]),
    "base": ([128, 256, 512, 1024], [3, 3, 27, 3]),
}


@dataclass
class Config:
    """The architecture, as ScarSeg stores it in a safetensors file's `scarseg_config` metadata."""

    dims: list = field(default_factory=lambda: [40, 80, 160, 320])
    depths: list = field(default_factory=lambda: [2, 2, 6, 2])
    in_channels: int = 1
    ase_rho: float = 1.0 / 64.0
    ase_tau: float = 0.1
    layer_scale_init: float = 1e-6
    drop_path_rate: float = 0.0

    @staticmethod
    def variant(name: str) -> "Config":
        dims, depths = VARIANTS[name]
        return Config(dims=list(dims), depths=list(depths))

    def to_json(self) -> str:
        return json.dumps(
            {
                "dims": self.dims,
                "depths": self.depths,
                "in_channels": self.in_channels,
                "ase_rho": self.ase_rho,
                "ase_tau": self.ase_tau,
                "layer_scale_init": self.layer_scale_init,
                "drop_path_rate": self.drop_path_rate,
            },
            separators=(",", ":"),
        )

    @staticmethod
    def from_json(text: str) -> "Config":
        return Config(**json.loads(text))


def conv_bn_relu(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    # MODEL.md: a conv directly followed by BatchNorm has no bias; 3x3 convs pad 1.
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1),
        nn.ReLU(inplace=False),
    )


class HighResStem(nn.Module):
    """Skips at strides 1 and 2: (conv3x3-BN-ReLU) x2 to c1, then a stride-2 one to c2."""

    def __init__(self, cin: int, c1: int, c2: int):
        super().__init__()
        self.conv1 = conv_bn_relu(cin, c1)
        self.conv2 = conv_bn_relu(c1, c1)
        self.down = conv_bn_relu(c1, c2, stride=2)

    def forward(self, x):
        s1 = self.conv2(self.conv1(x))
        return s1, self.down(s1)


def ase_k(rho: float, h: int, w: int) -> int:
    # MODEL.md: k = max(1, round half up(rho * H * W)).
    return max(1, int(math.floor(rho * h * w + 0.5)))


class ASE(nn.Module):
    """Adaptive Squeeze-and-Excitation: gated top-k pooling, then an SE bottleneck."""

    def __init__(self, channels: int, rho: float, tau: float):
        super().__init__()
        hidden = max(channels // 16, 8)
        self.rho, self.tau = rho, tau
        self.theta = nn.Parameter(torch.zeros(channels))
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, channels)

    def forward(self, x):
        b, c, h, w = x.shape
        k = ase_k(self.rho, h, w)
        v = torch.topk(x.reshape(b, c, h * w), k, dim=2).values  # [b, c, k], sorted descending
        m = v.max(dim=2).values
        a = v.mean(dim=2)
        lowest = v.min(dim=2).values
        t = torch.sigmoid(self.theta)
        g = torch.sigmoid((lowest - t) / self.tau)
        z = g * m + (1.0 - g) * a
        s = torch.sigmoid(self.fc2(F.relu(self.fc1(z))))
        return x * s[:, :, None, None], g, s


class CAG(nn.Module):
    """Contextual Attention Gate: psi from local (1x1) and global (3x3, dilation 3) context."""

    def __init__(self, gate_channels: int, skip_channels: int):
        super().__init__()
        inter = max(skip_channels // 2, 8)
        self.w_g = nn.Conv2d(gate_channels, inter, 1, bias=False)
        self.bn_g = nn.BatchNorm2d(inter)
        self.w_x = nn.Conv2d(skip_channels, inter, 1, bias=False)
        self.bn_x = nn.BatchNorm2d(inter)
        self.w_local = nn.Conv2d(inter, 1, 1, bias=False)
        self.w_global = nn.Conv2d(inter, 1, 3, padding=3, dilation=3, bias=False)
        self.bn_psi = nn.BatchNorm2d(1)

    def forward(self, g, x):
        f = F.relu(self.bn_g(self.w_g(g)) + self.bn_x(self.w_x(x)))
        psi = torch.sigmoid(self.bn_psi(self.w_local(f) + self.w_global(f)))
        return psi * x, psi


class DecoderLevel(nn.Module):
    def __init__(self, up_channels: int, skip_channels: int):
        super().__init__()
        self.cag = CAG(up_channels, skip_channels)
        self.conv1 = conv_bn_relu(up_channels + skip_channels, skip_channels)
        self.conv2 = conv_bn_relu(skip_channels, skip_channels)

    def forward(self, below, skip):
        up = F.interpolate(below, scale_factor=2.0, mode="bilinear", align_corners=False)
        attended, psi = self.cag(up, skip)
        d = self.conv2(self.conv1(torch.cat([up, attended], dim=1)))
        return d, psi


class ScarSegNet(nn.Module):
    def __init__(self, config: Config, conv_mlp: bool | None = None):
        super().__init__()
        self.config = config
        d = config.dims
        if conv_mlp is None:
            # timm's own choice for its small variants (atto..nano use 1x1 convs in the MLP).
            conv_mlp = d[0] <= 80
        self.encoder = timm.create_model(
            "convnext_atto",
            pretrained=False,
            features_only=True,
            in_chans=config.in_channels,
            dims=tuple(d),
            depths=tuple(config.depths),
            conv_mlp=conv_mlp,
            ls_init_value=config.layer_scale_init,
            drop_path_rate=config.drop_path_rate,
        )
        c1, c2 = d[0] // 2, d[0]
        self.hr_stem = HighResStem(config.in_channels, c1, c2)
        self.ase = nn.ModuleList(ASE(c, config.ase_rho, config.ase_tau) for c in d)
        # Levels from stride 16 to stride 1; widths mirror the skips.
        skips = [d[2], d[1], d[0], c2, c1]
        ups = [d[3]] + skips[:-1]
        self.decoder = nn.ModuleList(DecoderLevel(u, s) for u, s in zip(ups, skips))
        self.scar_head = nn.Conv2d(c1, 1, 1)
        self.myo_head = nn.Conv2d(c1, 1, 1)

    def forward(self, x):
        """Returns (scar logits, myocardium logits, diagnostics)."""
        s1, s2 = self.hr_stem(x)
        # features_only runs the stem and each stage; ASE replaces every stage output, and the
        # next stage must see the ASE output, so the stages are run one by one here.
        stem = self.encoder.stem_1(self.encoder.stem_0(x))
        feats, gates, excitations = [], [], []
        h = stem
        for i in range(4):
            h = getattr(self.encoder, f"stages_{i}")(h)
            h, g, s = self.ase[i](h)
            feats.append(h)
            gates.append(g)
            excitations.append(s)
        skips = [feats[2], feats[1], feats[0], s2, s1]
        d = feats[3]
        psis = []
        for level, skip in zip(self.decoder, skips):
            d, psi = level(d, skip)
            psis.append(psi)
        diag = {"gates": gates, "excitations": excitations, "psi": psis}
        return self.scar_head(d), self.myo_head(d), diag


# ---------------------------------------------------------------------------------------------
# Losses (MODEL.md): every term a mean over the batch; Dice and Tversky per image, then averaged.

DICE_EPS = 1.0


def _per_image(x):
    return x.reshape(x.shape[0], -1).sum(dim=1)


def soft_dice(p, t, eps=DICE_EPS):
    return (1.0 - (2.0 * _per_image(p * t) + eps) / (_per_image(p) + _per_image(t) + eps)).mean()


def mcl(z, myo):
    return (torch.sigmoid(z) * (1.0 - myo)).mean()


def focal_tversky(p, t, alpha=0.3, beta=0.7, gamma=0.75, eps=DICE_EPS):
    tp = _per_image(p * t)
    fp = _per_image(p * (1.0 - t))
    fn = _per_image((1.0 - p) * t)
    ti = (tp + eps) / (tp + alpha * fp + beta * fn + eps)
    return (1.0 - ti).clamp_min(1e-7).pow(gamma).mean()


def weighted_bce(z, t, w_scar=5.0, w_bg=1.0):
    return (w_scar * t * F.softplus(-z) + w_bg * (1.0 - t) * F.softplus(z)).mean()


def kl_bernoulli(z, q):
    # KL(q || sigmoid(z)) per pixel, 0 ln 0 = 0.
    qc = 1.0 - q
    neg_entropy = q * torch.log(q.clamp_min(1e-12)) + qc * torch.log(qc.clamp_min(1e-12))
    cross = q * F.softplus(-z) + qc * F.softplus(z)
    return (neg_entropy + cross).mean()


def losses(kind: str, scar_z, myo_z, scar_t, myo_t) -> dict:
    """Named terms of the loss of `kind` (`scarsegnet`, `scarnet`, `kl`) with unit weights."""
    bce = F.binary_cross_entropy_with_logits
    sp, mp = torch.sigmoid(scar_z), torch.sigmoid(myo_z)
    if kind == "scarsegnet":
        terms = {
            "scar_bce": bce(scar_z, scar_t),
            "scar_dice": soft_dice(sp, scar_t),
            "mcl": mcl(scar_z, myo_t),
            "myo_bce": bce(myo_z, myo_t),
        }
    elif kind == "scarnet":
        terms = {
            "scar_weighted_ce": weighted_bce(scar_z, scar_t),
            "scar_dice": soft_dice(sp, scar_t),
            "scar_focal_tversky": focal_tversky(sp, scar_t),
            "myo_bce": bce(myo_z, myo_t),
        }
    elif kind == "kl":
        terms = {
            "scar_kl": kl_bernoulli(scar_z, scar_t),
            "scar_dice": soft_dice(sp, scar_t),
            "mcl": mcl(scar_z, myo_t),
            "myo_kl": kl_bernoulli(myo_z, myo_t),
        }
    else:
        raise ValueError(f"unknown loss kind {kind!r}")
    terms["myo_dice"] = soft_dice(mp, myo_t)
    terms["total"] = sum(terms.values())
    return terms


# ---------------------------------------------------------------------------------------------
# Name mapping between this module's state dict and ScarSeg's safetensors.


def _norm(p: str) -> str:
    """burn names a norm's affine parameters gamma and beta; running statistics keep their names."""
    return {"weight": "gamma", "bias": "beta"}.get(p, p)


_RULES = [
    # encoder (timm features_only naming)
    (r"encoder\.stem_0\.(weight|bias)", lambda m: f"encoder.stem_conv.{m[1]}"),
    (r"encoder\.stem_1\.(weight|bias)", lambda m: f"encoder.stem_norm.{_norm(m[1])}"),
    (
        r"encoder\.stages_(\d+)\.downsample\.0\.(weight|bias)",
        lambda m: f"encoder.stages.{m[1]}.downsample.norm.{_norm(m[2])}",
    ),
    (
        r"encoder\.stages_(\d+)\.downsample\.1\.(weight|bias)",
        lambda m: f"encoder.stages.{m[1]}.downsample.conv.{m[2]}",
    ),
    (
        r"encoder\.stages_(\d+)\.blocks\.(\d+)\.conv_dw\.(weight|bias)",
        lambda m: f"encoder.stages.{m[1]}.blocks.{m[2]}.conv_dw.{m[3]}",
    ),
    (
        r"encoder\.stages_(\d+)\.blocks\.(\d+)\.norm\.(weight|bias)",
        lambda m: f"encoder.stages.{m[1]}.blocks.{m[2]}.norm.{_norm(m[3])}",
    ),
    (
        r"encoder\.stages_(\d+)\.blocks\.(\d+)\.mlp\.(fc1|fc2)\.(weight|bias)",
        lambda m: f"encoder.stages.{m[1]}.blocks.{m[2]}.mlp.{m[3]}.{m[4]}",
    ),
    (
        r"encoder\.stages_(\d+)\.blocks\.(\d+)\.gamma",
        lambda m: f"encoder.stages.{m[1]}.blocks.{m[2]}.gamma",
    ),
    # conv-BN-ReLU blocks: Sequential index 0 conv, 1 BN
    (
        r"(hr_stem\.(?:conv1|conv2|down)|decoder\.\d+\.conv[12])\.0\.weight",
        lambda m: f"{m[1]}.conv.weight",
    ),
    (
        r"(hr_stem\.(?:conv1|conv2|down)|decoder\.\d+\.conv[12])\.1\.(weight|bias|running_mean|running_var)",
        lambda m: f"{m[1]}.bn.{_norm(m[2])}",
    ),
    (r"ase\.(\d+)\.(theta|fc1\.weight|fc1\.bias|fc2\.weight|fc2\.bias)", lambda m: m[0]),
    (r"decoder\.(\d+)\.cag\.(w_g|w_x|w_local|w_global)\.weight", lambda m: m[0]),
    (
        r"decoder\.(\d+)\.cag\.(bn_g|bn_x|bn_psi)\.(weight|bias|running_mean|running_var)",
        lambda m: f"decoder.{m[1]}.cag.{m[2]}.{_norm(m[3])}",
    ),
    (r"(scar_head|myo_head)\.(weight|bias)", lambda m: m[0]),
]


def scarseg_name(torch_name: str) -> str | None:
    """ScarSeg's name for a state-dict key; None for keys ScarSeg does not store."""
    if torch_name.endswith("num_batches_tracked"):
        return None
    for pattern, build in _RULES:
        m = re.fullmatch(pattern, torch_name)
        if m:
            return build(m)
    raise KeyError(f"no ScarSeg name for `{torch_name}`")


def _is_linear_weight(scarseg: str, tensor: torch.Tensor) -> bool:
    # ScarSeg (burn) stores Linear weights as [in, out]; PyTorch as [out, in].
    return scarseg.endswith(".weight") and (
        re.fullmatch(r"ase\.\d+\.fc[12]\.weight", scarseg) is not None
        or (".mlp.fc" in scarseg and tensor.dim() == 2)
    )


def to_scarseg(state: dict) -> dict:
    """PyTorch state dict -> ScarSeg-named f32 tensors (Linear weights transposed)."""
    out = {}
    for name, tensor in state.items():
        target = scarseg_name(name)
        if target is None:
            continue
        t = tensor.detach().to(torch.float32)
        if ".mlp.fc" in target and t.dim() == 4:
            t = t.reshape(t.shape[0], t.shape[1])  # timm's conv_mlp 1x1 form
        if _is_linear_weight(target, t):
            t = t.t()
        out[target] = t.contiguous()
    return out


def from_scarseg(model: ScarSegNet, tensors: dict) -> None:
    """Loads ScarSeg-named tensors (any float dtype) into `model`, strictly: every model tensor
    must be supplied and every supplied tensor must be used."""
    state = model.state_dict()
    used = set()
    new_state = {}
    for name, current in state.items():
        target = scarseg_name(name)
        if target is None:
            new_state[name] = current
            continue
        if target not in tensors:
            raise KeyError(f"weights lack `{target}` (for `{name}`)")
        t = tensors[target].to(torch.float32)
        if _is_linear_weight(target, t):
            t = t.t()
        t = t.reshape(current.shape)
        new_state[name] = t
        used.add(target)
    unused = set(tensors) - used
    if unused:
        raise KeyError(f"weights hold tensors the model has no place for: {sorted(unused)[:5]}")
    model.load_state_dict(new_state, strict=True)


def save_scarseg(model: ScarSegNet, path: str) -> None:
    from safetensors.torch import save_file

    save_file(to_scarseg(model.state_dict()), path, metadata={"scarseg_config": model.config.to_json()})


def load_scarseg(path: str) -> ScarSegNet:
    """Builds the model a ScarSeg safetensors file was made for, with its weights."""
    from safetensors import safe_open

    with safe_open(path, framework="pt") as f:
        config = Config.from_json(f.metadata()["scarseg_config"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    model = ScarSegNet(config)
    from_scarseg(model, tensors)
    return model.eval()
