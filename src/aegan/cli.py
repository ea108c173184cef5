"""The `aegan` command. Thin: parse, call the library, print. User errors print one line and
exit 2 (usage) or 1 (runtime); `--debug` shows the traceback."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

import numpy as np

from . import __version__
from .checkpoint import atomic_write, check_output_file, save_npy
from .config import (GAN_PRESETS, PRESETS, ClassifierConfig, DataConfig, GANConfig, ModelConfig, RunConfig, TrainConfig, add_flags,
                     apply_preset, from_flags, validate)
from .data import SPLITS, load_dataset
from .errors import AeganError, UsageError
from .models import MODELS


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of argparse's usage block
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--debug", action="store_true", help="show the full traceback on errors")


def _data_flags(p: argparse.ArgumentParser, required: bool = True) -> None:
    add_flags(p, DataConfig, skip=("normalize",))
    p.add_argument("--split", choices=SPLITS, default=None,
                   help="which split to read (default: train for training, test otherwise)")
    for a in p._actions:
        if a.dest == "DataConfig.data":
            a.required = required


def _load_data(args, base: DataConfig | None = None, split_default: str = "test"):
    dc = from_flags(args, DataConfig, base)
    return dc, load_dataset(dc.data, args.split or split_default, data_dir=dc.data_dir,
                            image_size=dc.image_size, channels=dc.channels, label_column=dc.label_column,
                            stream=dc.stream)


# --- commands ---------------------------------------------------------------------------

def cmd_train(args) -> int:
    from .run import fit
    model, train = apply_preset(args.preset, ModelConfig(family=args.family), TrainConfig())
    model = from_flags(args, ModelConfig, dataclasses.replace(model, family=args.family))
    train = from_flags(args, TrainConfig, train)
    dc = from_flags(args, DataConfig)
    validate(model, train)  # cheap checks before reading any data
    _, ds = _load_data(args, dc, split_default="train")
    cfg = RunConfig(data=dc, model=model, train=train, preset=args.preset, split=args.split or "train")
    run = fit(ds, cfg, args.out, overwrite=args.overwrite, progress=not args.quiet)
    return _trained(run, ds)


def cmd_train_classifier(args) -> int:
    from .classifier_run import fit_classifier
    model = from_flags(args, ClassifierConfig)
    train = from_flags(args, TrainConfig)
    dc = from_flags(args, DataConfig)
    validate(None, train)
    _, ds = _load_data(args, dc, split_default="train")
    cfg = RunConfig(task="classifier", data=dc, model=model, train=train, split=args.split or "train")
    run = fit_classifier(ds, cfg, args.out, overwrite=args.overwrite, progress=not args.quiet)
    return _trained(run, ds)


def _trained_classifier(run, ds) -> int:
    last = run.metrics()[-1]
    shown = "  ".join(f"{k}={v:.4g}" for k, v in last.items() if k.startswith(("train_", "val_")))
    print(f"trained classifier on {ds.name} ({run.config.data_info['num_examples']} examples, "
          f"{run.num_classes} classes): {shown}")
    print(f"run folder: {run.path}")
    print(f"next: aegan evaluate GAN_RUN --features {run.path}")
    return 0


def _data_parallel_note() -> None:
    from . import distributed
    if distributed.active():
        print(f"data-parallel over {distributed.size()} processes (torch.distributed, "
              f"{distributed.dist.get_backend()}): the weights ended "
              "identical on every process")


def _trained(run, ds) -> int:
    if run.config.task == "gan":
        return _trained_gan(run, ds)
    if run.config.task == "classifier":
        return _trained_classifier(run, ds)
    model, dc = run.config.model, run.config.data
    last = run.metrics()[-1]
    shown = "  ".join(f"{k}={v:.4g}" for k, v in last.items() if k.endswith("loss") and isinstance(v, float))
    print(f"trained {model.family}/{model.arch} on {ds.name} ({run.config.data_info['num_examples']} examples, "
          f"{ds.kind} {ds.shape}): {shown}")
    print(f"run folder: {run.path}")
    _data_parallel_note()
    print("next:")
    print(f"  aegan report {run.path}        # curves, reconstructions, latent map in one HTML page")
    print(f"  aegan evaluate {run.path}      # test MSE/PSNR, probe accuracies (and bounds for a VAE)")
    print(f"  aegan reconstruct {run.path} --data {dc.data} --out recon.png")
    return 0


def cmd_resume(args) -> int:
    """aegan train --resume RUN: the run's own config and data, from its newest checkpoint."""
    from .classifier_run import fit_classifier
    from .gan_run import fit_gan
    from .run import fit, read_run_config
    if not args.resume:
        raise UsageError("aegan train needs a model (ae, dae, sparse, vae, gan) or --resume RUN")
    path = Path(args.resume)
    cfg = read_run_config(path)
    dc = cfg.data
    ds = load_dataset(dc.data, cfg.split, data_dir=dc.data_dir, image_size=dc.image_size, channels=dc.channels,
                      label_column=dc.label_column, stream=dc.stream)
    train = {"gan": fit_gan, "classifier": fit_classifier}.get(cfg.task, fit)
    run = train(ds, cfg, path, progress=not args.quiet, resume=True)
    return _trained(run, ds)


def _open_run(path: str, task: str = "autoencoder"):
    from .run import load
    run = load(path)
    kind = "gan" if type(run).__name__ == "GANRun" else "autoencoder"
    if kind != task:
        hint = "aegan sample/interpolate" if kind == "gan" else "aegan encode/decode/reconstruct"
        raise UsageError(f"{path} holds a {kind} run, but this command needs a {task} run; use {hint}")
    return run


def cmd_train_gan(args) -> int:
    from .gan_run import fit_gan
    preset = GAN_PRESETS.get(args.preset, {}) if args.preset else {}
    model = from_flags(args, GANConfig, dataclasses.replace(GANConfig(), **preset.get("model", {})))
    train = from_flags(args, TrainConfig, TrainConfig(batch_size=64))
    dc = from_flags(args, DataConfig)
    validate(None, train)
    _, ds = _load_data(args, dc, split_default="train")
    cfg = RunConfig(task="gan", data=dc, model=model, train=train, preset=args.preset, split=args.split or "train")
    run = fit_gan(ds, cfg, args.out, overwrite=args.overwrite, progress=not args.quiet)
    return _trained_gan(run, ds)


def _trained_gan(run, ds) -> int:
    last = run.metrics()[-1]
    shown = "  ".join(f"{k}={v:.4g}" for k, v in last.items()
                      if isinstance(v, (int, float)) and k not in ("epoch", "step", "seconds", "mode_num_modes"))
    print(f"trained gan {run.config.model.loss}/{run.config.model.arch} on {ds.name} "
          f"({run.config.data_info['num_examples']} examples, "
          f"{ds.kind} {ds.shape}): {shown}")
    print(f"run folder: {run.path}")
    _data_parallel_note()
    ext = "png" if run.kind == "image" else "npy"
    print("next:")
    print(f"  aegan report {run.path}        # curves, samples over the epochs, interpolation in one HTML page")
    print(f"  aegan sample {run.path} -n 64 --out samples.{ext}")
    if run.kind == "image" or run.mode_stats() is not None:
        print(f"  aegan evaluate {run.path}      # " + ("FCD, KID, precision/recall beside the real-vs-real floor"
                                                  if run.kind == "image" else "modes captured, % high quality"))
    return 0


def cmd_evaluate(args) -> int:
    from .evaluation import evaluate_run, evaluate_sample_file, format_table
    from .run import load
    if args.n < 2:
        raise UsageError(f"--n {args.n} must be at least 2 (10000 is the usual size)")
    if args.samples:
        if args.run or not args.data:
            raise UsageError("--samples FILE.npy needs --data NAME (the dataset to compare with) and no RUN")
        result = evaluate_sample_file(args.samples, args.data, args.n, args.features, args.seed, args.data_dir)
    elif args.run:
        result = evaluate_run(load(args.run), args.n, args.features, args.seed)
    else:
        raise UsageError("give a RUN folder, or --samples FILE.npy --data NAME")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_table(result))
    if args.run and not args.samples:
        from . import checkpoint
        checkpoint.write_text(Path(args.run) / "evaluation.json", json.dumps(result, indent=2))
    return 0


def cmd_report(args) -> int:
    from .report import build_report
    out = check_output_file(args.out or (Path(args.runs[0]) / "report.html"), args.overwrite or not args.out,
                            (".html",))
    build_report(args.runs, out)
    print(f"wrote {out}: open it in a browser")
    return 0


def cmd_sample(args) -> int:
    run = _open_run(args.run, "gan")
    out = check_output_file(args.out, args.overwrite, (".npy", ".png"))
    x = run.sample(args.n, args.label, args.seed)
    _write_examples(run, out, x, args.nrow)
    print(f"wrote {out}: {len(x)} samples of shape {tuple(x.shape[1:])}")
    return 0


def cmd_interpolate(args) -> int:
    run = _open_run(args.run, "gan")
    out = check_output_file(args.out, args.overwrite, (".npy", ".png"))
    x = run.interpolate(args.steps, args.rows, args.seed, args.label)
    _write_examples(run, out, x, args.steps)
    print(f"wrote {out}: {args.rows} lines of {args.steps} samples")
    return 0


def cmd_encode(args) -> int:
    run = _open_run(args.run)
    out = check_output_file(args.out, args.overwrite, (".npy",))
    _, ds = _load_data(args, run.config.data)
    codes = run.encode(ds)
    save_npy(out, codes)
    print(f"wrote {out}: codes of shape {codes.shape}")
    return 0


def cmd_decode(args) -> int:
    run = _open_run(args.run)
    out = check_output_file(args.out, args.overwrite, (".npy", ".png"))
    try:
        codes = np.load(args.codes, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise UsageError(f"--codes {args.codes}: not a readable numeric .npy ({e}); expected codes "
                         "written by 'aegan encode'") from None
    x = run.decode(codes)
    _write_examples(run, out, x, args.nrow)
    print(f"wrote {out}: {len(x)} decoded examples of shape {tuple(x.shape[1:])}")
    return 0


def cmd_reconstruct(args) -> int:
    run = _open_run(args.run)
    out = check_output_file(args.out, args.overwrite, (".npy", ".png"))
    _, ds = _load_data(args, run.config.data)
    n = len(ds) if out.suffix == ".npy" and args.n is None else min(len(ds), args.n or 16)
    sub = ds.subset(np.arange(n))
    if out.suffix == ".png":
        from .viz import save_png
        save_png(out, run.reconstruction_grid(sub, nrow=args.nrow))
    else:
        save_npy(out, run.reconstruct(sub))
    mse = float(run.score(sub).mean())
    print(f"wrote {out}: {n} reconstructions; mean squared error {mse:.5g} (model units)")
    return 0


def _write_examples(run, out: Path, x: np.ndarray, nrow: int) -> None:
    if out.suffix == ".npy":
        save_npy(out, x)
        return
    if run.kind != "image":
        raise UsageError(f"--out {out}: a picture needs image data, this run is tabular; use a .npy file")
    from .viz import grid_image, save_png
    save_png(out, grid_image(run.normalizer.to_unit_pixels(x), nrow=nrow))


def cmd_info(args) -> int:
    from .run import load
    run = load(args.run)
    cfg, info = run.config, run.config.data_info
    metrics = run.metrics()
    if args.json:
        print(json.dumps({"config": dataclasses.asdict(cfg), "last_metrics": metrics[-1] if metrics else None},
                         indent=2))
        return 0
    m, t = cfg.model, cfg.train
    sizes = m.hidden if m.arch == "mlp" else m.conv_channels
    body = f"{'hidden' if m.arch == 'mlp' else 'channels'} {','.join(map(str, sizes))}"
    print(f"run:        {run.path}")
    if cfg.task == "gan":
        from .losses import GAN_LOSSES
        print(f"model:      gan, loss {m.loss} ({GAN_LOSSES[m.loss].paper}), n_critic {m.n_critic}, "
              f"EMA {m.ema or 'off'}, pack {m.pack}" + (", conditional" if m.conditional else ""))
        print(f"body:       {m.arch}, {body}, z {m.z_dim}" + (f", preset {cfg.preset}" if cfg.preset else ""))
    else:
        detail = {"dae": f", {m.noise} noise {m.noise_level}", "sparse": f", weight {m.sparsity}",
                  "vae": f", beta {m.beta}, {m.likelihood} likelihood"}.get(m.family, "")
        print(f"model:      {m.family} ({MODELS[m.family].description}{detail})")
        print(f"body:       {m.arch}, {body}, code {m.code_dim}" + (f", preset {cfg.preset}" if cfg.preset else ""))
    params = sum(p.numel() for p in run.module.parameters())
    print(f"data:       {info['name']} ({info['source']}), {info['kind']} {tuple(info['shape'])}, "
          f"{info['num_examples']} examples, normalised '{info['normalizer']['target']}'")
    lr = f"lr G {m.lr_g} D {m.lr_d} ({m.lr_decay or 'constant'})" if cfg.task == "gan" else f"lr {t.lr}"
    print(f"training:   {t.epochs} epochs, batch {t.batch_size}, {lr}, seed {t.seed}; aegan {cfg.aegan_version}")
    print(f"parameters: {params:,}")
    if metrics:
        last = metrics[-1]
        shown = "  ".join(f"{k}={v:.5g}" for k, v in last.items()
                          if isinstance(v, (int, float)) and k not in ("epoch", "step", "seconds"))
        print(f"last epoch: {last['epoch']} (step {last['step']}): {shown}")
    return 0


def cmd_data(args) -> int:
    dc, ds = _load_data(args, DataConfig(data=args.spec), split_default="train")
    print(f"{ds.name}: {len(ds)} examples, {ds.kind} of shape {ds.shape}, dtype {ds.x.dtype}, "
          f"split {args.split or 'train'}")
    print(f"source: {ds.source}")
    from .data import is_streamed
    if is_streamed(ds):
        print("read from disk batch by batch while training (--stream); not loaded into memory")
    if ds.y is not None:
        counts = np.bincount(ds.y, minlength=ds.num_classes or 0)
        names = ds.classes or [str(i) for i in range(len(counts))]
        print("labels: " + ", ".join(f"{n} ({c})" for n, c in zip(names, counts)))
    else:
        print("labels: none")
    return 0


# --- anomaly detection ----------------------------------------------------------------------

def cmd_anomaly_fit(args) -> int:
    from .anomaly import default_model, default_train, fit_scoring
    dc = from_flags(args, DataConfig)
    _, ds = _load_data(args, dc, split_default="train")
    model = from_flags(args, ModelConfig, default_model(ds.kind, ds.shape))
    train = from_flags(args, TrainConfig, default_train(ds.kind))
    scoring = fit_scoring(ds, model, train, args.score, args.contamination, args.threshold, dc, args.out,
                          overwrite=args.overwrite, progress=not args.quiet, split=args.split or "train")
    flagged = int((scoring.train_scores > scoring.threshold).sum())
    print(f"fitted {model.family}/{model.arch} anomaly detector on {ds.name} ({len(ds)} normal examples), score "
          f"{scoring.score}; threshold {scoring.threshold:.5g} "
          + ("(given)" if scoring.threshold_given else f"(contamination {scoring.contamination:g}: "
             f"{flagged} of {len(ds)} training examples above it)"))
    print(f"run folder: {scoring.run.path}")
    print(f"next: aegan anomaly score {scoring.run.path} --data NEW_DATA --out scores.csv")
    return 0


def cmd_anomaly_score(args) -> int:
    from .anomaly import Scoring
    scoring = Scoring.load(args.run)
    out = check_output_file(args.out, args.overwrite, (".csv",))
    _, ds = _load_data(args, scoring.run.config.data)
    scores = scoring.scores(ds)
    labels = (scores > scoring.threshold).astype(int)

    def write(tmp):
        with open(tmp, "w", newline="") as f:
            import csv
            w = csv.writer(f)
            w.writerow(["index", "name", "score", "label"] if ds.names else ["index", "score", "label"])
            for i, (s, lab) in enumerate(zip(scores.tolist(), labels.tolist())):
                w.writerow([i, ds.names[i], repr(s), lab] if ds.names else [i, repr(s), lab])
    atomic_write(out, write)
    print(f"wrote {out}: {len(ds)} scores, {int(labels.sum())} above the threshold {scoring.threshold:.5g} "
          "(label 1 = anomaly)")
    return 0


def cmd_anomaly_bench(args) -> int:
    from .anomaly_bench import format_bench, one_class_bench
    classes = None
    if args.classes:
        try:
            classes = [int(c) for c in args.classes.split(",") if c.strip()]
        except ValueError:
            raise UsageError(f"--classes {args.classes!r}: expected class indices, e.g. 0,1,2") from None
    from .anomaly import default_model, default_train
    dc = from_flags(args, DataConfig, DataConfig(data="fashion-mnist"))
    # the detector's own defaults unless model or training flags are given
    model = from_flags(args, ModelConfig, default_model("image", ())) if _given(args, ModelConfig) else None
    train = from_flags(args, TrainConfig, default_train("image")) if _given(args, TrainConfig) else None
    result = one_class_bench(dc.data, classes, args.seeds, model, train, args.score, peers=not args.no_peers,
                             data_dir=dc.data_dir, progress=not args.quiet and not args.json)
    print(json.dumps(result, indent=2) if args.json else format_bench(result))
    return 0


def _given(args, cls) -> bool:
    return any(getattr(args, f"{cls.__name__}.{f.name}", None) is not None for f in dataclasses.fields(cls))


def _anomaly_flags(p) -> None:
    from .anomaly import COMPONENTS, DEFAULT_CONTAMINATION, DEFAULT_SCORE
    p.add_argument("--score", default=DEFAULT_SCORE,
                   help="; ".join(f"{k}: {v[3]}" for k, v in COMPONENTS.items()) + ". Several joined by '+' are "
                        f"z-scored on the training data and summed (default: {DEFAULT_SCORE})")
    p.add_argument("--contamination", type=float, default=DEFAULT_CONTAMINATION,
                   help="expected fraction of anomalies in the training data, in (0, 0.5]: the threshold is that "
                        f"quantile of the training scores (default: {DEFAULT_CONTAMINATION})")
    p.add_argument("--threshold", type=float, default=None, help="an explicit score threshold instead")


def _run_folder_flags(p: argparse.ArgumentParser) -> None:
    """--out, --overwrite and --quiet of every command that trains into a run folder."""
    p.add_argument("--out", required=True, help="run folder to create")
    p.add_argument("--overwrite", action="store_true", help="replace aegan's files in an existing --out folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="aegan", description="Autoencoders and GANs on your own data.")
    parser.add_argument("--version", action="version", version=f"aegan {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser, metavar="COMMAND")

    train = sub.add_parser("train", help="train a model into a run folder: ae, dae, sparse, vae or gan")
    train.add_argument("--resume", metavar="RUN", help="continue a stopped run from its newest checkpoint")
    train.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")
    _common(train)
    train.set_defaults(fn=cmd_resume)
    fam = train.add_subparsers(dest="family", required=False, parser_class=Parser, metavar="MODEL")
    p = fam.add_parser("classifier", help="the CNN whose features the sample metrics use (labelled images)")
    _run_folder_flags(p)
    _data_flags(p)
    add_flags(p, ClassifierConfig)
    add_flags(p, TrainConfig, skip=("patience",))
    p.set_defaults(fn=cmd_train_classifier)
    _common(p)
    for name, cls in list(MODELS.items()) + [("gan", None)]:
        p = fam.add_parser(name, help=cls.description if cls else "generative adversarial network")
        _run_folder_flags(p)
        p.add_argument("--preset", choices=list(GAN_PRESETS if cls is None else PRESETS),
                       help="classic: the article's network (Dense 128 ReLU)")
        _data_flags(p)
        p.add_argument("--normalize", dest="DataConfig.normalize", default=None,
                       choices=("auto", "unit", "symmetric", "standard", "none"),
                       help="images: unit [0,1] or symmetric [-1,1]; tables: standard or none (default: auto)")
        if cls is None:
            add_flags(p, GANConfig)
            add_flags(p, TrainConfig, skip=("lr", "weight_decay", "val_split", "patience"))
            p.set_defaults(fn=cmd_train_gan)
        else:
            add_flags(p, ModelConfig, skip=("family",))
            add_flags(p, TrainConfig)
            p.set_defaults(fn=cmd_train)
        _common(p)

    p = sub.add_parser("report", help="one self-contained HTML page per run (several runs: side by side)")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folder(s)")
    p.add_argument("--out", help="report.html (default: RUN/report.html, replaced each time)")
    p.add_argument("--overwrite", action="store_true")
    _common(p)
    p.set_defaults(fn=cmd_report)

    p = sub.add_parser("evaluate", help="the metrics that fit a run, each beside its real-vs-real floor")
    p.add_argument("run", nargs="?", help="run folder (autoencoder or GAN)")
    p.add_argument("--n", type=int, default=10000, help="samples / test examples to use (default 10000)")
    p.add_argument("--json", action="store_true", help="print one JSON object keyed by metric name")
    p.add_argument("--features", help="classifier run folder for the sample metrics (default: the one shipped "
                                      "for the run's dataset)")
    p.add_argument("--samples", help="score this .npy of images (pixels in [0, 1] or uint8) instead of a run")
    p.add_argument("--data", help="with --samples: the dataset to compare with (its test split)")
    p.add_argument("--data-dir", help="folder holding the dataset's IDX files")
    p.add_argument("--seed", type=int, default=0)
    _common(p)
    p.set_defaults(fn=cmd_evaluate)

    p = sub.add_parser("sample", help="samples from a GAN run (grid.png or samples.npy)")
    p.add_argument("run", help="GAN run folder")
    p.add_argument("-n", type=int, default=64, help="how many samples (default 64)")
    p.add_argument("--out", required=True, help="grid.png or samples.npy (the data's own units)")
    p.add_argument("--class", dest="label", type=int, default=None, help="class index (conditional GANs)")
    p.add_argument("--seed", type=int, default=0, help="noise seed: the same seed gives the same samples")
    p.add_argument("--nrow", type=int, default=8, help="pictures per row in a .png")
    p.add_argument("--overwrite", action="store_true")
    _common(p)
    p.set_defaults(fn=cmd_sample)

    p = sub.add_parser("interpolate", help="a GAN's samples along straight lines in z (strip.png or .npy)")
    p.add_argument("run", help="GAN run folder")
    p.add_argument("--steps", type=int, default=8, help="points per line (default 8)")
    p.add_argument("--rows", type=int, default=4, help="how many lines (default 4)")
    p.add_argument("--out", required=True, help="strip.png or points.npy")
    p.add_argument("--class", dest="label", type=int, default=None, help="class index (conditional GANs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true")
    _common(p)
    p.set_defaults(fn=cmd_interpolate)

    p = sub.add_parser("encode", help="write the codes of a dataset to a .npy file")
    p.add_argument("run", help="run folder")
    p.add_argument("--out", required=True, help="codes.npy")
    p.add_argument("--overwrite", action="store_true")
    _data_flags(p)
    _common(p)
    p.set_defaults(fn=cmd_encode)

    p = sub.add_parser("decode", help="decode codes (.npy) into examples (.npy) or a picture (.png)")
    p.add_argument("run", help="run folder")
    p.add_argument("--codes", required=True, help="codes.npy of shape (N, code_dim)")
    p.add_argument("--out", required=True, help="out.npy (data's own units) or grid.png")
    p.add_argument("--nrow", type=int, default=8, help="pictures per row in a .png")
    p.add_argument("--overwrite", action="store_true")
    _common(p)
    p.set_defaults(fn=cmd_decode)

    p = sub.add_parser("reconstruct", help="inputs and their reconstructions (grid.png or .npy)")
    p.add_argument("run", help="run folder")
    p.add_argument("--out", required=True, help="grid.png (inputs above, reconstructions below) or out.npy")
    p.add_argument("-n", type=int, default=None, help="how many examples (default: 16 in a picture, all in .npy)")
    p.add_argument("--nrow", type=int, default=8, help="pictures per row in a .png")
    p.add_argument("--overwrite", action="store_true")
    _data_flags(p)
    _common(p)
    p.set_defaults(fn=cmd_reconstruct)

    p = sub.add_parser("info", help="what a run is: model, data shape, last metrics")
    p.add_argument("run", help="run folder")
    p.add_argument("--json", action="store_true", help="print the config and last metrics as JSON")
    _common(p)
    p.set_defaults(fn=cmd_info)

    p = sub.add_parser("data", help="what aegan reads from a dataset name or path")
    p.add_argument("spec", metavar="DATA", help="dataset name or path")
    _data_flags(p, required=False)
    _common(p)
    p.set_defaults(fn=cmd_data)

    anomaly = sub.add_parser("anomaly", help="anomaly detection: fit on normal data, score new data, benchmark")
    _common(anomaly)
    asub = anomaly.add_subparsers(dest="action", required=True, parser_class=Parser, metavar="ACTION")
    p = asub.add_parser("fit", help="train a detector on normal data (defaults: the benchmark's best setting)")
    _run_folder_flags(p)
    _data_flags(p)
    _anomaly_flags(p)
    add_flags(p, ModelConfig)
    add_flags(p, TrainConfig)
    _common(p)
    p.set_defaults(fn=cmd_anomaly_fit)
    p = asub.add_parser("score", help="score data with a fitted detector into a CSV (index, [name,] score, label)")
    p.add_argument("run", help="detector run folder (from aegan anomaly fit)")
    p.add_argument("--out", required=True, help="scores.csv")
    p.add_argument("--overwrite", action="store_true")
    _data_flags(p)
    _common(p)
    p.set_defaults(fn=cmd_anomaly_score)
    p = asub.add_parser("bench", help="one-class protocol: per class, train on it, AUROC on the whole test set")
    p.add_argument("--classes", help="comma-separated class indices (default: all)")
    p.add_argument("--seeds", type=int, default=3, help="seeds per class: 0 to N-1 (default 3)")
    p.add_argument("--score", default=None, help="detector score (default: the detector's)")
    p.add_argument("--no-peers", action="store_true", help="leave out the peers (PCA, k-NN on pixels, Isolation Forest, one-class SVM)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("--quiet", action="store_true", help="no per-class lines")
    add_flags(p, DataConfig, skip=("normalize", "image_size", "channels", "label_column"))
    add_flags(p, ModelConfig)
    add_flags(p, TrainConfig, skip=("checkpoint_every", "checkpoint_steps", "keep_checkpoints", "tensorboard"))
    _common(p)
    p.set_defaults(fn=cmd_anomaly_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from . import distributed
    if distributed.setup() and not distributed.is_main():
        sys.stdout = open(os.devnull, "w")  # under torchrun rank 0 speaks for all
    try:
        for name in ("n", "nrow", "rows"):
            v = getattr(args, name, None)
            if v is not None and v < 1:
                raise UsageError(f"-{'-' if len(name) > 1 else ''}{name} {v} must be at least 1")
        return args.fn(args)
    except AeganError as e:
        if args.debug:
            raise
        print(f"aegan {args.command}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"aegan {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `aegan ... | head`: the reader left; stop quietly
        sys.stdout = open(os.devnull, "w")
        return 0
    finally:
        distributed.teardown()
