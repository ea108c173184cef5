"""The parity check of `aegan export`: each ONNX graph run in onnxruntime against the same part in
PyTorch, on random inputs (a batch size the export never saw) and on real examples of the run's
data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .errors import RunError, UsageError
from .export import Part, parts_of

RTOL = ATOL = 1e-5  # onnxruntime against PyTorch, float32


def onnxruntime_session(path: Path):
    try:
        import onnxruntime as ort
    except ImportError:
        raise UsageError("onnxruntime is not installed; pip install 'aegan[onnx]' (or --no-check)") from None
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def real_inputs(run, part: Part, n: int = 64) -> dict[str, np.ndarray] | None:
    """A batch of real examples for the parts that take them (encoder, scorer, analysis)."""
    if "x" not in part.inputs:
        return None
    try:
        ds = run.dataset("test")
    except Exception:  # the data is not here: random inputs only
        return None
    return {"x": np.asarray(ds.x[:n], dtype=np.float32)}


def random_inputs(part: Part, n: int = 7, seed: int = 0) -> dict[str, np.ndarray]:
    """A batch of n (another size than the export's example: the batch axis is dynamic)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, ex in part.inputs.items():
        if ex.dtype == torch.int64:
            hi = int(ex.max()) + 1
            out[name] = torch.randint(0, hi, (n,), generator=g).numpy()
        else:
            lo, hi = float(ex.min()), float(ex.max())
            out[name] = (lo + torch.rand(n, *ex.shape[1:], generator=g) * (hi - lo)).numpy().astype(np.float32)
    return out


def check_parity(path: str | Path, out: str | Path) -> float:
    """Run every part in onnxruntime and in PyTorch on random and real inputs; the largest
    difference. A difference above RTOL/ATOL is an error."""
    run, parts, _ = parts_of(path)
    worst = 0.0
    for part in parts:
        sess = onnxruntime_session(Path(out) / f"{part.name}.onnx")
        part.module.eval()
        for feed in filter(None, (random_inputs(part), real_inputs(run, part))):
            got = sess.run(None, feed)
            with torch.no_grad():
                want = part.module(*(torch.from_numpy(v) for v in feed.values()))
            want = want if isinstance(want, tuple) else (want,)
            for name, g, w in zip(part.outputs, got, want):
                w = w.numpy()
                if g.shape != w.shape or not np.allclose(g, w, rtol=RTOL, atol=ATOL):
                    diff = float(np.abs(g - w).max()) if g.shape == w.shape else float("inf")
                    raise RunError(f"{part.name}.onnx: output {name} differs from PyTorch's by {diff:.3g} "
                                   f"(shape {g.shape} vs {w.shape}); please report this with the run")
                if g.size and g.dtype.kind == "f":
                    worst = max(worst, float(np.abs(g - w).max()))
    return worst
