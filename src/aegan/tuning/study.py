"""`aegan tune`'s study: an Optuna study whose trials are ordinary run folders in STUDY/trials/.

STUDY/study.json says what is searched (the fixed settings, the space, the objective, the
storage); the study itself lives in Optuna's journal file STUDY/journal.log, or in the database
of --storage URL, where several processes on one machine or many work on it together. A trial
records the host and process that runs it: when that process is gone (kill -9, a crash), the
trial is marked failed and its parameters queued again, so `aegan tune --resume` loses and
repeats no finished trial. With a database, Optuna's heartbeat does the same for processes on
other machines."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Callable

from .. import checkpoint
from ..config import RunConfig
from ..errors import AeganError, RunError, UsageError
from ..runs.tasks import TASKS
from ..space import from_dict, to_dict

STUDY_FILE, JOURNAL, TRIALS, BEST = "study.json", "journal.log", "trials", "best.json"
FORMAT, VERSION = "aegan-study", 1
HEARTBEAT_S, GRACE_S = 10, 60  # database storage: a trial silent for GRACE_S is failed and retried
PRUNERS = ("median", "halving", "hyperband", "none")
SAMPLERS = ("tpe", "random")


@dataclasses.dataclass
class StudySpec:
    """What study.json holds."""

    command: str  # aegan train COMMAND
    config: dict  # the RunConfig every trial starts from (fixed settings and defaults)
    space: dict  # field -> range (space.py)
    sections: dict  # field -> "model" or "train"
    metric: str
    direction: str
    objective: str  # the objective in words
    trials: int  # finished (complete or pruned) trials wanted
    sampler: str = "tpe"
    pruner: str = "median"
    checks: int = 1  # times per epoch a trial's objective is reported to the pruner (the last at the epoch's end)
    seed: int = 0
    study_name: str = ""
    storage: str | None = None  # a database URL; None: STUDY/journal.log
    features: str | None = None  # a GAN's feature network (--features), else the one shipped
    aegan_version: str = ""
    format: str = FORMAT
    version: int = VERSION

    @property
    def task(self):
        return TASKS[self.config["task"]]

    def run_config(self, params: dict) -> RunConfig:
        """The RunConfig of a trial with these sampled values."""
        cfg = RunConfig.from_dict(self.config, STUDY_FILE, self.task.model_config)
        model = {k: v for k, v in params.items() if self.sections[k] == "model"}
        train = {k: v for k, v in params.items() if self.sections[k] == "train"}
        return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, **model),
                                   train=dataclasses.replace(cfg.train, **train))

    def ranges(self) -> dict:
        return from_dict(self.space)


def read_spec(folder: str | Path) -> StudySpec:
    """A study folder's study.json; one line when the folder is not a study."""
    folder = Path(folder)
    path = folder / STUDY_FILE
    if not path.is_file():
        what = "does not exist" if not folder.exists() else f"is not a study folder (no {STUDY_FILE})"
        raise UsageError(f"--resume {folder} {what}; a study folder is made by 'aegan tune MODEL --data ... --out STUDY'")
    try:
        raw = json.loads(path.read_text())
        if raw.get("format") != FORMAT:
            raise ValueError("not an aegan study")
        spec = StudySpec(**raw)
    except (ValueError, TypeError, AttributeError) as e:
        raise RunError(f"{path}: not a study file written by aegan tune ({e})") from None
    if spec.version > VERSION:
        raise RunError(f"{path}: study format {spec.version} is newer than this aegan understands; upgrade aegan")
    return spec


def write_spec(spec: StudySpec, folder: Path) -> None:
    checkpoint.write_text(Path(folder) / STUDY_FILE, json.dumps(dataclasses.asdict(spec), indent=2, sort_keys=True))


def storage(spec: StudySpec, folder: Path):
    """The Optuna storage of a study: its journal file, or the database at spec.storage."""
    quiet_optuna()
    if spec.storage is None:
        from optuna.storages.journal import JournalFileBackend, JournalStorage
        return JournalStorage(JournalFileBackend(str(folder / JOURNAL)))
    return connect(spec.storage)


def quiet_optuna() -> None:
    """Optuna's own log lines off: aegan tune prints one line per trial."""
    import optuna
    optuna.logging.set_verbosity(optuna.logging.ERROR)


def connect(url: str):
    """A database storage, checked to answer now (one line when it does not)."""
    import optuna
    quiet_optuna()
    import sqlalchemy.exc
    shown = _hide_password(url)
    import warnings
    try:
        with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna; they are what we need
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3),
                engine_kwargs={"pool_pre_ping": True})
    except sqlalchemy.exc.ArgumentError:
        raise UsageError(f"--storage {shown} is not a database URL; expected e.g. sqlite:///study.db or "
                         "postgresql://user:password@host/dbname") from None
    except ImportError as e:
        missing = getattr(e.__cause__, "name", None) or str(e)
        raise UsageError(f"--storage {shown}: its database driver is not installed ({missing}); for PostgreSQL: "
                         "pip install 'aegan[postgres]'") from None
    except (sqlalchemy.exc.SQLAlchemyError, OSError) as e:
        first = str(getattr(e, "orig", e) or e).strip().splitlines()[0]
        raise UsageError(f"--storage {shown}: cannot reach the database ({first})") from None


def _hide_password(url: str) -> str:
    if "://" in url and "@" in url.split("://", 1)[1]:
        scheme, rest = url.split("://", 1)
        cred, host = rest.rsplit("@", 1)
        return f"{scheme}://{cred.split(':')[0]}:***@{host}" if ":" in cred else url
    return url


def check_folder(folder: str | Path, overwrite: bool) -> bool:
    """Refuse an --out that is a file, or a folder with files in it unless `overwrite`; whether
    it holds files (to be replaced)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--out {folder} is a file; expected a folder for the study")
    if folder.is_dir() and any(folder.iterdir()):
        if not overwrite:
            raise UsageError(f"--out {folder} already holds files; pass --overwrite to replace its study, continue "
                             f"it with 'aegan tune --resume {folder}', or choose another folder")
        return True
    return False


def create(spec: StudySpec, folder: str | Path, overwrite: bool):
    """A new study folder and Optuna study; nothing is left behind when creating it fails."""
    import optuna
    folder = Path(folder)
    if check_folder(folder, overwrite):
        for name in (STUDY_FILE, JOURNAL, BEST, "report.html", "history.png", "importance.png"):
            (folder / name).unlink(missing_ok=True)
        shutil.rmtree(folder / TRIALS, ignore_errors=True)
    db = connect(spec.storage) if spec.storage else None  # unreachable: refused before any file is made
    made = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        st = db if db is not None else storage(spec, folder)
        try:
            study = optuna.create_study(study_name=spec.study_name, storage=st, direction=spec.direction)
        except optuna.exceptions.DuplicatedStudyError:
            raise UsageError(f"--storage {_hide_password(spec.storage)} already holds a study named "
                             f"{spec.study_name!r}; give another --study-name") from None
        study.set_user_attr("aegan", dataclasses.asdict(spec))
        write_spec(spec, folder)
    except BaseException:
        if made:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            (folder / JOURNAL).unlink(missing_ok=True)
        raise
    return study


def load(spec: StudySpec, folder: str | Path):
    import optuna
    try:
        return optuna.load_study(study_name=spec.study_name, storage=storage(spec, Path(folder)))
    except KeyError:
        where = _hide_password(spec.storage) if spec.storage else str(Path(folder) / JOURNAL)
        raise RunError(f"{where} holds no study named {spec.study_name!r} (the one {Path(folder) / STUDY_FILE} "
                       "names); was the database emptied?") from None


def finished(study) -> list:
    from optuna.trial import TrialState
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def requeue_dead(study) -> list[int]:
    """Trials left running by a process of this machine that is gone: marked failed, their
    parameters queued again. Returns their numbers."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState
    host, done = socket.gethostname(), []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        pid = t.user_attrs.get("pid")
        if t.user_attrs.get("host") != host or not isinstance(pid, int) or _alive(pid):
            continue
        try:
            study.tell(t.number, state=TrialState.FAIL)
        except (RuntimeError, ValueError, UpdateFinishedTrialError):
            continue  # another process got there first
        retry(study, t)
        done.append(t.number)
    return done


def retry(study, trial) -> None:
    """Queue a trial's parameters again (it was cut off)."""
    study.enqueue_trial(dict(trial.params), user_attrs={"retry_of": trial.user_attrs.get("retry_of", trial.number)})


def make_sampler(spec: StudySpec, salt: int = 0):
    """TPE or random search; `salt` keeps a resumed or second process from replaying the first
    one's random draws."""
    import optuna
    seed = (spec.seed + 7919 * salt) % 2**32  # numpy takes seeds below 2**32
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def make_pruner(spec: StudySpec):
    """The pruner; its steps are the checks (spec.checks per epoch), its resource one check."""
    import optuna
    steps = spec.config["train"]["epochs"] * spec.checks
    return {"median": lambda: optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0),
            "halving": lambda: optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=4),
            "hyperband": lambda: optuna.pruners.HyperbandPruner(min_resource=1, max_resource=steps,
                                                                reduction_factor=3),
            "none": lambda: optuna.pruners.NopPruner()}[spec.pruner]()


class StudyInterrupted(Exception):
    """Ctrl-C or SIGTERM inside a trial: not one of the errors a trial may fail with (AeganError),
    so that Optuna marks the trial failed and the whole study stops."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


class Trial:
    """One trial as a run: its folder, sampled configuration and per-epoch objective values."""

    def __init__(self, spec: StudySpec, folder: Path, ds, score=None):
        self.spec, self.folder, self.ds, self.score = spec, folder, ds, score

    def __call__(self, trial) -> float:
        import optuna

        from ..config_checks import validate_train
        from ..runs.registry import fit
        from ..train import Interrupted
        spec = self.spec
        trial.set_user_attr("host", socket.gethostname())
        trial.set_user_attr("pid", os.getpid())
        rel = f"{TRIALS}/{trial.number:04d}"
        trial.set_user_attr("folder", rel)
        params = {name: r.suggest(trial, name) for name, r in spec.ranges().items()}
        cfg = spec.run_config(params)
        trial.set_user_attr("config", json.loads(cfg.to_json()))
        values: list[float] = []
        t0 = time.perf_counter()

        worst = math.inf if spec.direction == "minimize" else -math.inf

        def observe(record: dict, run) -> None:
            partial = "fraction" in record  # a mid-epoch check
            done = record["epoch"] - 1 + record["fraction"] if partial else record["epoch"]
            if partial:
                value = record.get(spec.metric)
                if value is None:  # recorded at epoch ends only
                    return
            else:
                value = self.score(run) if spec.metric == "fcd" else record.get(spec.metric)
                if value is None:
                    raise RunError(f"epoch {record['epoch']} recorded no {spec.metric!r}")
            value = float(value)
            value = worst if math.isnan(value) else value  # NaN (e.g. no mode covered): the worst
            if not partial:
                values.append(value)
            step = round(done * spec.checks)
            trial.set_user_attr("epochs", round(done, 4))
            trial.report(value, step)
            if step < cfg.train.epochs * spec.checks and trial.should_prune():
                trial.set_user_attr("seconds", round(time.perf_counter() - t0, 2))
                raise optuna.TrialPruned(f"pruned at epoch {done:g}")

        try:
            validate_train(cfg.train)
            if spec.task.check_model is not None:
                spec.task.check_model(cfg.model)
            run = fit(self.ds, cfg, self.folder / rel, overwrite=True, progress=False, observe=observe,
                      checks_per_epoch=spec.checks)
        except Interrupted as e:
            retry(trial.study, trial)  # cut off: run again on --resume
            raise StudyInterrupted(str(e).split(";")[0], e.exit_code) from None
        except AeganError as e:  # this trial's settings failed: said on its line, the study goes on
            trial.set_user_attr("error", str(e))
            raise
        trial.set_user_attr("seconds", round(time.perf_counter() - t0, 2))
        if cfg.train.patience:  # the best epoch's weights are the ones kept
            value = min(values) if spec.direction == "minimize" else max(values)
        else:
            value = values[-1]
        phase = run.history[-1] if run.history and "phase" in run.history[-1] else None
        if phase is not None and phase.get(spec.metric) is not None:
            # a last phase after the epochs (a codec's on rounded latents) changed the weights the trial
            # leaves: its value is theirs, as the run folder's last metrics line says
            trial.set_user_attr("before_phase", value)
            value = float(phase[spec.metric])
            value = worst if math.isnan(value) else value
        return value


def run_trials(study, spec: StudySpec, folder: Path, ds, *, trials: int, timeout: float | None,
               on_trial: Callable | None = None, score=None) -> None:
    """Run trials until `trials` are finished in the study (by every process), or `timeout`
    seconds pass. `on_trial(study, frozen_trial)` after each one."""
    import optuna
    from optuna.trial import TrialState

    requeue_dead(study)
    study.sampler = make_sampler(spec, salt=len(study.trials) + (os.getpid() if study.trials else 0))
    study.pruner = make_pruner(spec)
    objective = Trial(spec, folder, ds, score)

    failures: list[bool] = []

    def after(study, frozen) -> None:
        if frozen.state == TrialState.COMPLETE:
            write_best(study, folder)
        if on_trial is not None:
            on_trial(study, frozen)
        # three failures in a row before anything finished: the fixed settings are at fault, not the draws
        failures.append(frozen.state == TrialState.FAIL)
        if len(failures) >= 3 and all(failures[-3:]) and not finished(study):
            study.stop()

    left = trials - len(finished(study))
    if left <= 0:
        return
    # a trial whose settings fail (a bad combination, divergence, too little data) fails alone
    study.optimize(objective, n_trials=left, timeout=timeout, catch=(AeganError,),
                   callbacks=[optuna.study.MaxTrialsCallback(trials, states=(TrialState.COMPLETE,
                                                                             TrialState.PRUNED)), after],
                   gc_after_trial=True)


def write_best(study, folder: Path) -> dict | None:
    """STUDY/best.json: the best finished trial's configuration, trainable as it is
    (aegan train --config STUDY/best.json)."""
    try:
        best = study.best_trial
    except ValueError:  # no complete trial yet
        return None
    cfg = dict(best.user_attrs["config"])
    cfg["data_info"], cfg["aegan_version"] = {}, ""
    cfg["tuned"] = {"study": str(folder), "trial": best.number, "value": best.value}
    checkpoint.write_text(folder / BEST, json.dumps(cfg, indent=2, sort_keys=True))
    return cfg


def new_spec(command: str, base: RunConfig, space: dict, sections: dict, objective, **kw) -> StudySpec:
    from ..version import __version__
    return StudySpec(command=command, config=json.loads(base.to_json()), space=to_dict(space), sections=sections,
                     metric=objective.metric, direction=objective.direction, objective=objective.what,
                     aegan_version=__version__, **kw)
