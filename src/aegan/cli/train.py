"""`aegan train MODEL` and `aegan train --resume RUN`: one parser per command of every kind of
run in the registry, one training command for them all."""

from __future__ import annotations

from pathlib import Path

from .. import distributed
from ..config import DataConfig, RunConfig, TrainConfig, add_flags, apply_preset, from_flags, validate_train
from ..data import load_dataset
from ..errors import UsageError
from ..runs.base import RunBase
from ..runs.registry import TASKS, fit, read_run_config
from .flags import Parser, command, common, data_flags, load_data, run_folder_flags

NORMALIZE_CHOICES = ("auto", "unit", "symmetric", "standard", "none")


def add_parsers(sub) -> None:
    commands = [c for t in TASKS.values() for c in t.commands]
    train = sub.add_parser("train", help=f"train a model into a run folder: {', '.join(commands)}")
    train.add_argument("--resume", metavar="RUN", help="continue a stopped run from its newest checkpoint")
    train.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")
    common(train)
    train.set_defaults(fn=cmd_resume)
    fam = train.add_subparsers(dest="family", required=False, parser_class=Parser, metavar="MODEL")
    for task in TASKS.values():
        for name, help in task.commands.items():
            p = command(fam, name, help, cmd_train)
            p.set_defaults(task=task.name)
            run_folder_flags(p)
            if task.presets:
                p.add_argument("--preset", choices=list(task.presets),
                               help="classic: the article's network (Dense 128 ReLU)")
            data_flags(p)
            if task.normalize:
                p.add_argument("--normalize", dest="DataConfig.normalize", default=None, choices=NORMALIZE_CHOICES,
                               help="images: unit [0,1] or symmetric [-1,1]; tables: standard or none "
                                    "(default: auto)")
            add_flags(p, task.model_config, skip=task.skip_model)
            add_flags(p, TrainConfig, skip=task.skip_train)


def cmd_train(args) -> int:
    task = TASKS[args.task]
    preset = getattr(args, "preset", None)
    model, train = apply_preset(preset, task.model_for(args.family), task.train_defaults, task.presets)
    model = from_flags(args, task.model_config, model)
    train = from_flags(args, TrainConfig, train)
    dc = from_flags(args, DataConfig)
    validate_train(train)  # cheap checks before reading any data
    if task.check_model is not None:
        task.check_model(model)
    _, ds = load_data(args, dc, split_default="train")
    cfg = RunConfig(task=task.name, data=dc, model=model, train=train, preset=preset, split=args.split or "train")
    return trained(fit(ds, cfg, args.out, overwrite=args.overwrite, progress=not args.quiet))


def cmd_resume(args) -> int:
    """aegan train --resume RUN: the run's own config and data, from its newest checkpoint."""
    if not args.resume:
        raise UsageError(f"aegan train needs a model ({', '.join(c for t in TASKS.values() for c in t.commands)}) "
                         "or --resume RUN")
    path = Path(args.resume)
    cfg = read_run_config(path)
    ds = load_dataset(cfg.data, cfg.split)
    return trained(fit(ds, cfg, path, progress=not args.quiet, resume=True))


def trained(run: RunBase) -> int:
    """What is printed after training: the last epoch, the folder, the commands to run next."""
    print(run.summary())
    print(f"run folder: {run.path}")
    if distributed.active():
        print(f"data-parallel over {distributed.size()} processes (torch.distributed, "
              f"{distributed.dist.get_backend()}): the weights ended identical on every process")
    print("next:")
    for line in run.next_commands():
        print(f"  {line}")
    return 0
