"""`aegan report`: one self-contained HTML file per run, or several runs side by side.

Everything is embedded (PNG as base64 data URIs, inline CSS); the file opens without a
network and can be mailed around."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

from . import checkpoint
from .errors import UsageError
from .runs.base import Figure, RunBase, Section
from .runs.registry import load
from .viz import curves_figure, pyplot


def _png(img, keep: Path | None = None) -> str:
    """A PIL image or a matplotlib figure -> data URI; with `keep`, also written there as a PNG."""
    buf = io.BytesIO()
    if hasattr(img, "savefig"):
        img.savefig(buf, format="png", dpi=90)
        pyplot().close(img)
    else:
        img.save(buf, format="PNG")
    if keep is not None:
        checkpoint.atomic_write(keep, lambda tmp: Path(tmp).write_bytes(buf.getvalue()))
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _file_png(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _img(uri: str, alt: str, width: int | None = None) -> str:
    w = f' style="max-width:{width}px"' if width else ""
    return f'<figure><img src="{uri}" alt="{html.escape(alt)}"{w}><figcaption>{html.escape(alt)}</figcaption></figure>'


def _table(rows: list[list], head: list[str]) -> str:
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else html.escape(str(v))  # noqa: E731
    body = "".join("<tr>" + "".join(f"<td>{fmt(c)}</td>" for c in r) + "</tr>" for r in rows)
    return "<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>" + body + "</table>"


def _curves(records: list[dict], title: str) -> str:
    return _png(curves_figure(records, title))


def _config_rows(cfg) -> list[list]:
    d = json.loads(cfg.to_json())
    rows = []
    for section in ("model", "train", "data"):
        for k, v in sorted(d.get(section, {}).items()):
            if v is not None:
                rows.append([section, k, v if not isinstance(v, list) else ", ".join(map(str, v))])
    info = d.get("data_info", {})
    for k in ("name", "kind", "shape", "num_examples", "classes"):
        if info.get(k) is not None:
            rows.append(["data", k, info[k] if not isinstance(info[k], list) else ", ".join(map(str, info[k]))])
    return rows


def _figure(fig: Figure, folder: Path) -> str:
    uri = _file_png(fig.image) if isinstance(fig.image, Path) else \
        _png(fig.image, folder / fig.keep if fig.keep else None)
    return _img(uri, fig.caption, fig.width)


def _section(section: Section, folder: Path) -> list[str]:
    """A kind of run's report section (runs/base.py: Section) as HTML."""
    parts = [f"<h3>{html.escape(section.title)}</h3>"]
    if section.note:
        parts.append(f"<p>{html.escape(section.note)}</p>")
    figures = [_figure(f, folder) for f in section.figures]
    if len(figures) > 1:
        return parts + ['<div class="row">' + "".join(figures) + "</div>"]
    return parts + figures


def _evaluation(path: Path) -> dict | None:
    f = path / "evaluation.json"
    return json.loads(f.read_text()) if f.is_file() else None


def _evaluation_rows(ev: dict) -> list[list]:
    rows = []
    for k, v in ev.items():
        if isinstance(v, dict):
            rows.append([k, v.get("value", ""), v.get("real_vs_real", ""),
                         ", ".join(f"{a} {b:.4g}" if isinstance(b, float) else f"{a} {b}"
                                   for a, b in v.items() if a not in ("value", "real_vs_real"))])
    return rows


def run_section(run) -> str:
    """The HTML of one run."""
    path, cfg = run.path, run.config
    parts = [f"<h2>{html.escape(str(path))}</h2>", f"<p>{html.escape(repr(run))}</p>"]
    records = [r for r in run.metrics() if "epoch" in r]
    if records:
        parts += ["<h3>Training curves</h3>", _img(_curves(records, cfg.task), "per-epoch metrics (metrics.jsonl)")]
    ev = _evaluation(path)
    if ev:
        parts += ["<h3>Evaluation</h3>", _table(_evaluation_rows(ev), ["metric", "value", "real vs real", "notes"])]
    elif run.has_evaluation:
        parts.append(f"<p>No evaluation yet: <code>aegan evaluate {html.escape(str(path))}</code> adds it here.</p>")
    for section in run.report_sections():
        parts += _section(section, path)
    parts += ["<h3>Configuration</h3>", _table(_config_rows(cfg), ["part", "setting", "value"])]
    return "\n".join(parts)


def compare_section(runs: list) -> str:
    """Several runs: their main curves overlaid and their last metrics in one table."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    rows, keys = [], []
    for run in runs:
        recs = [r for r in run.metrics() if "epoch" in r]
        if not recs:
            continue
        key = next((k for k in ("val_loss", "train_loss", "g_loss") if k in recs[0]), None)
        if key:
            ax.plot([r["epoch"] for r in recs], [r[key] for r in recs], marker="o", ms=3, label=f"{run.path.name}: {key}")
        last = {k: v for k, v in recs[-1].items() if isinstance(v, (int, float)) and k not in ("epoch", "seconds")}
        ev = _evaluation(run.path) or {}
        last.update({f"eval {k}": v["value"] for k, v in ev.items() if isinstance(v, dict)
                     and isinstance(v.get("value"), (int, float))})
        rows.append((run, last))
        keys += [k for k in last if k not in keys]
    ax.set_xlabel("epoch")
    ax.legend(fontsize=7)
    fig.tight_layout()
    table = _table([[str(r.path.name)] + [last.get(k, "") for k in keys] for r, last in rows], ["run"] + keys)
    return "<h2>Side by side</h2>" + _img(_png(fig), "main loss per run") + table


CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;font-size:13px}
th{background:#f3f3f3}figure{display:inline-block;margin:.5em}figcaption{font-size:12px;color:#555}
img{max-width:100%}.row{display:flex;flex-wrap:wrap}h2{border-bottom:2px solid #888}"""


def build_report(paths: list, out: str | Path) -> Path:
    """One HTML page of the runs (run folders, or runs already loaded) at `out`."""
    if not paths:
        raise UsageError("aegan report needs at least one run folder")
    runs = [p if isinstance(p, RunBase) else load(p) for p in paths]
    body = [compare_section(runs)] if len(runs) > 1 else []
    body += [run_section(r) for r in runs]
    title = "aegan report: " + ", ".join(str(r.path.name) for r in runs)
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>" + "\n".join(body) + "</body></html>")
    out = Path(out)
    checkpoint.write_text(out, page)
    return out
