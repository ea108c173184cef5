"""`aegan report`: one self-contained HTML file per run, or several runs side by side.

Everything is embedded (PNG as base64 data URIs, inline CSS); the file opens without a
network and can be mailed around."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import numpy as np

from . import checkpoint
from .errors import AeganError, UsageError

MAP_POINTS = 2000  # test examples in the latent map
EPOCH_PICTURES = 6  # reconstruction / sample grids shown over the epochs


def _png(img, keep: Path | None = None) -> str:
    """A PIL image or a matplotlib figure -> data URI; with `keep`, also written there as a PNG."""
    buf = io.BytesIO()
    if hasattr(img, "savefig"):
        import matplotlib.pyplot as plt
        img.savefig(buf, format="png", dpi=90)
        plt.close(img)
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


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _curves(records: list[dict], title: str) -> str:
    from .viz import curves_figure
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


def _epoch_pictures(path: Path, prefix: str) -> list[str]:
    files = sorted(path.glob(f"{prefix}_epoch*.png"))
    if len(files) > EPOCH_PICTURES:
        keep = np.unique(np.linspace(0, len(files) - 1, EPOCH_PICTURES).round().astype(int))
        files = [files[i] for i in keep]
    return [_img(_file_png(f), f"epoch {int(f.stem.split('epoch')[1])}", 420) for f in files]


def _test_data(run):
    from .data import load_dataset
    dc = run.config.data
    try:
        return load_dataset(dc.data, "test", data_dir=dc.data_dir, image_size=dc.image_size, channels=dc.channels,
                            label_column=dc.label_column)
    except AeganError:  # the data may live elsewhere now; the report shows what it can
        return None


def _latent_map(run, sub, z: np.ndarray) -> str:
    """Test codes in 2-D (the code itself when 2-D, else its first two principal components),
    coloured by label."""
    plt = _pyplot()
    n = len(sub)
    how = "code"
    if z.shape[1] > 2:
        from sklearn.decomposition import PCA
        z = PCA(2, random_state=0).fit_transform(z)
        how = f"PCA of the {run.code_dim}-D code"
    elif z.shape[1] == 1:
        z = np.concatenate([z, np.zeros_like(z)], 1)
    fig, ax = plt.subplots(figsize=(5.5, 4.8))
    if sub.y is not None:
        sc = ax.scatter(z[:, 0], z[:, 1], c=sub.y, cmap="tab10", s=4, alpha=0.7)
        if sub.classes:
            handles = [plt.Line2D([], [], marker="o", ls="", color=sc.cmap(sc.norm(i)), label=c)
                       for i, c in enumerate(sub.classes)]
            ax.legend(handles=handles, fontsize=7, loc="best", markerscale=1)
    else:
        ax.scatter(z[:, 0], z[:, 1], s=4, alpha=0.7)
    ax.set_title(f"{n} test examples: {how}", fontsize=9)
    fig.tight_layout()
    return _png(fig, run.path / "latent_map.png")


def _traversal(run, z: np.ndarray, steps: int = 8) -> str:
    """Decoded codes on a grid over the two main directions of the test codes (mean +- 2 sd)."""
    from .viz import grid_image
    mean = z.mean(0)
    if z.shape[1] >= 2:
        u, s, vt = np.linalg.svd(z - mean, full_matrices=False)
        dirs = vt[:2] * (s[:2, None] / np.sqrt(len(z)))  # one standard deviation along each
    else:
        dirs = np.array([[z.std()], [0.0]])
    t = np.linspace(-2, 2, steps)
    grid = np.array([mean + a * dirs[0] + b * dirs[1] for b in t for a in t], dtype=np.float32)
    x = run.decode(grid)
    return _png(grid_image(run.normalizer.to_unit_pixels(x), nrow=steps), run.path / "traversal.png")


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
    else:
        parts.append(f"<p>No evaluation yet: <code>aegan evaluate {html.escape(str(path))}</code> adds it here.</p>")
    if cfg.task == "autoencoder":
        pics = _epoch_pictures(path, "recon")
        if pics:
            parts += ["<h3>Reconstructions over the epochs</h3><p>inputs above, reconstructions below</p>",
                      '<div class="row">' + "".join(pics) + "</div>"]
        ds = _test_data(run)
        if ds is not None and len(ds):
            sub = ds.subset(np.arange(min(MAP_POINTS, len(ds))))
            z = run.encode(sub)  # (n, code_dim), shared by the map and the traversal
            parts += ["<h3>Latent map</h3>", _img(_latent_map(run, sub, z), "test codes coloured by label")]
            if run.kind == "image":
                parts += ["<h3>Decoded traversal</h3>",
                          _img(_traversal(run, z), "decoded codes along the two main directions, -2 to +2 sd")]
    elif cfg.task == "gan":
        if run.kind == "image":
            pics = _epoch_pictures(path, "samples")
            if pics:
                parts += ["<h3>Samples over the epochs</h3>", '<div class="row">' + "".join(pics) + "</div>"]
            from .viz import grid_image
            title = "one row per class" if run.gan.num_classes else "64 samples"
            parts += ["<h3>Samples</h3>", _img(_png(run.sample_grid()), title)]
            strip = run.interpolate(steps=10, rows=4)
            parts += ["<h3>Latent interpolation</h3>",
                      _img(_png(grid_image(run.normalizer.to_unit_pixels(strip), nrow=10), path / "interpolation.png"),
                           "straight lines between noise vectors")]
        elif (path / "samples.png").is_file():
            parts += ["<h3>Samples over the modes</h3>", _img(_file_png(path / "samples.png"), "samples.png")]
    parts += ["<h3>Configuration</h3>", _table(_config_rows(cfg), ["part", "setting", "value"])]
    return "\n".join(parts)


def compare_section(runs: list) -> str:
    """Several runs: their main curves overlaid and their last metrics in one table."""
    plt = _pyplot()
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


def build_report(paths: list[str | Path], out: str | Path) -> Path:
    from .run import load
    if not paths:
        raise UsageError("aegan report needs at least one run folder")
    runs = [load(p) for p in paths]
    body = [compare_section(runs)] if len(runs) > 1 else []
    body += [run_section(r) for r in runs]
    title = "aegan report: " + ", ".join(str(Path(p).name) for p in paths)
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>" + "\n".join(body) + "</body></html>")
    out = Path(out)
    checkpoint.write_text(out, page)
    return out
