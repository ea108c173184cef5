"""`aegan export RUN --format onnx --out DIR`: the parts of a run a user calls, each its own ONNX
graph with named inputs and outputs and a dynamic batch axis, and DIR/model.json describing them.

Parts work in the data's own units, as the run's Python methods do: an encoder takes raw examples
(0-255 for 8-bit images, the table's own values) and applies the run's normaliser inside the graph;
a decoder or generator returns examples in the range `aegan decode` / `aegan sample` write them in.
Per kind of run: an autoencoder's encoder and decoder (a VAE's encoder gives the posterior mean
and log-variance; a VQ-VAE's the codebook indices and the quantised code), a GAN's (EMA)
generator, with a label input when conditional, an anomaly detector's scorer (its score for a batch
of raw examples, kNN reference sets and calibration inside), a codec's analysis and synthesis
transforms."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from . import checkpoint
from .errors import RunError, UsageError
from .version import __version__

OPSET = 18
MODEL_JSON = "model.json"


class _Units(nn.Module):
    """The constants of a run's normaliser: per-column mean and std (tables), or the bottom and
    span of the raw range (`output`: the range outputs are written in)."""

    def __init__(self, normalizer, output: bool):
        super().__init__()
        n = normalizer
        self.target = n.target
        if n.target == "standard":
            self.register_buffer("shift", torch.tensor(n.mean, dtype=torch.float32))
            self.register_buffer("scale", torch.tensor(n.std, dtype=torch.float32))
        else:
            lo, hi = (n.out_lo, n.out_hi) if output else (n.lo, n.hi)
            self.lo, self.span = float(lo), float(hi - lo)


class Normalize(_Units):
    """Raw examples -> model units, as Normalizer.transform (in float32)."""

    def __init__(self, normalizer):
        super().__init__(normalizer, output=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.target == "standard":
            return (x - self.shift) / self.scale
        if self.target == "none":
            return x
        u = (x - self.lo) / self.span
        return u * 2 - 1 if self.target == "symmetric" else u


class Denormalize(_Units):
    """Model units -> the data's own output range, as Normalizer.inverse."""

    def __init__(self, normalizer):
        super().__init__(normalizer, output=True)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        if self.target == "standard":
            return t * self.scale + self.shift
        if self.target == "none":
            return t
        u = (t + 1) / 2 if self.target == "symmetric" else t
        return self.lo + u.clamp(0, 1) * self.span


class Encoder(nn.Module):
    def __init__(self, run):
        super().__init__()
        self.norm, self.model = Normalize(run.normalizer), run.model
        self.family = run.config.model.family

    def forward(self, x):
        t = self.norm(x)
        if self.family == "vae":
            return self.model.posterior(t)
        if self.family == "vqvae":  # models/vqvae.py's nearest and lookup, without len(): the batch stays free
            m = self.model
            flat = m.encoder(t).reshape(-1, m.cfg.vq_dim)
            dist = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ m.codebook.t() + m.codebook.pow(2).sum(1)
            idx = dist.argmin(1).reshape(-1, m.positions)
            return idx, m.codebook[idx].flatten(1)
        return self.model.encode(t)


class Decoder(nn.Module):
    def __init__(self, run):
        super().__init__()
        self.model, self.denorm = run.model, Denormalize(run.normalizer)

    def forward(self, code):
        return self.denorm(self.model.decode(code))


class Generator(nn.Module):
    def __init__(self, run):
        super().__init__()
        gan = run.gan
        self.g = gan.ema if gan.ema is not None else gan.generator
        self.conditional = bool(gan.num_classes)
        self.denorm = Denormalize(run.normalizer)

    def forward(self, z, label=None):
        return self.denorm(self.g(z, label if self.conditional else None))


class KNNDistance(nn.Module):
    """Mean distance to the k nearest of a reference set (standardised embeddings, as anomaly.py):
    candidates by the expanded square distance, the distances of the k chosen computed directly."""

    def __init__(self, state: dict, k: int):
        super().__init__()
        self.register_buffer("mean", torch.tensor(state["mean"], dtype=torch.float32))
        self.register_buffer("std", torch.tensor(state["std"], dtype=torch.float32))
        ref = torch.from_numpy(np.ascontiguousarray(state["reference"], dtype=np.float32))
        self.register_buffer("ref", ref)
        self.register_buffer("ref_sq", ref.pow(2).sum(1))
        self.k = min(k, len(ref))

    def forward(self, e):
        q = (e - self.mean) / self.std
        approx = q.pow(2).sum(1, keepdim=True) - 2 * q @ self.ref.t() + self.ref_sq
        idx = torch.topk(approx, self.k, dim=1, largest=False).indices  # (N, k)
        near = self.ref[idx]  # (N, k, F)
        return (q.unsqueeze(1) - near).pow(2).sum(2).sqrt().mean(1)


class Scorer(nn.Module):
    """A fitted detector's score of raw examples: each component, calibrated and summed."""

    def __init__(self, scoring):
        super().__init__()
        from .anomaly import score_parts
        from .config import KNN_K
        run = scoring.run
        self.norm, self.model = Normalize(run.normalizer), run.model
        self.parts = score_parts(scoring.score)
        unsupported = [p for p in self.parts if p in ("elbo", "iwae")]
        if unsupported:
            raise UsageError(f"the {'+'.join(unsupported)} score samples the posterior at random; ONNX export "
                             "takes detectors scored by recon, code-knn or feature-knn (aegan anomaly fit --score)")
        self.knn = nn.ModuleDict({p.replace("-", "_"): KNNDistance(scoring.state[p], KNN_K)
                                  for p in self.parts if p in scoring.state})
        self.calibration = {p: (float(c["mean"]), float(c["std"])) for p, c in scoring.calibration.items()}

    def forward(self, x):
        t = self.norm(x)
        total = None
        for p in self.parts:
            if p == "recon":
                s = self.model.score(t)  # the reconstruction error per example, as anomaly.py scores it
            else:
                e = self.model.encode(t) if p == "code-knn" else self.model.features(t)
                s = self.knn[p.replace("-", "_")](e)
            if self.calibration:
                mean, std = self.calibration[p]
                s = (s - mean) / std
            total = s if total is None else total + s
        return total


class Analysis(nn.Module):
    def __init__(self, run):
        super().__init__()
        self.norm, self.g_a = Normalize(run.normalizer), run.codec.g_a

    def forward(self, x):
        return self.g_a(self.norm(x))


class Synthesis(nn.Module):
    def __init__(self, run):
        super().__init__()
        self.g_s, self.denorm = run.codec.g_s, Denormalize(run.normalizer)

    def forward(self, y_hat):
        return self.denorm(self.g_s(y_hat).clamp(0, 1))


@dataclasses.dataclass
class Part:
    """One ONNX graph: its file name, module, example inputs, and names/descriptions."""

    name: str
    module: nn.Module
    inputs: dict[str, torch.Tensor]  # name -> an example batch
    outputs: dict[str, str]  # name -> what it holds
    what: str
    reference: Callable | None = None  # numpy inputs -> the run's own outputs (for parity checks)


def _raw_example(run, n: int = 2) -> torch.Tensor:
    """A batch in the data's own units (inside the normaliser's input range)."""
    nz = run.normalizer
    if nz.target == "standard":
        return torch.tensor(nz.mean) + torch.randn(n, *run.shape) * torch.tensor(nz.std)
    return nz.lo + torch.rand(n, *run.shape) * (nz.hi - nz.lo)


def autoencoder_parts(run) -> list[Part]:
    fam = run.config.model.family
    if fam == "vae":
        outs = {"mean": "posterior mean of the code (what aegan encode writes)", "log_variance": "posterior log-variance"}
    elif fam == "vqvae":
        outs = {"indices": "codebook index per position (int64)", "code": "the quantised code (what the decoder takes)"}
    else:
        outs = {"code": "the code (what aegan encode writes)"}
    code = torch.randn(2, run.code_dim)
    return [Part("encoder", Encoder(run), {"x": _raw_example(run)}, outs, "raw examples -> code"),
            Part("decoder", Decoder(run), {"code": code}, {"x": _out_text(run)}, "code -> examples")]


def gan_parts(run) -> list[Part]:
    inputs = {"z": torch.randn(2, run.gan.cfg.z_dim)}
    if run.gan.num_classes:
        inputs["label"] = torch.tensor([0, run.gan.num_classes - 1])
    return [Part("generator", Generator(run), inputs, {"x": _out_text(run)},
                 "noise z ~ N(0, I)" + (" and a class index" if run.gan.num_classes else "") + " -> samples")]


def codec_parts(run) -> list[Part]:
    m = run.codec.latent_shape
    held = "rounded around the entropy model's means" if run.codec.with_means else "rounded"
    return [Part("analysis", Analysis(run), {"x": _raw_example(run)}, {"y": "latents before quantisation"},
                 f"images -> latents (a file holds them {held})"),
            Part("synthesis", Synthesis(run), {"y_hat": torch.randn(2, *m)}, {"x": _out_text(run)},
                 "quantised latents -> images")]


def scorer_part(scoring) -> Part:
    return Part("scorer", Scorer(scoring), {"x": _raw_example(scoring.run)},
                {"score": f"anomaly score per example ({scoring.score}); above {scoring.threshold:.6g}: anomalous"},
                "raw examples -> anomaly score")


def _out_text(run) -> str:
    nz = run.normalizer
    if nz.target in ("standard", "none"):
        return "examples in the data's own units"
    return f"examples with values in [{nz.out_lo:g}, {nz.out_hi:g}]"


PARTS = {"autoencoder": autoencoder_parts, "gan": gan_parts, "codec": codec_parts}


def parts_of(path: str | Path) -> tuple[object, list[Part], dict]:
    """(run, parts, extra model.json entries) of a run folder or an anomaly detector folder."""
    from .anomaly import ANOMALY_FILE, Scoring
    from .runs.registry import load
    path = Path(path)
    if (path / ANOMALY_FILE).is_file():
        scoring = Scoring.load(path)
        run = scoring.run
        parts = autoencoder_parts(run) + [scorer_part(scoring)]
        return run, parts, {"detector": {"score": scoring.score, "threshold": scoring.threshold,
                                         "contamination": scoring.contamination}}
    run = load(path)
    if run.label not in PARTS:
        raise UsageError(f"{path} holds a {run.label} run; aegan export takes autoencoder, GAN, codec and anomaly "
                         "detector folders")
    return run, PARTS[run.label](run), {}


def export_onnx(path: str | Path, out: str | Path, overwrite: bool = False) -> dict:
    """Write DIR/<part>.onnx for each part and DIR/model.json; returns model.json's content."""
    run, parts, extra = parts_of(path)
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise UsageError(f"--out {out} already exists; pass --overwrite to replace its files, or choose another folder")
    out.mkdir(parents=True, exist_ok=True)
    described = []
    for part in parts:
        part.module.eval()
        _export(part, out / f"{part.name}.onnx")
        described.append({"file": f"{part.name}.onnx", "what": part.what,
                          "inputs": [_io(k, v) for k, v in part.inputs.items()],
                          "outputs": [{"name": k, "what": v} for k, v in part.outputs.items()]})
    info = run.config.data_info
    meta = {"format": "aegan-onnx", "aegan_version": __version__, "opset": OPSET, "task": run.label,
            "model": run.title, "data": {"name": info.get("name"), "kind": info.get("kind"),
                                         "shape": list(info.get("shape", [])), "classes": info.get("classes"),
                                         "dtype": info.get("dtype")},
            "normalizer": run.normalizer.to_dict(), "input_units": _in_text(run), "parts": described, **extra}
    checkpoint.write_text(out / MODEL_JSON, json.dumps(meta, indent=2))
    return meta


def _in_text(run) -> str:
    nz = run.normalizer
    if nz.target == "standard":
        return "the table's own values (standardised inside the graph with the training mean and std)"
    if nz.target == "none":
        return "model units (no normalisation)"
    return f"values in [{nz.lo:g}, {nz.hi:g}] as in the training data (mapped inside the graph)"


def _io(name: str, t: torch.Tensor) -> dict:
    return {"name": name, "shape": ["batch", *t.shape[1:]], "dtype": str(t.dtype).replace("torch.", "")}


def _quiet_exporter() -> None:
    """The exporter's notes (torchvision ops it skips, its progress) are not the user's business."""
    import logging
    import warnings
    for name in ("torch.onnx", "torch.onnx._internal.exporter._registration", "torch.export", "onnxscript"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"torch\.onnx.*|onnxscript.*|torch\.export.*")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*LeafSpec.*", category=FutureWarning)


def _export(part: Part, path: Path) -> None:
    _quiet_exporter()
    import importlib.util
    if importlib.util.find_spec("onnxscript") is None or importlib.util.find_spec("onnx") is None:
        raise UsageError("ONNX export needs onnx and onnxscript: pip install 'aegan[onnx]'")
    names = list(part.inputs)
    batch = torch.export.Dim("batch", min=1)
    with torch.no_grad():
        program = torch.onnx.export(part.module, tuple(part.inputs.values()), input_names=names,
                                    output_names=list(part.outputs), opset_version=OPSET, dynamo=True,
                                    dynamic_shapes={k: {0: batch} for k in names}, external_data=False,
                                    verbose=False)
    if program is None:
        raise RunError(f"could not export the {part.name}")
    tmp = path.with_suffix(".onnx.tmp")
    program.save(str(tmp))
    tmp.replace(path)
