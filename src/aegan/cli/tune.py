"""`aegan tune MODEL ... --trials N --out STUDY` and `aegan tune --resume STUDY`: search the
settings of any `aegan train` command with Optuna (tuning/), one progress line per trial."""

from __future__ import annotations

import argparse
import math
import uuid
from pathlib import Path
from shlex import quote

from ..errors import UsageError
from ..runs.tasks import TASKS
from .flags import Parser, command, common, examples_text, out_flags
from .train import run_config, run_flags, given_settings

TUNED = ("ae", "dae", "sparse", "vae", "vqvae", "gan", "codec")
CHECKS, MAX_CHECKS = 4, 100  # validation checks per epoch of a trial (pruning inside an epoch)
EXAMPLES = {
    "tune": ("aegan tune ae --data digits --epochs 3 --trials 20 --out studies/ae",
             "aegan tune --resume studies/ae                 # after Ctrl-C or kill; or a second worker",
             "aegan train --config studies/ae/best.json --out runs/best",
             "aegan report studies/ae                        # history, importances, the best trial"),
}


def add_parsers(sub) -> None:
    tune = sub.add_parser("tune", help=f"search a model's settings with Optuna: {', '.join(TUNED)}",
                          description="Search the settings of an 'aegan train' command with Optuna (TPE, pruning of "
                                      "poor trials from their per-epoch validation numbers). Flags given after the "
                                      "model stay fixed in every trial; the rest of its search space is searched.",
                          epilog=examples_text(EXAMPLES["tune"]), formatter_class=argparse.RawDescriptionHelpFormatter)
    tune.add_argument("--resume", metavar="STUDY", help="continue a study (after Ctrl-C, kill -9 or a crash: a trial "
                                                        "cut off is run again), or add a worker to a running one")
    study_flags(tune, resume=True)
    common(tune)
    tune.set_defaults(fn=cmd_resume)
    fam = tune.add_subparsers(dest="family", required=False, parser_class=Parser, metavar="MODEL")
    for task in TASKS.values():
        for name, help in task.commands.items():
            if name not in TUNED:
                continue
            p = command(fam, name, f"tune {help}", cmd_tune, examples=(
                f"aegan tune {name} --data digits --epochs 2 --trials 20 --out studies/{name}",))
            out_flags(p, "the study folder to create (study.json, journal.log, trials/, best.json)")
            study_flags(p)
            g = p.add_argument_group("search")
            g.add_argument("--space", metavar="FILE", help="JSON or YAML file of ranges that replace or add to the "
                                                           'declared ones: {"lr": {"low": 1e-4, "high": 1e-2, "log": '
                                                           'true}, "batch_size": {"choices": [32, 64]}, "code_dim": '
                                                           "null} (null: keep the default)")
            g.add_argument("--metric", help="the recorded number to optimise (default: the validation loss without "
                                            "penalties; the negative ELBO for vae; rate + lambda x distortion for "
                                            "codec; FCD to the test split for image GANs with a feature network); "
                                            "its direction follows from it")
            g.add_argument("--sampler", choices=("tpe", "random"), default="tpe", help="TPE (default) or random search")
            g.add_argument("--pruner", choices=("median", "halving", "hyperband", "none"), default="median",
                           help="stop poor trials early from their values at each check: median (Optuna's median "
                                "rule, after 5 trials; default), halving (successive halving: the best quarter goes "
                                "on), hyperband, none")
            if name != "gan":
                g.add_argument("--checks-per-epoch", type=int, metavar="K", default=CHECKS,
                               help="validate K times per epoch of a trial, so that the pruner can stop a poor trial "
                                    f"inside an epoch (default: {CHECKS}; 1: at epoch ends only; training is the same "
                                    "either way)")
            g.add_argument("--storage", metavar="URL", help="keep the study in a database (sqlite:///study.db, "
                                                            "postgresql://user:pass@host/db) so processes on several "
                                                            "machines share it (default: STUDY/journal.log)")
            g.add_argument("--study-name", help="the study's name in --storage (default: the folder's name and a "
                                                "random suffix)")
            if name == "gan":
                g.add_argument("--features", metavar="RUN", help="the feature network of the FCD (default: the one "
                                                                 "shipped for the data)")
            run_flags(p, task, name)


def study_flags(p: argparse.ArgumentParser, resume: bool = False) -> None:
    g = p.add_argument_group("with --resume" if resume else "study")
    default = "the number the study was started with" if resume else "20"
    g.add_argument("--trials", type=int, metavar="N", default=None,
                   help=f"finished trials wanted in the study, counting every process (default: {default})")
    g.add_argument("--timeout", type=float, metavar="S", help="stop starting trials after S seconds")
    g.add_argument("--quiet", action="store_true", help="no line per trial")
    if resume:
        g.add_argument("--data", dest="resume_data", metavar="PATH", help="where the study's data is now, if it moved")


def _check_counts(args) -> None:
    checks = getattr(args, "checks_per_epoch", 1)
    if not 1 <= checks <= MAX_CHECKS:
        raise UsageError(f"--checks-per-epoch {checks} must be between 1 and {MAX_CHECKS}")
    if args.trials is not None and args.trials < 1:
        raise UsageError(f"--trials {args.trials} must be at least 1")
    if args.timeout is not None and not (args.timeout > 0 and math.isfinite(args.timeout)):
        raise UsageError(f"--timeout {args.timeout} must be a positive number of seconds")


def cmd_tune(args) -> int:
    from ..space import read_overrides
    from ..tuning import objectives, study as st
    from ..tuning.spaces import space_for
    _check_counts(args)
    overrides = read_overrides(args.space) if args.space else None  # a bad file: refused before any data is read
    if args.storage and "://" not in args.storage:
        raise UsageError(f"--storage {args.storage} is not a database URL; expected e.g. sqlite:///study.db or "
                         "postgresql://user:password@host/dbname")
    st.check_folder(args.out, args.overwrite)  # before reading any data
    base, ds = run_config(args)
    base = _absolute_data(base)
    given = given_settings(args, TASKS[args.task])
    where = f"--space {args.space}" if args.space else "search space"
    space, sections = space_for(args.family, base, given, overrides, where, input_size=math.prod(ds.shape))
    if not space:
        raise UsageError("nothing left to search: every setting of the search space is fixed on the command line; "
                         "leave some free or give --space FILE")
    extras, score = _gan_extras(args, ds) if args.family == "gan" else ((), None)
    has_val = base.train.val_split > 0 and base.task != "gan"
    objective = objectives.objective(args.family, args.metric, has_val, extras)
    name = args.study_name or f"{Path(args.out).resolve().name}-{uuid.uuid4().hex[:8]}"
    spec = st.new_spec(args.family, base, space, sections, objective, trials=args.trials or 20, sampler=args.sampler,
                       pruner=args.pruner, checks=getattr(args, "checks_per_epoch", 1), seed=base.train.seed,
                       study_name=name, storage=args.storage,
                       features=getattr(args, "features", None))
    study = st.create(spec, args.out, args.overwrite)
    folder = Path(args.out)
    if not args.quiet:
        print(f"study {folder}: {spec.trials} trials of 'aegan train {args.family}', {spec.sampler} sampler, "
              f"{spec.pruner} pruner; {objective.direction} {objective.metric} ({objective.what})")
        print("searching " + ", ".join(f"{k} {v.describe()}" for k, v in space.items()))
    return _run(study, spec, folder, ds, args, score)


def cmd_resume(args) -> int:
    from ..data import load_dataset
    from ..tuning import study as st
    if not args.resume:
        raise UsageError(f"aegan tune needs a model ({', '.join(TUNED)}) or --resume STUDY")
    _check_counts(args)
    folder = Path(args.resume)
    spec = st.read_spec(folder)
    study = st.load(spec, folder)
    if args.resume_data:
        spec.config["data"] = {**spec.config["data"], "data": str(Path(args.resume_data).expanduser().resolve())}
    if args.trials is not None or args.resume_data:
        spec.trials = args.trials or spec.trials
        st.write_spec(spec, folder)
    base = spec.run_config({})
    ds = load_dataset(base.data, base.split)
    score = _fcd_score(spec.features, base.data) if spec.metric == "fcd" else None
    requeued = st.requeue_dead(study)
    if not args.quiet:
        done = len(st.finished(study))
        print(f"study {folder}: {done} of {spec.trials} trials finished" +
              (f"; trial {', '.join(map(str, requeued))} was cut off and runs again" if requeued else ""))
    return _run(study, spec, folder, ds, args, score)


def _absolute_data(cfg):
    """A study's data path made absolute, so that --resume and best.json work from any folder."""
    import dataclasses

    from ..data import DATASETS
    from ..data.location import location_of
    loc = location_of(cfg.data, cfg.data.data in DATASETS)
    return cfg if loc is None else dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, data=loc["path"]))


def _gan_extras(args, ds) -> tuple[tuple[str, ...], object]:
    """What a GAN's records offer as objectives here, and the FCD scorer when there is one."""
    from ..tuning.objectives import MODE_RECORD
    if "modes" in ds.extra:
        return MODE_RECORD, None
    if ds.kind != "image":
        return (), None
    from ..config import DataConfig
    from .flags import from_flags
    dc = from_flags(args, DataConfig)
    try:
        score = _fcd_score(args.features, dc)
    except UsageError:
        if args.features:  # given and unusable: say so
            raise
        return (), None
    return ("fcd",), score


def _fcd_score(features, data_config):
    from ..evaluation import feature_network
    from ..tuning.objectives import FCDScore
    return FCDScore(data_config, feature_network(data_config.data, features))


def _run(study, spec, folder: Path, ds, args, score) -> int:
    from ..tuning import study as st
    from ..tuning.report import print_top, trial_line
    quiet = args.quiet

    def on_trial(study, frozen) -> None:
        if not quiet:
            print(trial_line(study, frozen, spec), flush=True)

    from ..train import Interrupted
    try:
        st.run_trials(study, spec, folder, ds, trials=spec.trials, timeout=args.timeout, on_trial=on_trial,
                      score=score)
    except st.StudyInterrupted as e:
        raise Interrupted(f"{e}; the trial that was cut off runs again with: aegan tune --resume "
                          f"{quote(str(folder))}", e.exit_code) from None
    best = st.write_best(study, folder)
    print_top(study, spec)
    if best is None:
        print("no trial finished with a value; see the lines above for why (a study stops after three failures "
              "in a row before any trial finishes: the fixed settings are then the likely cause)")
        return 1
    print(f"best: trial {best['tuned']['trial']}, {spec.metric} {best['tuned']['value']:.5g}; its settings: "
          f"{folder / st.BEST}")
    print("next:")
    print(f"  aegan train --config {quote(str(folder / st.BEST))} --out runs/best   # train the best settings")
    print(f"  aegan report {quote(str(folder))}        # optimisation history, parameter importances, best trial")
    return 0
