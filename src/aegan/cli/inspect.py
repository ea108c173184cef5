"""Commands that look at runs and data: info, data, evaluate, report."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from ..config import DataConfig
from ..errors import UsageError
from .flags import command, data_flags, load_data, out_flags

# torch and scikit-learn load with the commands that need them (inside them), so that --help and
# argument errors answer at once


def add_parsers(sub) -> None:
    p = command(sub, "report", "one self-contained HTML page per run (several runs: side by side)", cmd_report,
                examples=("aegan report runs/ae                        # runs/ae/report.html",
                          "aegan report runs/ae runs/vae --out both.html   # side by side",
                          "aegan report studies/ae                     # a study of aegan tune"))
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folder(s), or one study folder of aegan tune")
    out_flags(p, "report.html (default: RUN/report.html, replaced each time)", required=False)
    p.add_argument("--data", help="where the (first) run's data is now, if it was moved")

    p = command(sub, "evaluate", "the metrics that fit a run, each beside its real-vs-real floor", cmd_evaluate,
                examples=("aegan evaluate runs/ae --n 2000",
                          "aegan evaluate runs/gan --features runs/features",
                          "aegan evaluate --samples samples.npy --data fashion-mnist"))
    p.add_argument("run", nargs="?", help="run folder (autoencoder or GAN)")
    p.add_argument("--n", type=int, default=10000, help="samples / test examples to use (default 10000)")
    p.add_argument("--json", action="store_true", help="print one JSON object keyed by metric name")
    p.add_argument("--features", help="classifier run folder for the sample metrics (default: the one shipped "
                                      "for the run's dataset)")
    p.add_argument("--samples", help="score this .npy of images (pixels in [0, 1] or uint8) instead of a run")
    p.add_argument("--data", help="with --samples: the dataset to compare with (its test split); with a RUN: "
                                  "where the run's data is now, if it was moved")
    p.add_argument("--data-dir", help="folder holding the dataset's IDX files")
    p.add_argument("--seed", type=int, default=0)

    p = command(sub, "info", "what a run is: model, data shape, last metrics", cmd_info, "run folder",
                examples=("aegan info runs/ae", "aegan info runs/ae --json"))
    p.add_argument("--json", action="store_true", help="print the config and last metrics as JSON")

    p = command(sub, "data", "what aegan reads from a dataset name or path", cmd_data,
                examples=("aegan data digits", "aegan data table.csv --label-column class",
                          "aegan data photos/ --image-size 32"))
    p.add_argument("spec", metavar="DATA", help="dataset name or path")
    data_flags(p, required=False)


def cmd_evaluate(args) -> int:
    from .. import checkpoint
    from ..evaluation import evaluate_sample_file, format_table
    from ..runs.registry import load
    if args.n < 2:
        raise UsageError(f"--n {args.n} must be at least 2 (10000 is the usual size)")
    if args.samples:
        if args.run or not args.data:
            raise UsageError("--samples FILE.npy needs --data NAME (the dataset to compare with) and no RUN")
        result = evaluate_sample_file(args.samples, args.data, args.n, args.features, args.seed, args.data_dir)
    elif args.run:
        run = load(args.run)
        run.data_override = args.data
        result = run.evaluation(args.n, args.features, args.seed)
    else:
        raise UsageError("give a RUN folder, or --samples FILE.npy --data NAME")
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    if args.run and not args.samples:
        checkpoint.write_text(Path(args.run) / "evaluation.json", json.dumps(result, indent=2))
    return 0


def cmd_report(args) -> int:
    from ..checkpoint import check_output_file
    from ..report import build_report
    from ..runs.registry import load
    from ..tuning.report import build_study_report, is_study
    if is_study(args.runs[0]):
        if len(args.runs) > 1:
            raise UsageError(f"{args.runs[0]} is a study; report it alone (aegan report {args.runs[0]})")
        out = check_output_file(args.out or (Path(args.runs[0]) / "report.html"), args.overwrite or not args.out,
                                (".html",))
        build_study_report(args.runs[0], out)
        print(f"wrote {out}: open it in a browser")
        return 0
    runs = [load(p) for p in args.runs]  # a missing run is the error to report, before --out
    runs[0].data_override = args.data
    out = check_output_file(args.out or (Path(args.runs[0]) / "report.html"), args.overwrite or not args.out,
                            (".html",))
    build_report(runs, out)
    print(f"wrote {out}: open it in a browser")
    return 0


def cmd_info(args) -> int:
    from ..runs.registry import load
    run = load(args.run)
    cfg, info = run.config, run.config.data_info
    metrics = run.metrics()
    if args.json:
        print(json.dumps({"config": dataclasses.asdict(cfg), "last_metrics": metrics[-1] if metrics else None},
                         indent=2))
        return 0
    t = cfg.train
    print(f"run:        {run.path}")
    for heading, text in run.describe():
        print(f"{heading + ':':<12}{text}")
    print(f"data:       {info['name']} ({info['source']}), {info['kind']} {tuple(info['shape'])}, "
          f"{info['num_examples']} examples, normalised '{info['normalizer']['target']}'")
    print(f"training:   {t.epochs} epochs, batch {t.batch_size}, {run.learning_rates()}, seed {t.seed}; "
          f"aegan {cfg.aegan_version}")
    print(f"parameters: {sum(p.numel() for p in run.module.parameters()):,}")
    if metrics:
        last = metrics[-1]
        shown = "  ".join(f"{k}={v:.5g}" for k, v in last.items()
                          if isinstance(v, (int, float)) and k not in ("epoch", "step", "seconds"))
        print(f"last epoch: {last['epoch']} (step {last['step']}): {shown}")
    return 0


def cmd_data(args) -> int:
    import numpy as np

    from ..data import is_streamed
    _, ds = load_data(args, DataConfig(data=args.spec), split_default="train")
    print(f"{ds.name}: {len(ds)} examples, {ds.kind} of shape {ds.shape}, dtype {ds.x.dtype}, "
          f"split {args.split or 'train'}")
    print(f"source: {ds.source}")
    if is_streamed(ds):
        print("read from disk batch by batch while training (--stream); not loaded into memory")
    if ds.y is not None:
        counts = np.bincount(ds.y, minlength=ds.num_classes or 0)
        names = ds.classes or [str(i) for i in range(len(counts))]
        print("labels: " + ", ".join(f"{n} ({c})" for n, c in zip(names, counts)))
    else:
        print("labels: none")
    return 0
