"""The tuning section of BENCHMARKS.md: `aegan tune` on the conv autoencoder (code 32, 2 epochs
per trial, Fashion-MNIST): the defaults against random search without pruning and TPE with
pruning, each through the command line, with the test MSE of the best configuration."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import aegan
from aegan.data import load_dataset
from pool import run_jobs

BASE = ["ae", "--data", "fashion-mnist", "--arch", "conv", "--code-dim", "32", "--epochs", "2"]
TRIALS, QUICK_TRIALS = 30, 6
TARGET_MSE, TARGET_EPOCHS = 0.9, 0.6
STUDIES = [  # (label, aegan tune flags)
    ("random search, no pruning", ["--sampler", "random", "--pruner", "none"]),
    ("TPE, median pruning (default)", ["--sampler", "tpe", "--pruner", "median"]),
    ("TPE, successive halving", ["--sampler", "tpe", "--pruner", "halving"]),
]


def _shown(args: list[str], workdir: Path) -> str:
    return "aegan " + " ".join(shlex.quote(a) for a in args if a not in ("--quiet", "--overwrite")).replace(
        str(workdir) + "/", "")


def test_mse(run_dir: Path, test) -> float:
    """Mean squared error over the test images' pixels in [0, 1]."""
    from aegan.runs.registry import load
    run = load(run_dir)
    x = run.to_model(test)
    rec = run.map_batches(run.model.reconstruct, x)
    return float(((run.normalizer.to_pixels(rec) - run.normalizer.to_pixels(x)) ** 2).mean())


def _last_val(run_dir: Path) -> float:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return rows[-1]["val_recon"]


def study_row(folder: Path) -> dict:
    """Best value, its trial folder, epochs trained over all trials, trial counts (from the study)."""
    from aegan.tuning.report import epochs_spent
    from aegan.tuning.study import load, read_spec
    from optuna.trial import TrialState
    spec = read_spec(folder)
    study = load(spec, folder)
    best = study.best_trial
    states = [t.state for t in study.trials]
    return {"value": best.value, "folder": folder / best.user_attrs["folder"], "epochs": epochs_spent(study),
            "pruned": states.count(TrialState.PRUNED), "trials": len(states), "params": best.params}


def tuning_section(quick: bool, workdir: Path) -> list[str]:
    try:
        test = load_dataset("fashion-mnist", "test")
    except aegan.AeganError as e:
        return ["## Tuning on Fashion-MNIST", "", f"Skipped: {e}", ""]
    base = BASE + (["--max-samples", "6000"] if quick else [])
    trials = QUICK_TRIALS if quick else TRIALS
    default_dir = workdir / "tune-default"
    folders = {label: workdir / f"tune-{flags[1]}-{flags[3]}" for label, flags in STUDIES}
    commands = {label: ["tune", *base, *flags, "--trials", str(trials), "--out", str(folders[label]), "--overwrite",
                        "--quiet"] for label, flags in STUDIES}  # random search, the longest, first
    commands["defaults"] = ["train", *base, "--out", str(default_dir), "--overwrite", "--quiet"]
    secs = run_jobs({k: [[sys.executable, "-m", "aegan", *cmd]] for k, cmd in commands.items()})
    rows = [{"label": "defaults (no search)", "cmd": _shown(commands["defaults"], workdir),
             "value": _last_val(default_dir), "mse": test_mse(default_dir, test), "epochs": 2,
             "seconds": secs["defaults"], "note": "lr 1e-3, batch 128, channels 32,64,128"}]
    for label, _ in STUDIES:
        r = study_row(folders[label])
        note = " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in r["params"].items())
        rows.append({"label": label, "cmd": _shown(commands[label], workdir), "value": r["value"],
                     "mse": test_mse(r["folder"], test), "epochs": r["epochs"], "seconds": secs[label],
                     "note": f"{r['pruned']} of {r['trials']} pruned; best: {note}"})
    default, rand = rows[0], rows[1]
    lines = ["## Tuning on Fashion-MNIST", "",
             f"`aegan tune` on the conv autoencoder with a 32-number code, 2 epochs per trial, {trials} trials per "
             f"study{' on 6,000 training images (quick mode)' if quick else ' on the 60,000 training images'}; the "
             "search space is the declared one left free by the fixed flags (learning rate 1e-4 to 1e-2 log, batch "
             "size 32-256, conv channels). Best validation value: the study's objective, validation reconstruction "
             "MSE (model units = pixels in [0, 1]); test MSE: that trial's run folder on the 10,000 test images. "
             "Epochs: trained over all trials of the study, pruned ones included; a trial validates 4 times per "
             "epoch (`--checks-per-epoch`, default 4), so a pruned one counts the part of an epoch it trained. "
             "Random search without pruning runs the same checks (they change no weight). The four runs went side by "
             "side, one per core with one thread each (benchmarks/pool.py): wall minutes are of one thread.", "",
             "| search | best val MSE | its test MSE | x defaults | epochs spent | x random | wall min | notes |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['label']} | {r['value']:.5f} | {r['mse']:.5f} | {r['mse'] / default['mse']:.2f} | "
                     f"{r['epochs']:.1f} | {r['epochs'] / rand['epochs']:.2f} | {r['seconds'] / 60:.1f} | "
                     f"{r['note']} |")
    lines += ["", "Commands: " + "; ".join(f"{r['label']}: `{r['cmd']}`" for r in rows) + ".", ""]
    for r in rows[2:]:
        ok_mse, ok_epochs = r["mse"] <= TARGET_MSE * default["mse"], r["epochs"] <= TARGET_EPOCHS * rand["epochs"]
        verdict = "met" if ok_mse and ok_epochs else "NOT met"
        lines.append(f"- {r['label']}: test MSE {r['mse'] / default['mse']:.2f}x the defaults' (target <= "
                     f"{TARGET_MSE}x: {'yes' if ok_mse else 'no'}), {r['epochs'] / rand['epochs']:.2f}x the epochs "
                     f"of random search (target <= {TARGET_EPOCHS}x: {'yes' if ok_epochs else 'no'}): **{verdict}**"
                     + (" (quick mode: not the target setting)" if quick else ""))
    return lines + [""]

