"""What a study shows: the line printed per trial, the table of the best trials, and `aegan report
STUDY` (optimisation history, parameter importances, the best trial's own report) in one HTML page."""

from __future__ import annotations

import html
from pathlib import Path

from .. import checkpoint
from .study import BEST, STUDY_FILE, StudySpec, finished, load, read_spec

TOP = 5


def _value(v) -> str:
    return f"{v:.5g}" if isinstance(v, float) else str(v)


def _params(params: dict, order=()) -> str:
    keys = [k for k in order if k in params] + [k for k in params if k not in order]
    return " ".join(f"{k}={_value(params[k])}" for k in keys)


def _best(study):
    try:
        return study.best_trial
    except ValueError:
        return None


def trial_line(study, t, spec: StudySpec) -> str:
    """One line per finished trial: number, parameters, value, pruned or not, best so far."""
    from optuna.trial import TrialState
    epochs, seconds = t.user_attrs.get("epochs"), t.user_attrs.get("seconds")
    if t.state == TrialState.COMPLETE:
        what = f"{spec.metric} {_value(t.value)}"
    elif t.state == TrialState.PRUNED:
        last = t.intermediate_values.get(round(epochs * spec.checks)) if epochs else None
        what = f"pruned at epoch {round(epochs, 2):g}" + (f" ({spec.metric} {_value(last)})" if last is not None else "")
    else:
        reason = str(t.user_attrs.get("error", "")).strip().splitlines()
        what = "failed" + (f": {reason[-1][:200]}" if reason else "")
    best = _best(study)
    shown = f"best {_value(best.value)} (trial {best.number})" if best is not None else "no best yet"
    done = len(finished(study))
    time = f"  {seconds:.1f}s" if isinstance(seconds, (int, float)) else ""
    return f"trial {t.number:>3} [{done}/{spec.trials}]  {_params(t.params, spec.space)}  ->  {what}  |  {shown}{time}"


def top_rows(study, spec: StudySpec, n: int = TOP) -> list[list]:
    """[trial, value, epochs, seconds, params] of the n best complete trials."""
    from optuna.trial import TrialState
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.value is not None]
    done.sort(key=lambda t: t.value, reverse=spec.direction == "maximize")
    return [[t.number, t.value, t.user_attrs.get("epochs", ""), t.user_attrs.get("seconds", ""),
             _params(t.params, spec.space)]
            for t in done[:n]]


def print_top(study, spec: StudySpec) -> None:
    from optuna.trial import TrialState
    states = [t.state for t in study.get_trials(deepcopy=False)]
    counts = {s.name.lower(): states.count(s) for s in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)}
    print(f"{len(states)} trials: " + ", ".join(f"{v} {k}" for k, v in counts.items()) +
          f"; epochs trained {epochs_spent(study):.1f}")
    rows = top_rows(study, spec)
    if not rows:
        return
    print(f"{'trial':>5}  {spec.metric:>14}  {'epochs':>6}  {'seconds':>7}  settings")
    for number, value, epochs, seconds, params in rows:
        print(f"{number:>5}  {value:>14.6g}  {epochs!s:>6}  {seconds!s:>7}  {params}")


def epochs_spent(study) -> float:
    """Epochs trained over every trial of the study (pruned and failed ones included; a trial
    pruned at a mid-epoch check counts the part of the epoch it trained)."""
    return round(sum(float(t.user_attrs.get("epochs", 0)) for t in study.get_trials(deepcopy=False)), 4)


def is_study(path: str | Path) -> bool:
    return (Path(path) / STUDY_FILE).is_file()


def history_figure(study, spec: StudySpec):
    from optuna.trial import TrialState

    from ..viz import pyplot
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    best, xs, ys = None, [], []
    for t in study.get_trials(deepcopy=False):
        if t.state == TrialState.COMPLETE:
            ax.scatter(t.number, t.value, color="tab:blue", s=18, zorder=3)
            better = best is None or (t.value < best if spec.direction == "minimize" else t.value > best)
            best = t.value if better else best
        elif t.state == TrialState.PRUNED and t.intermediate_values:
            last = t.intermediate_values[max(t.intermediate_values)]
            ax.scatter(t.number, last, color="tab:gray", marker="x", s=18, zorder=2)
        if best is not None:
            xs.append(t.number)
            ys.append(best)
    ax.step(xs, ys, where="post", color="tab:red", label="best so far")
    ax.scatter([], [], color="tab:blue", s=18, label="complete")
    ax.scatter([], [], color="tab:gray", marker="x", s=18, label="pruned (its last value)")
    ax.set_xlabel("trial")
    ax.set_ylabel(spec.metric)
    if ys and min(ys) > 0 and spec.direction == "minimize":
        ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.set_title("optimisation history")
    fig.tight_layout()
    return fig


def importance_figure(study):
    """fANOVA importances of the parameters (Optuna's default evaluator), or None with too few trials."""
    import optuna

    from ..viz import pyplot
    try:
        imp = optuna.importance.get_param_importances(study)
    except (ValueError, RuntimeError):
        return None
    if not imp:
        return None
    plt = pyplot()
    names = list(imp)[::-1]
    fig, ax = plt.subplots(figsize=(6, 0.5 + 0.4 * len(names)))
    ax.barh(names, [imp[k] for k in names], color="tab:blue")
    ax.set_xlabel("importance (fANOVA, share of the objective's variance)")
    fig.tight_layout()
    return fig


def build_study_report(folder: str | Path, out: str | Path) -> Path:
    """STUDY/report.html: the study's settings, history, importances, best trials, and the best
    trial's report (written into its own folder and linked)."""
    from ..report import _img, _png, _table
    from ..runs.registry import load as load_run
    folder, out = Path(folder), Path(out)
    spec = read_spec(folder)
    study = load(spec, folder)
    parts = [f"<h1>Study {html.escape(folder.name)}</h1>",
             f"<p>{html.escape(f'aegan train {spec.command}')}: {spec.sampler} sampler, {spec.pruner} pruner, "
             f"{spec.direction} <b>{html.escape(spec.metric)}</b> ({html.escape(spec.objective)}); "
             f"{len(finished(study))} of {spec.trials} trials finished, {epochs_spent(study):.1f} epochs trained.</p>"]
    parts.append("<h2>Search space</h2>" + _table([[k, _space_text(v)] for k, v in spec.space.items()],
                                                  ["setting", "range"]))
    parts.append("<h2>Optimisation history</h2>" + _img(_png(history_figure(study, spec), folder / "history.png"),
                                                       "history.png"))
    fig = importance_figure(study)
    parts.append("<h2>Parameter importances</h2>" + (_img(_png(fig, folder / "importance.png"), "importance.png")
                                                     if fig is not None else
                                                     "<p>Too few complete trials to estimate them.</p>"))
    rows = top_rows(study, spec)
    parts.append("<h2>Best trials</h2>" + (_table(rows, ["trial", spec.metric, "epochs", "seconds", "settings"])
                                           if rows else "<p>No complete trial yet.</p>"))
    best = _best(study)
    if best is not None and (folder / best.user_attrs.get("folder", "")).is_dir():
        from ..report import build_report
        run_dir = folder / best.user_attrs["folder"]
        build_report([load_run(run_dir)], run_dir / "report.html")
        rel = Path(best.user_attrs["folder"]) / "report.html"
        parts.append(f"<h2>Best trial: {best.number}</h2><p>Its settings: <code>{BEST}</code> (train them with "
                     f"<code>aegan train --config {html.escape(str(folder / BEST))} --out runs/best</code>); its "
                     f'report: <a href="{html.escape(str(rel))}">{html.escape(str(rel))}</a></p>')
        curves = run_dir / "loss.png"
        if curves.is_file():
            parts.append(_img("data:image/png;base64," + _b64(curves), "the best trial's loss curves"))
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>aegan study</title><style>body{font-family:"
            "sans-serif;max-width:1000px;margin:2em auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
            "padding:3px 8px}</style></head><body>" + "\n".join(parts) + "</body></html>")
    checkpoint.write_text(out, page)
    return out


def _b64(path: Path) -> str:
    import base64
    return base64.b64encode(path.read_bytes()).decode("ascii")


def _space_text(d: dict) -> str:
    if "choices" in d:
        return "one of " + ", ".join(",".join(map(str, v)) if isinstance(v, list) else str(v) for v in d["choices"])
    return f"{d['low']:g} to {d['high']:g}" + (" (log scale)" if d.get("log") else "") + \
        (" (integers)" if d.get("integer") else "")
