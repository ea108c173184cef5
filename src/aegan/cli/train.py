"""`aegan train MODEL` and `aegan train --resume RUN`: one parser per command of every kind of
run in the registry, one training command for them all."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from ..config import DataConfig, RunConfig, TrainConfig, apply_preset
from ..config_checks import validate_train
from ..errors import UsageError
from ..runs.tasks import TASKS
from .flags import (Parser, add_flags, command, common, data_flags, examples_text, from_flags, load_data,
                    run_folder_flags)

# torch and scikit-learn load with the commands that need them (inside them), so that --help and
# argument errors answer at once

NORMALIZE_CHOICES = ("auto", "unit", "symmetric", "standard", "none")
# what `train --resume` may change: TrainConfig fields that do not change what has been trained so far
RESUME_SETTINGS = {
    "--epochs": "train to this many epochs in all (more than the run's own: extend it; a linear learning-rate "
                "decay is recomputed to end at the new last step, so the rate steps up to where the longer "
                "schedule stands)",
    "--patience": "early stopping: a new patience (0: off)",
    "--checkpoint-every": "write a checkpoint every N epochs",
    "--checkpoint-steps": "also write one every N batches (0: only at epoch ends)",
    "--keep-checkpoints": "how many of the newest checkpoints to keep",
}


EXAMPLES = {
    "train": ("aegan train ae --data digits --code-dim 8 --out runs/ae",
              "aegan train --resume runs/ae                 # after Ctrl-C, or with --epochs 20 to extend",
              "aegan train --config study/best.json --out runs/best   # the settings of a file (aegan tune's best)",
              "aegan train gan --help                        # every model's own flags"),
    "ae": ("aegan train ae --data digits --arch conv --code-dim 8 --epochs 5 --out runs/ae",
           "aegan train ae --data table.csv --label-column class --out runs/table-ae",
           "aegan train ae --preset classic --data fashion-mnist --out runs/classic"),
    "dae": ("aegan train dae --data digits --noise mask --noise-level 0.5 --out runs/dae",
            "aegan train dae --data table.csv --noise-level 0.1 --out runs/table-dae"),
    "sparse": ("aegan train sparse --data digits --sparsity 1e-2 --out runs/sparse",),
    "vae": ("aegan train vae --data digits --code-dim 2 --epochs 20 --out runs/vae",
            "aegan train vae --data fashion-mnist --arch conv --beta 4 --out runs/beta-vae"),
    "gan": ("aegan train gan --data ring --epochs 5 --out runs/ring",
            "aegan train gan --data fashion-mnist --loss hinge --epochs 5 --out runs/hinge",
            "aegan train gan --data digits --conditional --epochs 20 --out runs/cgan"),
    "classifier": ("aegan train classifier --data fashion-mnist --epochs 5 --out runs/features",
                   "aegan evaluate runs/gan --features runs/features"),
}


def add_parsers(sub) -> None:
    commands = [c for t in TASKS.values() for c in t.commands]
    train = sub.add_parser("train", help=f"train a model into a run folder: {', '.join(commands)}",
                           epilog=examples_text(EXAMPLES["train"]), formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_argument("--resume", metavar="RUN", help="continue a stopped run from its newest checkpoint, or "
                                                       "extend a finished one with --epochs")
    train.add_argument("--config", metavar="FILE", help="train a new run with the settings of FILE: aegan tune's "
                                                         "STUDY/best.json, or any run's RUN/config.json (with --out)")
    train.add_argument("--out", dest="config_out", metavar="RUN", help="with --config: the run folder to create")
    train.add_argument("--overwrite", dest="config_overwrite", action="store_true",
                       help="with --config: replace aegan's files in --out")
    train.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")
    resume = train.add_argument_group("with --resume or --config (every other setting stays the file's own: model, "
                                      "data, batch size, learning rate, seed)")
    resume.add_argument("--data", dest="resume_data", metavar="PATH",
                        help="where the run's data is now, if it was moved")
    for flag, what in RESUME_SETTINGS.items():
        resume.add_argument(flag, dest=f"resume_{_field(flag)}", type=int, metavar="N", help=what)
    common(train)
    train.set_defaults(fn=cmd_resume)
    fam = train.add_subparsers(dest="family", required=False, parser_class=Parser, metavar="MODEL")
    for task in TASKS.values():
        for name, help in task.commands.items():
            p = command(fam, name, help, cmd_train, examples=EXAMPLES.get(name, ()))
            run_folder_flags(p)
            run_flags(p, task, name)


def run_flags(p: argparse.ArgumentParser, task, name: str) -> None:
    """The settings of a run of `aegan train NAME`: preset, data, model and training flags (aegan
    tune offers the same ones)."""
    p.set_defaults(task=task.name, family=name)
    if task.presets:
        p.add_argument("--preset", choices=list(task.presets), help="classic: the article's network (Dense 128 ReLU)")
    data_flags(p)
    if task.normalize:
        p.add_argument("--normalize", dest="DataConfig.normalize", default=None, choices=NORMALIZE_CHOICES,
                       help="images: unit [0,1] or symmetric [-1,1]; tables: standard or none (default: auto)")
    add_flags(p, task.model_config, skip=task.skip_model + task.skip_model_for(name))
    by_data = {}
    for data, changes in task.data_defaults.items():
        for k, v in changes.items():
            by_data.setdefault(k, []).append(f"{v} with --data {data}")
    add_flags(p, TrainConfig, skip=task.skip_train, base=task.defaults(name),
              more={k: "; ".join(v) for k, v in by_data.items()})


def given_settings(args, task) -> set[str]:
    """The model and training fields given on the command line or by the preset."""
    given = {f.name for cls in (task.model_config, TrainConfig) for f in dataclasses.fields(cls)
             if getattr(args, f"{cls.__name__}.{f.name}", None) is not None}
    preset = task.presets.get(getattr(args, "preset", None) or "", {})
    return given | set(preset.get("model", {})) | set(preset.get("train", {}))


def run_config(args) -> tuple[RunConfig, object]:
    """(the RunConfig the flags describe, the dataset they name), checked before any training."""
    task = TASKS[args.task]
    preset = getattr(args, "preset", None)
    defaults = task.defaults(args.family, getattr(args, "DataConfig.data", None))
    model, train = apply_preset(preset, task.model_for(args.family), defaults, task.presets)
    model = from_flags(args, task.model_config, model)
    train = from_flags(args, TrainConfig, train)
    dc = dataclasses.replace(from_flags(args, DataConfig), **task.data_for(args.family))
    validate_train(train)  # cheap checks before reading any data
    if task.check_model is not None:
        task.check_model(model)
    _, ds = load_data(args, dc, split_default="train")
    return RunConfig(task=task.name, data=dc, model=model, train=train, preset=preset,
                     split=args.split or "train"), ds


def cmd_train(args) -> int:
    misplaced = [f for f in ("--data", *RESUME_SETTINGS) if getattr(args, f"resume_{_field(f)}", None)]
    if misplaced:
        raise UsageError(f"{misplaced[0]} before '{args.family}' applies to --resume; for a new run put it after "
                         f"the model: aegan train {args.family} {misplaced[0]} ...")
    from ..runs.registry import fit
    cfg, ds = run_config(args)
    return trained(fit(ds, cfg, args.out, overwrite=args.overwrite, progress=not args.quiet))


def check_resume_argv(argv: list[str], parser) -> None:
    """`aegan train --resume RUN` takes only the flags that can change safely; any other is refused
    with the list of those that apply."""
    if argv[:1] != ["train"] or not {"--resume", "--config"} & {w.split("=")[0] for w in argv}:
        return
    allowed = {"--resume", "--data", "--quiet", "--debug", "-h", "--help", *RESUME_SETTINGS}
    if "--resume" not in argv:
        allowed = allowed - {"--resume"} | {"--config", "--out", "--overwrite"}
    bad = next((w.split("=")[0] for w in argv[1:] if w.startswith("-") and w.split("=")[0] not in allowed), None)
    if bad and "--resume" not in argv:
        parser.error(f"{bad} does not go with --config: the file holds the model and training settings; with --config "
                     f"only {', '.join(sorted(allowed - {'-h', '--help', '--config'}))} apply (edit the file for "
                     "the rest)")
    if bad:
        parser.error(f"{bad} cannot change when resuming: a run keeps its model, data settings, batch size, learning "
                     f"rate and seed; with --resume only {', '.join(sorted(allowed - {'-h', '--help', '--resume'}))} "
                     "apply")


def _field(flag: str) -> str:
    """--checkpoint-every -> checkpoint_every (the TrainConfig field; its parsed value is args.resume_<field>)."""
    return flag[2:].replace("-", "_")


def _resume_changes(args) -> dict:
    """The TrainConfig fields given with --resume."""
    given = {_field(flag): getattr(args, f"resume_{_field(flag)}", None) for flag in RESUME_SETTINGS}
    return {k: v for k, v in given.items() if v is not None}


def cmd_resume(args) -> int:
    """aegan train --resume RUN: the run's own config and data, from its newest checkpoint; with
    --epochs, --patience or a checkpoint cadence, those settings changed first."""
    if args.config:
        return cmd_from_config(args)
    if not args.resume:
        raise UsageError(f"aegan train needs a model ({', '.join(c for t in TASKS.values() for c in t.commands)}), "
                         "--resume RUN or --config FILE")
    from .. import checkpoint
    from ..data import load_dataset
    from ..data.location import located
    from ..runs.registry import fit, read_run_config
    path = Path(args.resume)
    cfg = read_run_config(path)
    found = checkpoint.checkpoints(path)
    done = checkpoint.load_state(found[-1] / checkpoint.STATE)["loop"] if found else None
    changes = _resume_changes(args)
    train = dataclasses.replace(cfg.train, **changes)
    validate_train(train)
    if done is not None:
        completed = done["epoch"] - 1  # whole epochs behind the checkpoint
        if train.epochs < completed:
            raise UsageError(f"--epochs {train.epochs}: {path} has already trained {completed} epochs; "
                             f"give --epochs {completed} or more")
        # state.pt in the run folder: the training ended, phases after the epochs included (a codec's on
        # rounded latents, cut off by Ctrl-C, runs again from here)
        if done["epoch"] > train.epochs and (path / checkpoint.STATE).is_file():
            print(f"{path} has already finished its {completed} epochs; nothing to train "
                  f"(give --epochs N with N > {completed} to train further)")
            return 0
        if train.epochs != cfg.train.epochs and not args.quiet:
            print(f"extending {path} from {cfg.train.epochs} to {train.epochs} epochs")
    data = located(cfg.data, cfg.data_info, args.resume_data, str(path))
    cfg = dataclasses.replace(cfg, train=train, data=data)
    ds = load_dataset(data, cfg.split)
    return trained(fit(ds, cfg, path, progress=not args.quiet, resume=True))


def cmd_from_config(args) -> int:
    """aegan train --config FILE --out RUN: a new run with the settings a file holds (aegan tune's
    best.json, or a run's config.json); --data, --epochs and the checkpoint flags may change."""
    if args.resume:
        raise UsageError("--config starts a new run and --resume continues one; give one of them")
    if not args.config_out:
        raise UsageError(f"--config {args.config} needs --out RUN, the run folder to create")
    from ..data import load_dataset
    from ..runs.registry import fit, task_of
    path = Path(args.config)
    if not path.is_file():
        raise UsageError(f"--config {path}: no such file; expected a JSON file such as STUDY/best.json (aegan tune) "
                         "or RUN/config.json")
    try:
        raw = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise UsageError(f"--config {path}: not valid JSON ({e})") from None
    if not isinstance(raw, dict) or not {"model", "train", "data"} <= set(raw):
        raise UsageError(f"--config {path}: expected an object with model, train and data settings, as "
                         "STUDY/best.json or RUN/config.json holds")
    cfg = RunConfig.from_dict(raw, str(path), task_of(raw, str(path)).model_config)
    train = dataclasses.replace(cfg.train, **_resume_changes(args))
    validate_train(train)
    task = task_of(cfg)
    if task.check_model is not None:
        task.check_model(cfg.model)
    data = dataclasses.replace(cfg.data, data=args.resume_data) if args.resume_data else cfg.data
    cfg = dataclasses.replace(cfg, train=train, data=data, data_info={}, aegan_version="")
    ds = load_dataset(data, cfg.split)
    return trained(fit(ds, cfg, args.config_out, overwrite=args.config_overwrite, progress=not args.quiet))


def trained(run) -> int:
    """What is printed after training: the last epoch, the folder, the commands to run next."""
    from .. import distributed
    print(run.summary())
    print(f"run folder: {run.path}")
    if distributed.active():
        print(f"data-parallel over {distributed.size()} processes (torch.distributed, "
              f"{distributed.dist.get_backend()}): the weights ended identical on every process")
    print("next:")
    for line in run.next_commands():
        print(f"  {line}")
    return 0
