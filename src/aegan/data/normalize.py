"""The map between a dataset's own values and the model's, stored in the run and inverted
on every output.

Images: raw values -> [0, 1] ("unit") or [-1, 1] ("symmetric"). uint8 pixels and floats
already in [0, 1] come back as pixels in [0, 1]; other ranges come back in their own units.
Tables: per-column standardisation ("standard") or none.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..errors import UsageError

IMAGE_TARGETS = ("unit", "symmetric")
TABLE_TARGETS = ("standard", "none")


def _column_stats(x) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and (population) standard deviation; chunk by chunk for rows read from disk."""
    if not hasattr(x, "chunks"):
        xf = np.asarray(x, dtype=np.float64)
        return xf.mean(0), xf.std(0)
    n, mean, m2 = 0, 0.0, 0.0
    for c in x.chunks():  # Chan et al.'s pairwise update of mean and sum of squared deviations
        c = np.asarray(c, dtype=np.float64)
        k, cm = len(c), c.mean(0)
        cm2 = ((c - cm) ** 2).sum(0)
        delta = cm - mean
        mean = mean + delta * k / (n + k)
        m2 = m2 + cm2 + delta ** 2 * n * k / (n + k)
        n += k
    return np.asarray(mean), np.sqrt(np.asarray(m2) / n)


@dataclass
class Normalizer:
    target: str
    lo: float = 0.0  # raw value mapped to the bottom of the model range (images)
    hi: float = 1.0  # raw value mapped to the top
    out_lo: float = 0.0  # what outputs are written in: the data's own range
    out_hi: float = 1.0
    mean: list[float] | None = None  # per column (tables)
    std: list[float] | None = None

    @classmethod
    def fit(cls, x: np.ndarray, kind: str, target: str = "auto") -> "Normalizer":
        allowed = IMAGE_TARGETS if kind == "image" else TABLE_TARGETS
        if target == "auto":
            target = allowed[0]
        if target not in allowed:
            raise UsageError(f"--normalize {target!r} does not apply to {kind} data; "
                             f"expected one of {', '.join(allowed)}")
        if kind == "table":
            if target == "none":
                return cls(target)
            mean, std = _column_stats(x)
            std[std < 1e-12] = 1.0  # constant columns stay constant instead of dividing by 0
            return cls(target, mean=mean.tolist(), std=std.tolist())
        if x.dtype == np.uint8:
            return cls(target, 0.0, 255.0, 0.0, 1.0)
        if hasattr(x, "chunks"):  # read from disk: one pass, a chunk at a time
            lo = hi = None
            for c in x.chunks():
                lo = min(float(c.min()), lo) if lo is not None else float(c.min())
                hi = max(float(c.max()), hi) if hi is not None else float(c.max())
        else:
            lo, hi = float(np.min(x)), float(np.max(x))
        if lo >= 0.0 and hi <= 1.0:
            return cls(target, 0.0, 1.0, 0.0, 1.0)
        if hi - lo < 1e-12:
            hi = lo + 1.0
        return cls(target, lo, hi, lo, hi)

    # raw numpy (N, ...) -> model-space float32 tensor (N, ...)
    def transform(self, x: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(np.asarray(x, dtype=np.float32).copy())
        if self.target == "standard":
            return (t - torch.tensor(self.mean, dtype=torch.float32)) / torch.tensor(self.std, dtype=torch.float32)
        if self.target == "none":
            return t
        u = (t - self.lo) / (self.hi - self.lo)
        return u * 2 - 1 if self.target == "symmetric" else u

    # model-space tensor -> numpy float32 in the data's own range
    def inverse(self, t: torch.Tensor) -> np.ndarray:
        t = t.detach().float().cpu()
        if self.target == "standard":
            t = t * torch.tensor(self.std) + torch.tensor(self.mean)
        elif self.target in IMAGE_TARGETS:
            u = (t + 1) / 2 if self.target == "symmetric" else t
            t = self.out_lo + u.clamp(0, 1) * (self.out_hi - self.out_lo)
        return t.numpy().astype(np.float32)

    # model space -> pixels in [0, 1] for pictures
    def to_pixels(self, t: torch.Tensor) -> torch.Tensor:
        t = t.detach().float().cpu()
        return ((t + 1) / 2 if self.target == "symmetric" else t).clamp(0, 1)

    # data-unit numpy images (as `inverse` returns them) -> pixels in [0, 1] for pictures
    def to_unit_pixels(self, x: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(np.asarray(x, dtype=np.float32))
        return ((t - self.out_lo) / (self.out_hi - self.out_lo)).clamp(0, 1)

    @property
    def model_range(self) -> tuple[float, float] | None:
        return {"unit": (0.0, 1.0), "symmetric": (-1.0, 1.0)}.get(self.target)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Normalizer":
        return cls(**d)
