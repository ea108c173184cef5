"""Pictures a person can open: image grids (PNG) and loss curves."""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image

from .checkpoint import atomic_write


def pyplot():
    """matplotlib.pyplot drawing off-screen (Agg); imported when a figure is made, not with aegan."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def grid_image(images: torch.Tensor, nrow: int = 8, pad: int = 2, min_size: int = 48) -> Image.Image:
    """(N, C, H, W) pixels in [0, 1] -> one PIL image, `nrow` per row, small images enlarged
    (nearest neighbour) so each tile is at least `min_size` pixels high."""
    x = images.detach().float().cpu().clamp(0, 1)
    n, c, h, w = x.shape
    if c not in (1, 3):
        x = x[:, :1] if c < 3 else x[:, :3]
        c = x.shape[1]
    scale = max(1, math.ceil(min_size / h))
    rows = math.ceil(n / nrow)
    H, W = rows * (h * scale + pad) + pad, nrow * (w * scale + pad) + pad
    canvas = np.ones((H, W, c), dtype=np.float32)
    tiles = x.permute(0, 2, 3, 1).numpy().repeat(scale, 1).repeat(scale, 2)
    for i, tile in enumerate(tiles):
        r, col = divmod(i, nrow)
        top, left = pad + r * (h * scale + pad), pad + col * (w * scale + pad)
        canvas[top:top + h * scale, left:left + w * scale] = tile
    arr = (canvas * 255 + 0.5).astype(np.uint8)
    return Image.fromarray(arr[..., 0] if c == 1 else arr, "L" if c == 1 else "RGB")


def save_png(path, img: Image.Image) -> None:
    atomic_write(path, lambda tmp: img.save(tmp, format="PNG"))


def reconstruction_grid(inputs: torch.Tensor, recons: torch.Tensor, nrow: int = 8) -> Image.Image:
    """Rows of inputs, each followed by the row of their reconstructions."""
    n = (len(inputs) // nrow) * nrow or len(inputs)
    pairs = [t for i in range(0, n, nrow) for t in (inputs[i:i + nrow], recons[i:i + nrow])]
    return grid_image(torch.cat(pairs), nrow=min(nrow, n))


CURVE_SKIP = ("epoch", "step", "seconds", "mode_num_modes")


def curve_panels(records: list[dict]) -> list[tuple[str, list[str]]]:
    """Which metrics.jsonl keys go in which panel: the losses (train_loss, val_loss, d_loss,
    g_loss), the other per-epoch numbers (loss parts, D's outputs, errors), mode metrics."""
    keys = [k for k in records[0] if k not in CURVE_SKIP and isinstance(records[0][k], (int, float))
            and not isinstance(records[0][k], bool)]
    losses = [k for k in keys if k.endswith("_loss")]
    modes = [k for k in keys if k.startswith("mode_")]
    rest = [k for k in keys if k not in losses and k not in modes]
    panels = [("loss", losses), ("parts" if any(k.startswith(("train_", "val_")) for k in rest) else "D outputs", rest),
              ("modes", modes)]
    return [(name, group) for name, group in panels if group]


def loss_curves(records: list[dict], path, title: str = "") -> None:
    """Write curves_figure(records) as a PNG."""
    plt = pyplot()
    fig = curves_figure(records, title)
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)


def curves_figure(records: list[dict], title: str = ""):
    """Each panel of curve_panels against the epoch, log scale where all values are positive."""
    plt = pyplot()

    panels = curve_panels(records) or [("loss", [])]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.4), squeeze=False)
    epochs = [r["epoch"] for r in records]
    for ax, (name, group) in zip(axes[0], panels):
        for k in group:
            ax.plot(epochs, [r.get(k, np.nan) for r in records], marker="o", ms=3, label=k)
        vals = [r.get(k) for r in records for k in group if r.get(k) is not None]
        if vals and min(vals) > 0 and name != "modes":
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_title(name)
        if group:
            ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def toy_scatter(samples: np.ndarray, centers: np.ndarray | None, path, title: str = "") -> None:
    """2-D samples (blue) over the mode centres (red crosses)."""
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    ax.scatter(samples[:, 0], samples[:, 1], s=2, alpha=0.4, color="tab:blue", label="samples")
    if centers is not None:
        ax.scatter(centers[:, 0], centers[:, 1], s=40, marker="x", color="tab:red", label="modes")
        lo, hi = centers.min(0) - 1, centers.max(0) + 1
        ax.set_xlim(lo[0], hi[0])
        ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)


def latent_map_figure(z: np.ndarray, y: np.ndarray | None, classes: list[str] | None, title: str):
    """2-D points (N, 2) coloured by label, with a legend of class names when there are some."""
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(5.5, 4.8))
    if y is not None:
        sc = ax.scatter(z[:, 0], z[:, 1], c=y, cmap="tab10", s=4, alpha=0.7)
        names = classes or [str(c) for c in range(int(y.max()) + 1)]  # numeric labels: their values
        if len(names) <= 20:
            handles = [plt.Line2D([], [], marker="o", ls="", color=sc.cmap(sc.norm(i)), label=c)
                       for i, c in enumerate(names)]
            ax.legend(handles=handles, fontsize=7, loc="best", markerscale=1, title="label", title_fontsize=7)
    else:
        ax.scatter(z[:, 0], z[:, 1], s=4, alpha=0.7)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig
