"""Run folders on disk: atomic writes, safetensors weights, state loaded with
weights_only=True, JSON config and metrics. No pickle is ever written or executed."""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .errors import RunError, UsageError

CONFIG, WEIGHTS, STATE, METRICS = "config.json", "model.safetensors", "state.pt", "metrics.jsonl"
EVENTS = "events.jsonl"  # NaN recoveries and other things that happened while training
CHECKPOINTS = "checkpoints"  # RUN/checkpoints/step-000001234/{model.safetensors,state.pt}
_CKPT = re.compile(r"^step-(\d{9})$")
# Names aegan writes into a run folder; --overwrite replaces these and nothing else.
OWN_FILES = (CONFIG, WEIGHTS, STATE, METRICS, EVENTS, "loss.png", "evaluation.json", "report.html",
             "latent_map.png", "traversal.png", "interpolation.png")
OWN_PATTERNS = ("recon_epoch*.png", "recon.png", "samples_epoch*.png", "samples.png", ".aegan-tmp-*",
                "anomaly.json", "anomaly_*.npy")


_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> None:
    """Call write(tmp_path) on a temporary file beside `path`, fsync it, then rename it over
    `path`: readers see the old file or the whole new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".aegan-tmp-", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; a run's files should read like any other file
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_text(path, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def save_npy(path, arr) -> None:
    def write(tmp):
        with open(tmp, "wb") as f:
            np.save(f, arr)
    atomic_write(path, write)


def prepare_run_dir(path: str | os.PathLike, overwrite: bool) -> Path:
    """Make `path` ready for a new run: refuse a folder that holds files unless `overwrite`,
    and then remove only the files aegan itself writes there."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UsageError(f"--out {path} is a file; expected a folder for the run")
    if path.is_dir() and any(path.iterdir()):
        if not overwrite:
            shown = ", ".join(sorted(p.name for p in path.iterdir())[:3])
            raise UsageError(f"--out {path} already holds files ({shown}, ...); pass --overwrite to replace "
                             "aegan's files in it, or choose another folder")
        for p in list(path.iterdir()):
            if p.is_file() and (p.name in OWN_FILES or any(p.match(pat) for pat in OWN_PATTERNS)):
                p.unlink()
        for own in (CHECKPOINTS, "tb"):  # checkpoints and TensorBoard logs: aegan's own folders
            if (path / own).is_dir():
                shutil.rmtree(path / own)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(run_dir: str | os.PathLike, tag: int, model: torch.nn.Module, state: dict,
                    keep: int = 2) -> Path:
    """Write RUN/checkpoints/step-TAG atomically: both files go into a temporary folder, are
    fsynced, and the folder is renamed into place, so a crash leaves the previous checkpoints
    whole. Then all but the newest `keep` are removed."""
    root = Path(run_dir) / CHECKPOINTS
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{tag:09d}"
    tmp = Path(tempfile.mkdtemp(prefix=".aegan-tmp-", dir=root))
    try:
        tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(tensors, str(tmp / WEIGHTS), metadata={"format": "pt"})
        with open(tmp / STATE, "wb") as f:
            torch.save(state, f)
        for name in (WEIGHTS, STATE):
            with open(tmp / name, "rb+") as f:
                os.fsync(f.fileno())
        _fsync_dir(tmp)
        if final.exists():  # the same step saved again (an interrupt right after a periodic save)
            shutil.rmtree(final)
        os.rename(tmp, final)
        _fsync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in checkpoints(run_dir)[:-max(1, keep)]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def checkpoints(run_dir: str | os.PathLike) -> list[Path]:
    """The run's complete checkpoints, oldest first (half-written temporary folders are skipped)."""
    root = Path(run_dir) / CHECKPOINTS
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and _CKPT.match(p.name)
             and (p / WEIGHTS).is_file() and (p / STATE).is_file()]
    return sorted(found, key=lambda p: p.name)


def load_checkpoint(ckpt: Path, model: torch.nn.Module) -> dict:
    """Load a checkpoint's weights into `model` (names and shapes checked) and return its state."""
    load_weights(ckpt / WEIGHTS, model)
    return load_state(ckpt / STATE)


def check_output_file(path: str | os.PathLike, overwrite: bool, suffixes: tuple[str, ...]) -> Path:
    """An output file path: right suffix, parent folder exists, not clobbering without --overwrite."""
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise UsageError(f"--out {path}: expected a file ending in {' or '.join(suffixes)}")
    if path.exists() and not overwrite:
        raise UsageError(f"--out {path} already exists; pass --overwrite to replace it")
    if not path.parent.is_dir():
        raise UsageError(f"--out {path}: folder {path.parent} does not exist; create it first")
    return path


def save_weights(path, model: torch.nn.Module) -> None:
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata={"format": "pt"}))


def load_weights(path, model: torch.nn.Module) -> None:
    """Load safetensors weights into `model`, checking every name and shape first."""
    path = Path(path)
    if not path.is_file():
        raise RunError(f"{path} is missing; the run folder is incomplete (was training interrupted?)")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise RunError(f"{path}: not a readable safetensors file ({e}); the file is damaged") from None
    own = model.state_dict()
    missing, extra = sorted(set(own) - set(tensors)), sorted(set(tensors) - set(own))
    if missing or extra:
        raise RunError(f"{path}: weights do not fit the model in config.json (missing {missing[:3]}, "
                       f"unexpected {extra[:3]}); the config and weights come from different runs")
    for k, v in own.items():
        if tuple(tensors[k].shape) != tuple(v.shape):
            raise RunError(f"{path}: weight {k} has shape {tuple(tensors[k].shape)} but config.json "
                           f"builds {tuple(v.shape)}; the config and weights come from different runs")
    model.load_state_dict(tensors)


def save_state(path, state: dict) -> None:
    """Optimiser/RNG state: tensors and plain Python values only (readable with weights_only)."""
    def write(tmp):
        with open(tmp, "wb") as f:
            torch.save(state, f)
    atomic_write(path, write)


def load_state(path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as e:
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        first = next((ln for ln in lines if "Unsupported global" in ln or "WeightsUnpickler" in ln),
                     lines[0] if lines else type(e).__name__)
        raise RunError(f"{path}: refused or unreadable state file ({first[:160]}); aegan only loads "
                       "tensors and plain values, never pickled code") from None


def read_json(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise RunError(f"{path} is missing; expected a run folder made by 'aegan train'")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RunError(f"{path}: not valid JSON ({e}); the file is damaged or truncated") from None


def append_jsonl(path, record: dict) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def write_jsonl(path, records: list[dict]) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text("".join(json.dumps(r) + "\n" for r in records),
                                                         encoding="utf-8"))


def read_jsonl(path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            break  # a line cut short by a crash ends the log
    return out
