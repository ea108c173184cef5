"""The compression sections of BENCHMARKS.md: aegan's learned codecs, VQ-VAE and a plain
autoencoder with quantised codes against WebP, JPEG, PNG, lzma and PCA on the Fashion-MNIST test
images (benchmarks/rate_distortion.py has the peers and the BD-rate); and, in a section of its own,
the codec's ablations (each section fits a 180-minute session on a 2-core CPU)."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import aegan
from aegan.data import load_dataset
from pool import run_jobs
from rate_distortion import (JPEG_QUALITIES, WEBP_QUALITIES, bd_rate, bytes_at, lzma_point, pareto, pca_points,
                             pillow_points, psnr, quantised_lzma)

# the lambdas `aegan train codec --help` documents, low rate to high: the default prior's curve over the target's
# 22-32 dB (0.03, about 36.6 dB, is left out: a fifth codec costs this section a third more time)
CODEC_LAMBDAS = (0.0003, 0.001, 0.003, 0.01)
QUICK_LAMBDAS = (0.001, 0.01)
# the ablations (their own section), one point each at lambda 0.01 (where the README quotes them), side by side
# with the default codec: the default with one thing changed (train codec's options)
ABLATIONS = {"hyperprior": ["--prior", "hyperprior"], "checkerboard, --blocks 0": ["--blocks", "0"],
             "checkerboard, --finetune-steps 0": ["--finetune-steps", "0"]}
ABLATION_LAMBDA = 0.01
MAIN = "aegan codec, checkerboard, --blocks 1 (default)"
CODEC_EPOCHS = 10  # `aegan train codec`'s default; at its default batch of 8, 28-55 minutes a codec with one
# thread of a 2-core CPU beside another (the machine's speed varies from day to day), 2-3 of them the last phase on
# rounded latents (4 epochs gave -29.5%, validation loss still falling about 6% an epoch). More is not
# better: at lambda 0.003, 20 epochs gave 64.2 B at 28.09 dB on the test set against 10 epochs' 61.1 B at 27.92
# (about 3% more bytes at the same PSNR); the validation loss stays near 0.95 from epoch 7 at the full learning rate
TARGET_RANGE = (22.0, 32.0)
TARGET_BD = -40.0


def _aegan(*args: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "aegan", *args], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def _shown(args, out: Path) -> str:
    return "aegan " + " ".join(shlex.quote(a) for a in args if a not in ("--quiet", "--overwrite")).replace(
        str(out), "RUN")


def _ms_ssim(x: np.ndarray, y: np.ndarray) -> float:
    import torch

    from aegan.losses import ms_ssim
    a = torch.from_numpy(x.astype(np.float32) / 255)[:, None]
    b = torch.from_numpy(y.astype(np.float32) / 255)[:, None]
    return float(torch.cat([ms_ssim(b[i:i + 1000], a[i:i + 1000]) for i in range(0, len(a), 1000)]).mean())


def coded_point(run_dir: Path, x: np.ndarray, data_args: list[str], workdir: Path, label: str) -> dict:
    """Compress the test images with a run through the command line, decompress them, measure."""
    f, back = workdir / f"{run_dir.name}.aegz", workdir / f"{run_dir.name}.npy"
    enc = _aegan("compress", str(run_dir), *data_args, "--out", str(f), "--overwrite")
    dec = _aegan("decompress", str(f), "--run", str(run_dir), "--out", str(back), "--overwrite")
    y = np.load(back)[:, 0]
    return {"quality": label, "bytes": f.stat().st_size / len(x), "psnr": psnr(x, y), "ms_ssim": _ms_ssim(x, y),
            "images_per_s": len(x) / enc, "decode_per_s": len(x) / dec}


def quantised_ae_points(run_dir: Path, x: np.ndarray, steps=(0.25, 0.5, 1.0, 2.0)) -> list[dict]:
    """A plain autoencoder's float codes rounded to multiples of `step` (in units of each code
    dimension's test standard deviation / 8), int16 + lzma; the scales (4 bytes each) counted."""
    run = aegan.load(run_dir)
    z = run.encode(x[:, None])
    sd = z.std(0) / 8 + 1e-8
    points = []
    for s in steps:
        t0 = time.perf_counter()
        size, zq = quantised_lzma(z / sd, s)
        y = np.clip(np.rint(run.decode(zq * sd)[:, 0] * 255), 0, 255)  # decode gives pixels in [0, 1]
        points.append({"quality": f"step {s:g}", "bytes": (size + 4 * len(sd)) / len(x), "psnr": psnr(x, y),
                       "ms_ssim": _ms_ssim(x, y), "images_per_s": len(x) / (time.perf_counter() - t0)})
    return points


def compression_section(quick: bool, workdir: Path, images: Path) -> list[str]:
    try:
        test, train = load_dataset("fashion-mnist", "test"), load_dataset("fashion-mnist", "train")
    except aegan.AeganError as e:
        return ["## Compression on Fashion-MNIST", "", f"Skipped: {e}", ""]
    x, data_args, codec_epochs, extra = _test_images_and_settings(test, quick, workdir)
    n, xtr = len(x), train.x[:, 0]
    epochs = 2 if quick else 8  # VQ-VAE and the plain autoencoder
    curves: dict[str, list[dict]] = {}
    commands: dict[str, str] = {}

    cmd = _trainer(workdir, extra, codec_epochs, epochs)
    vq_args = ["vqvae", "--arch", "conv", "--code-dim", "64", "--vq-dim", "4", "--codebook-size", "256"]
    ae_args = ["ae", "--arch", "conv", "--code-dim", "32"]
    variants = {MAIN: ([], QUICK_LAMBDAS if quick else CODEC_LAMBDAS)}
    run_jobs({**_codec_jobs(variants, cmd), "vqvae": [cmd("vqvae", vq_args)], "ae": [cmd("ae", ae_args)]})
    # side by side, one per core with one thread each; coding speed is measured after, alone
    _coded_curves(variants, curves, commands, x, data_args, workdir, codec_epochs, extra)
    out = workdir / "vqvae"
    curves["aegan vqvae (conv, 16 x 256 codes)"] = [coded_point(out, x, data_args, workdir, "K 256")]
    commands["aegan vqvae (conv, 16 x 256 codes)"] = (f"`{_shown(['train', *vq_args], out)} --data fashion-mnist "
                                                      f"--epochs {epochs}` then compress/decompress as above")
    out = workdir / "ae"
    curves["aegan ae conv 32, quantised codes + lzma"] = quantised_ae_points(out, x)
    commands["aegan ae conv 32, quantised codes + lzma"] = "`aegan train ae --arch conv --code-dim 32`; codes rounded"
    peers = {
        "WebP, mosaic": (pillow_points(x, "WEBP", WEBP_QUALITIES, False), "Pillow, quality 0-90, method 6"),
        "WebP, per image": (pillow_points(x, "WEBP", WEBP_QUALITIES[::2], True), "Pillow, method 6"),
        "JPEG, mosaic": (pillow_points(x, "JPEG", JPEG_QUALITIES, False), "Pillow, quality 1-90"),
        "JPEG, per image": (pillow_points(x, "JPEG", JPEG_QUALITIES[::2], True), "Pillow"),
        "PCA + quantised coefficients + lzma": (pareto(pca_points(xtr, x, ks=(8, 16, 32, 64, 128, 256))),
                                                "sklearn PCA(k) fitted on the 60,000 training images"),
        "PNG, per image (lossless)": (pillow_points(x, "PNG", (0,), True), "Pillow, optimize"),
        "PNG, mosaic (lossless)": (pillow_points(x, "PNG", (0,), False), "Pillow, optimize"),
        "lzma over the raw pixels (lossless)": ([lzma_point(x)], "preset 9e over all images"),
    }
    for name, (pts, how) in peers.items():
        curves[name] = pts
        commands[name] = how
    ref = curves["WebP, mosaic"]
    lines = ["## Compression on Fashion-MNIST", "",
             f"Bytes per image and quality on {n:,} Fashion-MNIST test images (28 x 28, 8-bit grey). Bytes are whole "
             "files divided by the images, headers included: one .aegz file for all of them for aegan, one file per "
             "image or one mosaic picture of all of them for WebP/JPEG/PNG (the mosaic spreads the headers and lets "
             "the coder predict across neighbouring images). PSNR over every pixel on [0, 1]; MS-SSIM with 2 "
             "scales (28-pixel images; aegan.losses.ms_ssim). Speeds are whole commands (encode: `aegan compress`, "
             f"decode: `aegan decompress`, model loading included) on this machine. aegan models: their defaults, trained on "
             f"the training images for {codec_epochs} epochs (codecs, batch 8) or {epochs} (VQ-VAE, autoencoder).", "",
             "| coder | setting | bytes / image | PSNR dB | MS-SSIM | encode img/s | decode img/s |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for name, pts in curves.items():
        for p in pts:
            ms = f"{p['ms_ssim']:.4f}" if "ms_ssim" in p else ""
            dec = f"{p['decode_per_s']:.0f}" if "decode_per_s" in p else ""
            q = "lossless" if not np.isfinite(p["psnr"]) or p["psnr"] > 100 else f"{p['psnr']:.2f}"
            lines.append(f"| {name} | {p['quality']} | {p['bytes']:.1f} | {q} | {ms} | {p['images_per_s']:.0f} | "
                         f"{dec} |")
    lines += ["", "How each row was made: " + "; ".join(f"{k}: {v}" for k, v in commands.items()) + ".", ""]
    lo, hi = TARGET_RANGE
    lines += [f"Bjontegaard delta rate against WebP as a mosaic, PSNR {lo:g}-{hi:g} dB (negative: fewer bytes for "
              "the same PSNR; log bytes interpolated linearly along each Pareto front, over the PSNR range both "
              "cover):", "", "| coder | BD-rate vs WebP mosaic | PSNR range compared |", "|---|---:|---|"]
    for name, pts in curves.items():
        if name == "WebP, mosaic":
            continue
        bd = bd_rate(pts, ref, lo, hi)
        span = _span(pts, ref, lo, hi)
        lines.append(f"| {name} | {'no overlap' if bd is None else f'{bd:+.1f}%'} | {span} |")
    main = curves[MAIN]
    bd = bd_rate(main, ref, lo, hi)
    others = [k for k in curves if not k.startswith("aegan")]
    beaten = _beats_everywhere(main, [curves[k] for k in others], lo, hi)
    full = _span(main, ref, lo, hi) == f"{lo:g}-{hi:g} dB"
    met = bd is not None and bd <= TARGET_BD and beaten and full
    lines += ["", f"Target (issue 16: at most 60% of WebP-mosaic bytes for the same PSNR anywhere in {lo:g}-{hi:g} dB, "
                  "BD-rate at most -40%, and below every peer at every rate in that range): the default codec's BD-rate "
                  f"{'n/a' if bd is None else f'{bd:+.1f}%'} over {_span(main, ref, lo, hi)}; below every peer "
                  f"everywhere it reaches: {'yes' if beaten else 'no'}. Verdict: **{'met' if met else 'NOT met'}**"
                  + (" (quick mode: not the target setting)" if quick else ""), ""]
    at = [(q, bytes_at(main, q), bytes_at(ref, q)) for q in (22, 25, 28, 31)]
    lines += ["Bytes per image at a given PSNR: " + "; ".join(
        f"{q} dB: codec {'-' if a is None else f'{a:.1f}'}, WebP mosaic {'-' if b is None else f'{b:.1f}'}"
        for q, a, b in at) + ".", ""]
    picture = images / "rate-distortion.png"
    _plot(curves, picture)
    lines += [f"![rate-distortion curves]({picture.relative_to(images.parents[1]).as_posix()})", ""]
    return lines


def compression_ablations_section(quick: bool, workdir: Path) -> list[str]:
    """The default codec against itself with one option changed, at one lambda, trained side by side."""
    try:
        test = load_dataset("fashion-mnist", "test")
    except aegan.AeganError as e:
        return ["## Codec ablations on Fashion-MNIST", "", f"Skipped: {e}", ""]
    x, data_args, codec_epochs, extra = _test_images_and_settings(test, quick, workdir)
    n = len(x)
    lam = QUICK_LAMBDAS[-1] if quick else ABLATION_LAMBDA
    variants = {MAIN: ([], (lam,)), **{f"aegan codec, {k}": (v, (lam,)) for k, v in ABLATIONS.items()}}
    seconds = run_jobs(_codec_jobs(variants, _trainer(workdir, extra, codec_epochs, 0)))
    curves: dict[str, list[dict]] = {}
    commands: dict[str, str] = {}
    _coded_curves(variants, curves, commands, x, data_args, workdir, codec_epochs, extra)
    base = seconds[_run_name(MAIN, []) + f"-{lam:g}"]
    lines = ["## Codec ablations on Fashion-MNIST", "",
             f"`aegan train codec`'s defaults against the same codec with one option changed, at lambda {lam:g}, "
             f"{codec_epochs} epochs, trained side by side (one per core, one thread each); bytes per image and "
             f"quality on {n:,} test images as in the compression section above, and the training's minutes "
             "(all of `aegan train`, the last phase on rounded latents included).", "",
             "| codec | bytes / image | PSNR dB | MS-SSIM | training minutes | time vs default |",
             "|---|---:|---:|---:|---:|---:|"]
    for label, (args, _) in variants.items():
        p, secs = curves[label][0], seconds[_run_name(label, args) + f"-{lam:g}"]
        lines.append(f"| {label} | {p['bytes']:.1f} | {p['psnr']:.2f} | {p['ms_ssim']:.4f} | {secs / 60:.1f} | "
                     f"{secs / base:.2f}x |")
    lines += ["", "How each row was made: " + "; ".join(f"{k}: {v}" for k, v in commands.items()) + ".", ""]
    return lines


def _test_images_and_settings(test, quick: bool, workdir: Path):
    """Both sections' test images (2,000 in quick mode) as pixels and as the --data file the commands
    read, the codecs' epochs, and the training options quick mode adds."""
    n = 2000 if quick else len(test)
    np.save(workdir / "test-images.npy", test.x[:n])
    return (test.x[:n, 0], ["--data", str(workdir / "test-images.npy")], 2 if quick else CODEC_EPOCHS,
            ["--max-samples", "6000"] if quick else [])


def _trainer(workdir: Path, extra: list[str], codec_epochs: int, epochs: int):
    """argv of one `aegan train` job into workdir/name (codecs for codec_epochs, other runs for epochs)."""
    def cmd(name: str, args: list[str]) -> list[str]:
        n = codec_epochs if args[0] == "codec" else epochs
        return [sys.executable, "-m", "aegan", "train", *args, "--data", "fashion-mnist", "--epochs", str(n),
                *extra, "--out", str(workdir / name), "--quiet", "--overwrite"]
    return cmd


def _run_name(label: str, args: list[str]) -> str:
    return "-".join(["codec"] + ([a.lstrip("-") for a in args] or ["default"]))


def _codec_jobs(variants: dict, cmd) -> dict[str, list]:
    """One training job per (variant, lambda), named <run name>-<lambda>."""
    return {f"{_run_name(label, args)}-{lam:g}": [cmd(f"{_run_name(label, args)}-{lam:g}",
                                                     ["codec", *args, "--lambda", f"{lam:g}"])]
            for label, (args, lams) in variants.items() for lam in lams}


def _coded_curves(variants: dict, curves: dict, commands: dict, x, data_args, workdir: Path, codec_epochs: int,
                  extra: list[str]) -> None:
    """Each trained variant's points (its test images coded through the command line) and its commands."""
    for label, (args, lams) in variants.items():
        curves[label] = []
        for lam in lams:
            out = workdir / f"{_run_name(label, args)}-{lam:g}"
            curves[label].append(coded_point(out, x, data_args, workdir, f"lambda {lam:g}"))
            print(f"  {label} lambda {lam:g}: {curves[label][-1]['bytes']:.1f} B, {curves[label][-1]['psnr']:.2f} dB",
                  flush=True)
        commands[label] = (f"`aegan train codec {' '.join(args + [''])}--lambda L --data fashion-mnist "
                           f"--epochs {codec_epochs}"
                           f"{' ' + ' '.join(extra) if extra else ''} --out RUN; aegan compress RUN --data "
                           f"test.npy --out t.aegz; aegan decompress t.aegz --run RUN --out back.npy`")


def _span(test, ref, lo, hi) -> str:
    pt, pr = pareto(test), pareto(ref)
    if not pt or not pr:
        return "-"
    a = max(lo, pt[0]["psnr"], pr[0]["psnr"])
    b = min(hi, pt[-1]["psnr"], pr[-1]["psnr"])
    return f"{a:.4g}-{b:.4g} dB" if b > a else "none"


def _beats_everywhere(main, peers, lo, hi) -> bool:
    """Whether, at every PSNR in [lo, hi] that the codec's front reaches, it needs fewer bytes than
    every peer that reaches that PSNR too."""
    pm = pareto(main)
    if not pm:
        return False
    grid = np.linspace(max(lo, pm[0]["psnr"]), min(hi, pm[-1]["psnr"]), 50)
    for q in grid:
        mine = bytes_at(main, q)
        for p in peers:
            theirs = bytes_at(p, q)
            if mine is not None and theirs is not None and theirs <= mine:
                return False
    return True


def _plot(curves: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 5.5))
    for name, pts in curves.items():
        pts = [p for p in pts if np.isfinite(p["psnr"]) and p["psnr"] < 100]
        if not pts:
            continue
        pts = sorted(pts, key=lambda p: p["bytes"])
        style = "-o" if name.startswith("aegan") else "--."
        ax.plot([p["bytes"] for p in pts], [p["psnr"] for p in pts], style, label=name, ms=4)
    ax.set_xscale("log")
    ax.set_xlabel("bytes per image (log scale, headers included)")
    ax.set_ylabel("PSNR (dB)")
    ax.axhspan(*TARGET_RANGE, color="0.93", zorder=0)
    ax.set_title("Fashion-MNIST test images: rate and distortion")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
