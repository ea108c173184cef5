"""Train the feature network that ships for a dataset and copy it into the package.

    python scripts/train_feature_net.py [--data fashion-mnist] [--epochs 8]

Deterministic on a CPU (seed 0). Writes src/aegan/feature_nets/<data>/config.json,
model.safetensors and info.json (test accuracy, the command, the wall time); the sample
metrics of `aegan evaluate` then use it for runs on that dataset.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import aegan  # noqa: E402
from aegan.runs.classifier import SHIPPED  # noqa: E402
from aegan.runs.registry import fit as fit_classifier  # noqa: E402
from aegan.config import ClassifierConfig, DataConfig, RunConfig, TrainConfig  # noqa: E402
from aegan.data import load_dataset  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="fashion-mnist")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--min-accuracy", type=float, default=0.92, help="refuse to ship a weaker network")
    args = ap.parse_args()
    train, test = load_dataset(args.data, "train"), load_dataset(args.data, "test")
    cfg = RunConfig(task="classifier", data=DataConfig(data=args.data), model=ClassifierConfig(),
                    train=TrainConfig(epochs=args.epochs, batch_size=128, lr=2e-3, val_split=0.0, seed=0))
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        run = fit_classifier(train, cfg, Path(tmp) / "run")
        seconds = time.perf_counter() - t0
        acc = run.accuracy(test, test.y)
        print(f"{args.data}: test accuracy {acc:.4f} after {args.epochs} epochs ({seconds / 60:.1f} min)")
        if acc < args.min_accuracy:
            print(f"below --min-accuracy {args.min_accuracy}; not shipped", file=sys.stderr)
            return 1
        dest = SHIPPED / args.data
        dest.mkdir(parents=True, exist_ok=True)
        for name in ("config.json", "model.safetensors"):
            shutil.copy(run.path / name, dest / name)
    info = {"dataset": args.data, "test_accuracy": round(acc, 4), "test_examples": len(test),
            "epochs": args.epochs, "train_minutes": round(seconds / 60, 1), "aegan": aegan.__version__,
            "command": f"python scripts/train_feature_net.py --data {args.data} --epochs {args.epochs}"}
    (dest / "info.json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"wrote {dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
