"""`aegan evaluate` for translation runs, and the trivial baselines of the built-in tasks.

Paired runs: L1, PSNR and SSIM of the outputs against the targets (pixels in [0, 1]) and the FCD of
the outputs to the real target images, beside the same numbers of the task's trivial answer
(bicubic upsampling for superres, the masked input for inpaint). Unpaired runs, each direction:
the share of translated images the shipped classifier puts in the target class (built-in class
pairs), the FCD to the target side's real images and the cycle reconstruction's PSNR. FCD uses the
feature network shipped for Fashion-MNIST (the built-in tasks) or --features; the floor
(real vs real) is the FCD of as many training images of the target side."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from . import metrics
from .data.pairs import SCALE
from .evaluation import _features
from .losses import ssim


def bicubic(a: torch.Tensor) -> torch.Tensor:
    """superres's baseline: the 7x7 block means (every SCALE-th pixel of the input) upsampled
    bicubically to full size, clamped to [0, 1]."""
    small = a[..., ::SCALE, ::SCALE]
    return F.interpolate(small, scale_factor=SCALE, mode="bicubic", align_corners=False).clamp(0, 1)


# task -> (name, the trivial answer from the input in pixels [0, 1])
BASELINES = {"superres": ("bicubic", bicubic), "inpaint": ("masked input", lambda a: a)}


def scores(out: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """L1, PSNR (of the set's MSE) and mean SSIM of pixel images in [0, 1]."""
    out, target = out.double(), target.double()
    mse = float((out - target).pow(2).mean())
    return {"l1": float((out - target).abs().mean()), "psnr": 10 * np.log10(1 / mse) if mse > 0 else float("inf"),
            "ssim": float(torch.cat([ssim(out[i:i + 500], target[i:i + 500]) for i in range(0, len(out), 500)])
                          .mean())}


def feature_net(run, features: str | None):
    """--features, else the network shipped for Fashion-MNIST when the run's data is a built-in
    task, else None (no FCD)."""
    from .runs.classifier import ClassifierRun, shipped
    if features:
        return ClassifierRun.open(features)
    if run.pairs.get("task"):
        net = shipped("fashion-mnist")
        return net if net is not None and tuple(net.shape) == run.side_shape("b") else None
    return None


def _fcd(fnet, real: torch.Tensor, floor_real: torch.Tensor, **fakes: torch.Tensor) -> dict:
    """FCD of each set of `fakes` to `real` ("value" for the one named value), and the floor:
    `floor_real` (other real images) to `real`; the real features computed once."""
    f_real, _ = _features(fnet.net, real)
    out = {name: metrics.fcd(f_real, _features(fnet.net, t)[0]) for name, t in fakes.items()}
    return {**out, "real_vs_real": metrics.fcd(f_real, _features(fnet.net, floor_real)[0])}


def _pick(t: torch.Tensor, n: int, rng) -> torch.Tensor:
    return t if len(t) <= n else t[np.sort(rng.choice(len(t), n, replace=False))]


@torch.no_grad()
def evaluate_translation(run, n: int, features: str | None = None, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    test, train = run.dataset("test"), run.dataset("train")
    px = run.normalizer.to_pixels
    (a, b), (a_tr, b_tr) = run.sides(test), run.sides(train)
    fnet = feature_net(run, features)
    out: dict = {}
    if run.paired:
        idx = np.sort(rng.choice(len(a), min(n, len(a)), replace=False))
        a, b = a[idx], b[idx]
        fake = run.translate_model(a)
        got, target = px(fake), px(b)
        base = BASELINES.get(run.pairs.get("task"))
        trivial = scores(base[1](px(a)), target) if base else {}
        for k, v in scores(got, target).items():
            units = {"l1": {"units": "pixels in [0, 1]"}, "psnr": {"units": "dB"}}.get(k, {})
            out[k] = {"value": v, **units, **({base[0]: trivial[k]} if base else {})}
        if fnet is not None:
            extra = {base[0]: base[1](px(a))} if base else {}
            out["fcd"] = _fcd(fnet, target, px(_pick(b_tr, len(b), rng)), value=got, **extra)
        out["n"] = len(a)
        return out
    classes = run.pairs.get("classes")
    for direction, src, dst, dst_train, k in (("a2b", a, b, b_tr, 1), ("b2a", b, a, a_tr, 0)):
        src, dst = _pick(src, n, rng), _pick(dst, n, rng)
        fake = run.translate_model(src, direction)
        back = run.translate_model(fake, "b2a" if direction == "a2b" else "a2b")
        cyc = scores(px(back), px(src))
        out[f"{direction}_cycle_psnr"] = {"value": cyc["psnr"], "units": "dB"}
        if fnet is not None:
            out[f"{direction}_fcd"] = _fcd(fnet, px(dst), px(_pick(dst_train, len(dst), rng)), value=px(fake))
            if classes:
                _, labels = _features(fnet.net, px(fake))
                _, real_labels = _features(fnet.net, px(dst))
                out[f"{direction}_target_class"] = {"value": float((labels == classes[k]).mean()),
                                                    "real_vs_real": float((real_labels == classes[k]).mean()),
                                                    "units": "share classified as the target class"}
        out[f"{direction}_n"] = len(src)
    out["n"] = min(out["a2b_n"], out["b2a_n"])
    return out
