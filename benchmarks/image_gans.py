"""The image-GAN section of BENCHMARKS.md: `aegan train gan --data fashion-mnist` with its defaults
against the recipe people copy (pytorch/examples' DCGAN, written from its description in peers.py),
on all 60,000 training images for the same epochs, at the same wall time, and along the way (FCD
against generator steps); the demo's budget; an ablation table of the choices behind the defaults;
conditional models; stacked Fashion-MNIST's 1000 modes; and a second image set (digits)."""

from __future__ import annotations

import functools
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import torch

from aegan.config import DataConfig

DATA = "fashion-mnist"
EPOCHS = 5  # the full runs: 5 passes over the 60,000 training images
DEMO = ["--max-samples", "20000", "--epochs", "3"]  # the demo's budget: about 940 generator steps
QUICK_BUDGET = ["--max-samples", "3000", "--epochs", "1"]  # --quick: a smoke check of the code
CURVE_EVERY = 469  # generator steps between curve points: half an epoch of 60,000 images at batch 64
EVAL_N = 10000
STACKED_FLAGS: list[str] = []  # the one flag stacked Fashion-MNIST needs, if any
COLS = ("fcd", "kid", "precision", "recall", "density", "coverage", "class_kl")
# (label, flags on top of the defaults): one change per row, at the demo's budget. The defaults: kernel-4
# DCGAN body 64-128-256, N(0, 0.02) weights, ns loss, lr G 4e-4 / D 2e-4, Adam (0.5, 0.999), batch 64,
# z 64, EMA 0.999 with its own batch-norm statistics
ABLATION: list[tuple[str, list[str]]] = [
    ("defaults", []),
    ("aegan 0.1's layout (kernel 3, no batch norm after the projection)", ["--kernel", "3"]),
    ("PyTorch's default init", ["--init", "torch"]),
    ("lr G = lr D = 2e-4 (the DCGAN paper)", ["--lr-g", "2e-4"]),
    ("TTUR: lr G 1e-4, D 4e-4 (Heusel et al. 2017)", ["--lr-g", "1e-4", "--lr-d", "4e-4"]),
    ("R1 penalty gamma 1 (Mescheder et al. 2018)", ["--r1", "1"]),
    ("two stages (64,128: 7 -> 14 -> 28)", ["--conv-channels", "64,128"]),
    ("no EMA", ["--ema", "0"]),
    ("batch 128", ["--batch-size", "128"]),
    ("z 128", ["--z-dim", "128"]),
    ("loss hinge + spectral norm, its paper's optimiser", ["--loss", "hinge"]),
    ("loss lsgan", ["--loss", "lsgan"]),
    ("loss minimax", ["--loss", "minimax"]),
    ("loss wgan-gp, its paper's optimiser, 5 critic steps", ["--loss", "wgan-gp"]),
]


def _aegan(args: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "aegan", *map(str, args), "--quiet", "--overwrite"], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def _shown(args: list[str], workdir: Path) -> str:
    return "aegan " + " ".join(shlex.quote(str(a)) for a in args).replace(str(workdir) + "/", "")


def _evaluate(run_dir: Path, n: int = EVAL_N, features: Path | None = None) -> dict:
    extra = ["--features", str(features)] if features else []
    out = subprocess.run([sys.executable, "-m", "aegan", "evaluate", str(run_dir), "--n", str(n), "--json", *extra],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def _score(unit: torch.Tensor) -> dict:
    """The sample metrics of `aegan evaluate` on unit-pixel images (N, 1, 28, 28)."""
    from aegan.evaluation import evaluate_images, feature_network
    return evaluate_images(unit, DataConfig(data=DATA), feature_network(DATA, None), EVAL_N, 0)


@functools.lru_cache(maxsize=1)
def _test_features():
    """The shipped classifier and its features of all 10,000 test images, computed once for the curves."""
    from aegan.data import load_dataset
    from aegan.evaluation import _features, dataset_unit_images, feature_network
    fnet = feature_network(DATA, None)
    return fnet, _features(fnet.net, dataset_unit_images(load_dataset(DATA, "test")))[0]


def _fcd(unit: torch.Tensor) -> float:
    """FCD of EVAL_N unit-pixel samples against the test set: `aegan evaluate`'s number (which, with N equal
    to the test set's size, compares with every test image), without its real-vs-real floor each time."""
    from aegan.evaluation import _features
    from aegan.metrics import fcd
    fnet, real = _test_features()
    return fcd(real, _features(fnet.net, unit[:EVAL_N])[0])


def _row(ev: dict) -> list[float]:
    return [ev[k]["value"] * (1000 if k == "kid" else 1) for k in COLS]


def _cells(vals: list[float]) -> str:
    return " | ".join(f"{v:.3f}" for v in vals)


def _checkpoint_curve(run_dir: Path) -> list[tuple[int, float]]:
    """(generator steps, FCD) at each checkpoint of a run written with --checkpoint-steps: the EMA
    generator with batch-norm statistics measured as at an epoch's end."""
    import aegan
    from aegan.checkpoint import checkpoints
    run = aegan.load(run_dir)
    curve = []
    for ck in checkpoints(run_dir):
        step = int(ck.name.split("-")[1])
        at = type(run).load(ck, run.config)
        at.gan.recalibrate_ema()
        curve.append((step, _fcd(at.normalizer.to_pixels(at.sample_model(EVAL_N, seed=0)))))
    return curve


def _curve_png(curves: dict[str, list[tuple[int, float]]], demo_steps: int, path: Path) -> None:
    from aegan.viz import pyplot
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, pts in curves.items():
        ax.plot([s for s, _ in pts], [f for _, f in pts], marker="o", label=label)
    ax.axvline(demo_steps, color="grey", linestyle=":", label="the demo's budget")
    ax.set(xlabel="generator steps", ylabel="FCD (log scale)", yscale="log", title="Fashion-MNIST, batch 64")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _grid(unit: torch.Tensor, path: Path) -> None:
    from aegan.viz import grid_image, save_png
    save_png(path, grid_image(unit[:64]))


def image_gans_section(quick: bool, workdir: Path, images: Path) -> list[str]:
    from aegan.data import load_dataset
    from peers import examples_dcgan
    images.mkdir(parents=True, exist_ok=True)
    rel = lambda p: os.path.relpath(p, images.parent.parent)  # noqa: E731  (from BENCHMARKS.md's folder)
    epochs = 1 if quick else EPOCHS
    full_n = ["--max-samples", "6000"] if quick else []
    every = 30 if quick else CURVE_EVERY
    budget = QUICK_BUDGET if quick else DEMO
    lines = ["## Image GANs on Fashion-MNIST", ""]

    # 1. the defaults against pytorch/examples' DCGAN: same images, same epochs, curves on the way
    full = workdir / "gan-defaults"
    args = ["train", "gan", "--data", DATA, "--epochs", epochs, *full_n]
    secs = _aegan([*args, "--checkpoint-steps", every, "--keep-checkpoints", 100, "--out", full])
    ours = _evaluate(full)
    curve_ours = _checkpoint_curve(full)
    subprocess.run([sys.executable, "-m", "aegan", "sample", str(full), "-n", "64", "--seed", "0", "--out",
                    str(images / "gan-defaults-fashion-mnist.png"), "--overwrite"], check=True,
                   stdout=subprocess.DEVNULL)
    train = load_dataset(DATA, "train")
    x = train.x[:6000] if quick else train.x
    curve_peer, peer_time, spent = [], [], [0.0]

    def on_step(steps, sampler):
        t0 = time.perf_counter()
        fcd = _fcd(torch.from_numpy(sampler(EVAL_N))[:, None])
        curve_peer.append((steps, fcd))
        peer_time.append(t0 - start - spent[0])  # training time so far, the scoring left out
        spent[0] += time.perf_counter() - t0
        print(f"peer at {steps} steps ({peer_time[-1]:.0f} s): FCD {fcd:.1f}", flush=True)

    start = time.perf_counter()
    peer = torch.from_numpy(examples_dcgan(x.reshape(len(x), 28, 28), epochs, EVAL_N, seed=0, on_step=on_step,
                                           every=every))[:, None]
    peer_secs = time.perf_counter() - start - spent[0]
    peer_ev = _score(peer)
    _grid(peer, images / "pytorch-examples-dcgan-fashion-mnist.png")
    # the peer at aegan's wall time: its last curve point reached within the seconds aegan took
    within = [i for i, t in enumerate(peer_time) if t <= secs]
    lines += [
        f"`aegan train gan --data {DATA} --epochs {epochs}` with nothing else, against the recipe people copy: "
        "pytorch/examples' `dcgan/main.py` sized for 28x28 (G: z 100 -> 256x7x7 -> 128x14x14 -> 1x28x28 with "
        "kernel-4 transposed convs, batch norm and ReLU; D mirrored with LeakyReLU 0.2; N(0, 0.02) weights; Adam "
        "2e-4 (0.5, 0.999); batch 64; BCE; G trained on the fakes of D's step), written from its description in "
        "`benchmarks/peers.py` and trained on the same "
        f"{len(x):,} images for the same epochs; its samples drawn as the recipe draws its pictures (G in training "
        "mode). Metrics: `aegan evaluate RUN --n 10000` in the feature space of aegan's shipped Fashion-MNIST "
        "classifier (FCD: the Frechet distance there; KID x1000; class KL: the samples' class histogram against "
        "the test set's). Wall time: training only, on this CPU.", "",
        "| model | samples | " + " | ".join(COLS) + " | generator steps | wall time | command |",
        "|---|---|" + "---:|" * len(COLS) + "---:|---:|---|",
        f"| aegan defaults | ![aegan]({rel(images / 'gan-defaults-fashion-mnist.png')}) | {_cells(_row(ours))} | "
        f"{curve_ours[-1][0] if curve_ours else ''} | {secs:.0f} s | `{_shown(args, workdir)} --out RUN` |",
        f"| pytorch/examples DCGAN | ![peer]({rel(images / 'pytorch-examples-dcgan-fashion-mnist.png')}) | "
        f"{_cells(_row(peer_ev))} | {curve_peer[-1][0] if curve_peer else ''} | {peer_secs:.0f} s | "
        f"`benchmarks/peers.py examples_dcgan` ({epochs} epochs) |"]
    floor = [ours[k]["real_vs_real"] * (1000 if k == "kid" else 1) for k in COLS]
    lines.append(f"| real vs real (train vs test images) | | {_cells(floor)} | | | |")
    f_ours, f_peer = ours["fcd"]["value"], peer_ev["fcd"]["value"]
    at_time = curve_peer[within[-1]] if within else None
    verdict = (f_ours <= f_peer / 2 and ours["recall"]["value"] >= peer_ev["recall"]["value"]
               and ours["coverage"]["value"] >= peer_ev["coverage"]["value"]
               and ours["class_kl"]["value"] <= peer_ev["class_kl"]["value"])
    lines += ["", f"Same epochs: FCD {f_ours:.1f} vs {f_peer:.1f} (ratio {f_ours / f_peer:.2f}); target (issue 17): "
                  "at most half the peer's FCD, recall and coverage at least the peer's, class KL at most the "
                  f"peer's: **{'met' if verdict else 'NOT met'}**."]
    if at_time:
        lines.append(f"Same wall time: aegan's {secs:.0f} s of training against the peer's curve point within it "
                     f"({at_time[0]} steps, {peer_time[within[-1]]:.0f} s): FCD {f_ours:.1f} vs {at_time[1]:.1f} "
                     f"(ratio {f_ours / at_time[1]:.2f}).")
    else:
        lines.append(f"Same wall time: aegan took {secs:.0f} s, less than the peer's first curve point "
                     f"({peer_time[0] if peer_time else float('nan'):.0f} s).")

    # 2. the demo's budget, and FCD against generator steps
    demo = workdir / "gan-demo-budget"
    demo_args = ["train", "gan", "--data", DATA, *budget]
    demo_secs = _aegan([*demo_args, "--out", demo])
    demo_ev = _evaluate(demo)
    demo_steps = json.loads((demo / "metrics.jsonl").read_text().splitlines()[-1])["step"]
    _curve_png({"aegan defaults": curve_ours, "pytorch/examples DCGAN": curve_peer}, demo_steps,
               images / "gan-fcd-steps.png")
    ratio = demo_ev["fcd"]["value"] / f_ours
    lines += ["", f"![FCD against generator steps]({rel(images / 'gan-fcd-steps.png')})", "",
              "| generator steps | " + " | ".join(str(s) for s, _ in curve_ours) + " |",
              "|---|" + "---:|" * len(curve_ours),
              "| aegan defaults, FCD | " + " | ".join(f"{f:.1f}" for _, f in curve_ours) + " |",
              "| pytorch/examples DCGAN, FCD | " + " | ".join(f"{f:.1f}" for _, f in curve_peer) + " |", "",
              f"The demo's budget (`{_shown(demo_args, workdir)} --out RUN`, {demo_steps} generator steps, "
              f"{demo_secs:.0f} s): FCD {demo_ev['fcd']['value']:.1f}, {ratio:.2f}x the full run's; target: at "
              f"most 2x: **{'met' if ratio <= 2 else 'NOT met'}**."]
    lines += ablation_lines(quick, workdir, images, rel)
    lines += conditional_lines(quick, workdir, f_ours)
    lines += stacked_lines(quick, workdir, STACKED_FLAGS)
    lines += digits_lines(quick, workdir)
    return lines + [""]


def ablation_lines(quick: bool, workdir: Path, images: Path, rel) -> list[str]:
    """One row per change to the defaults, each at the demo's budget, with its sample grid."""
    rows = ABLATION[:2] if quick else ABLATION
    budget = QUICK_BUDGET if quick else DEMO
    lines = ["", f"Ablation: each row changes one thing of the defaults (`{' '.join(budget)}`, the demo's budget; "
                 "seed 0), so the table shows what each choice behind the defaults is worth and what the other "
                 "losses give at these settings. Grids: 64 samples of the EMA generator, seed 0.", "",
             "| change | samples | " + " | ".join(COLS) + " | wall time | command |",
             "|---|---|" + "---:|" * len(COLS) + "---:|---|"]
    for i, (label, flags) in enumerate(rows):
        out = workdir / f"ablation-{i}"
        args = ["train", "gan", "--data", DATA, *budget, *flags]
        secs = _aegan([*args, "--out", out])
        png = images / f"gan-ablation-{i}.png"
        subprocess.run([sys.executable, "-m", "aegan", "sample", str(out), "-n", "64", "--seed", "0", "--out",
                        str(png), "--overwrite"], check=True, stdout=subprocess.DEVNULL)
        ev = _evaluate(out)
        lines.append(f"| {label} | ![{i}]({rel(png)}) | {_cells(_row(ev))} | {secs:.0f} s | "
                     f"`{_shown(args, workdir)} --out RUN` |")
        print(f"ablation {label}: {secs:.0f} s, FCD {ev['fcd']['value']:.1f}", flush=True)
    return lines


def conditional_lines(quick: bool, workdir: Path, unconditional_fcd: float) -> list[str]:
    """`--conditional`: the share of samples asked for class k that the shipped classifier puts in k."""
    from aegan.data import FASHION_CLASSES
    out = workdir / "gan-conditional"
    args = ["train", "gan", "--data", DATA, "--conditional", "--epochs", 1 if quick else EPOCHS,
            *(["--max-samples", "6000"] if quick else [])]
    secs = _aegan([*args, "--out", out])
    ev = _evaluate(out)
    acc = ev["class_accuracy"]
    ok = min(acc["per_class"]) >= 0.95
    return ["", f"Conditional (`{_shown(args, workdir)} --out RUN`, {secs:.0f} s): samples asked for each class, "
                f"{EVAL_N // 10:,} per class, classified by the shipped classifier. FCD {ev['fcd']['value']:.1f} "
                f"(unconditional defaults: {unconditional_fcd:.1f}).", "",
            "| class | " + " | ".join(FASHION_CLASSES) + " | mean |", "|---|" + "---:|" * 11,
            "| classified as asked | " + " | ".join(f"{100 * a:.1f}%" for a in acc["per_class"]) +
            f" | {100 * acc['value']:.1f}% |", "",
            f"Target: at least 95% in every class: **{'met' if ok else 'NOT met'}** (worst {100 * acc['worst']:.1f}%)."]


PACGAN_STACKED = [("DCGAN (PacGAN paper, stacked MNIST)", "99", "3.40"), ("PacDCGAN2", "1000", "0.079"),
                  ("PacDCGAN4", "1000", "0.034")]


def stacked_lines(quick: bool, workdir: Path, flags: list[str]) -> list[str]:
    """Modes of stacked Fashion-MNIST captured, out of 1000, over 26,000 samples."""
    out = workdir / "gan-stacked"
    args = ["train", "gan", "--data", "stacked-fashion-mnist", "--epochs", 1 if quick else EPOCHS, *flags,
            *(["--max-samples", "6000"] if quick else [])]
    secs = _aegan([*args, "--out", out])
    ev = _evaluate(out)
    m, kl = ev["modes"], ev["mode_kl"]
    ok = m["value"] == 1000 and kl["value"] <= kl["real_vs_real"] + 0.05
    lines = ["", "Stacked Fashion-MNIST (`--data stacked-fashion-mnist`: three training images drawn at random, "
                 "seed 0, as the channels of one 28x28x3 image; 1000 modes, one per triple of classes). Each "
                 f"channel of {ev['n']:,} samples classified by the shipped classifier; KL of the mode histogram "
                 "from uniform. The floor: as many real stacks. The PacGAN paper's rows are on stacked MNIST "
                 "(digits classify more surely than garments), for scale.", "",
             "| model | modes (of 1000) | KL | wall time | command |", "|---|---:|---:|---:|---|",
             f"| aegan | {m['value']} | {kl['value']:.3f} | {secs:.0f} s | `{_shown(args, workdir)} --out RUN` |",
             f"| real stacks | {m['real_vs_real']} | {kl['real_vs_real']:.3f} | | |"]
    lines += [f"| {a} | {b} | {c} | | |" for a, b, c in PACGAN_STACKED]
    return lines + ["", "Target: 1000 modes and a KL within 0.05 of the real stacks': "
                        f"**{'met' if ok else 'NOT met'}**."]


def digits_lines(quick: bool, workdir: Path) -> list[str]:
    """The image defaults on a second image set (8x8 digits): the new defaults against aegan 0.1's
    image GAN, in the feature space of a classifier trained on digits."""
    feats = workdir / "digits-features"
    gan_epochs = 5 if quick else 200
    _aegan(["train", "classifier", "--data", "digits", "--epochs", 3 if quick else 30, "--out", feats])
    lines = ["", "A second image set, so that the defaults are not Fashion-MNIST's alone: scikit-learn's 8x8 "
                 f"digits (1,438 training images), the defaults against aegan 0.1's image GAN, {gan_epochs} epochs "
                 "each; "
                 "metrics in the feature space of a classifier trained on digits (`aegan train classifier --data "
                 "digits --epochs 30`), against the 359 test images.", "",
             "| model | fcd | precision | recall | coverage | command |", "|---|---:|---:|---:|---:|---|"]
    old = ["--kernel", "3", "--init", "torch", "--lr-g", "2e-4"]
    for label, flags in (("defaults", []), ("aegan 0.1's defaults", old)):
        out = workdir / f"digits-{label.replace(' ', '')}"
        args = ["train", "gan", "--data", "digits", "--epochs", gan_epochs, *flags]
        _aegan([*args, "--out", out])
        ev = _evaluate(out, n=359, features=feats)
        lines.append(f"| {label} | " + " | ".join(f"{ev[k]['value']:.3f}" for k in ("fcd", "precision", "recall",
                                                                               "coverage"))
                     + f" | `{_shown(args, workdir)} --out RUN` |")
    return lines
