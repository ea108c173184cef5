"""`aegan anomaly fit|score|bench`: anomaly detection with an autoencoder trained on normal data."""

from __future__ import annotations

import csv
import dataclasses
import json
from shlex import quote

from ..config import ANOMALY_SCORES, DEFAULT_CONTAMINATION, DEFAULT_SCORE, DataConfig, ModelConfig, TrainConfig
from ..errors import UsageError
from .flags import (Parser, add_flags, command, common, data_flags, from_flags, load_data, out_flags, rows_note,
                    run_folder_flags)


# torch and scikit-learn load with the commands that need them (inside them), so that --help and
# argument errors answer at once

# what the detector starts from when a flag is not given (anomaly.py: default_model, default_train)
MODEL_DEFAULTS = ("defaults: for images a conv denoising autoencoder (--family dae --arch conv) with mask noise 0.5 "
                  "and a code of 32; for a table of D columns an mlp autoencoder with a code of D/4 (2 to 32) and "
                  "hidden layers 2D,D (16-512, 8-256)")
TRAIN_DEFAULTS = ("defaults: 10 epochs for images, 100 for tables; batch size 128; no validation split; the rest as "
                  "for aegan train")


def add_parsers(sub) -> None:
    anomaly = sub.add_parser("anomaly", help="anomaly detection: fit on normal data, score new data, benchmark")
    common(anomaly)
    asub = anomaly.add_subparsers(dest="action", required=True, parser_class=Parser, metavar="ACTION")
    p = command(asub, "fit", "train a detector on normal data (defaults: the benchmark's best setting)", cmd_fit,
                examples=("aegan anomaly fit --data normal.npy --split all --out runs/det",
                          "aegan anomaly fit --data table.csv --score recon+code-knn --contamination 0.01 --out runs/det"))
    run_folder_flags(p)
    data_flags(p)
    p.add_argument("--score", default=DEFAULT_SCORE,
                   help="; ".join(f"{k}: {v[0]}" for k, v in ANOMALY_SCORES.items()) + ". Several joined by '+' are "
                        f"z-scored on the training data and summed (default: {DEFAULT_SCORE})")
    p.add_argument("--contamination", type=float, default=DEFAULT_CONTAMINATION,
                   help="expected fraction of anomalies in the training data, in (0, 0.5]: the threshold is that "
                        f"quantile of the training scores (default: {DEFAULT_CONTAMINATION})")
    p.add_argument("--threshold", type=float, default=None, help="an explicit score threshold instead")
    add_flags(p, ModelConfig, note=MODEL_DEFAULTS)
    add_flags(p, TrainConfig, note=TRAIN_DEFAULTS)

    p = command(asub, "score", "score data with a fitted detector into a CSV (index, [name,] score, flagged)", cmd_score,
                "detector run folder (from aegan anomaly fit)",
                examples=("aegan anomaly score runs/det --data new.npy --out scores.csv      # every row of new.npy",))
    out_flags(p, "scores.csv")
    data_flags(p)

    p = command(asub, "bench", "one-class protocol: per class, train on it, AUROC on the whole test set", cmd_bench,
                examples=("aegan anomaly bench --data digits --classes 0,1 --seeds 1 --epochs 1 --batch-size 32",))
    p.add_argument("--classes", help="comma-separated class indices (default: all)")
    p.add_argument("--seeds", type=int, default=3, help="seeds per class: 0 to N-1 (default 3)")
    p.add_argument("--score", default=None, help="detector score (default: the detector's)")
    p.add_argument("--no-peers", action="store_true",
                   help="leave out the peers (PCA, k-NN on pixels, Isolation Forest, one-class SVM)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("--quiet", action="store_true", help="no per-class lines")
    add_flags(p, DataConfig, skip=("normalize", "image_size", "channels", "label_column", "columns", "drop_columns"))
    add_flags(p, ModelConfig, note=MODEL_DEFAULTS)
    add_flags(p, TrainConfig, skip=("checkpoint_every", "checkpoint_steps", "keep_checkpoints", "tensorboard"),
              note=TRAIN_DEFAULTS)


def cmd_fit(args) -> int:
    from ..anomaly import default_model, default_train, fit_scoring
    dc, ds = load_data(args, split_default="train")
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
    path, data = quote(str(scoring.run.path)), quote(dc.data)
    print("next:")
    print(f"  aegan anomaly score {path} --data {data} --out scores.csv   # or any new data like it")
    print(f"  aegan report {path}        # curves, reconstructions, latent map in one HTML page")
    return 0


def cmd_score(args) -> int:
    from ..anomaly import Scoring
    from ..checkpoint import atomic_write, check_output_file
    scoring = Scoring.load(args.run)
    out = check_output_file(args.out, args.overwrite, (".csv",))
    _, ds = load_data(args, scoring.run.config.data)
    scores = scoring.scores(ds)
    labels = (scores > scoring.threshold).astype(int)

    def write(tmp):
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["index", "name", "score", "flagged"] if ds.names else ["index", "score", "flagged"])
            for i, (s, lab) in enumerate(zip(scores.tolist(), labels.tolist())):
                w.writerow([i, ds.names[i], repr(s), lab] if ds.names else [i, repr(s), lab])
    atomic_write(out, write)
    print(f"wrote {out}: {len(ds)} scores of {rows_note(ds)}, {int(labels.sum())} above the threshold "
          f"{scoring.threshold:.5g} (flagged 1 = anomaly)")
    return 0


def cmd_bench(args) -> int:
    from ..anomaly import default_model, default_train
    from ..anomaly_bench import format_bench, one_class_bench
    classes = None
    if args.classes:
        try:
            classes = [int(c) for c in args.classes.split(",") if c.strip()]
        except ValueError:
            raise UsageError(f"--classes {args.classes!r}: expected class indices, e.g. 0,1,2") from None
    dc = from_flags(args, DataConfig, DataConfig(data="fashion-mnist"))
    # the detector's own defaults unless model or training flags are given
    model = from_flags(args, ModelConfig, default_model("image", ())) if _given(args, ModelConfig) else None
    train = from_flags(args, TrainConfig, default_train("image")) if _given(args, TrainConfig) else None
    result = one_class_bench(dc, classes, args.seeds, model, train, args.score, peers=not args.no_peers,
                             progress=not args.quiet and not args.json)
    print(json.dumps(result, indent=2) if args.json else format_bench(result))
    return 0


def _given(args, cls) -> bool:
    return any(getattr(args, f"{cls.__name__}.{f.name}", None) is not None for f in dataclasses.fields(cls))
