"""`aegan translate RUN --data ... --out x.npy|grid.png [--direction a2b|b2a]`: a translation
run (pix2pix, CycleGAN) applied to images of one side."""

from __future__ import annotations

import dataclasses

from ..config import DataConfig
from .flags import command, data_flags, from_flags, open_run, out_flags

DEFAULT_SHOWN = 16  # examples in a picture unless -n says otherwise


def add_parsers(sub) -> None:
    p = command(sub, "translate", "translate images with a pix2pix or CycleGAN run (out.npy or grid.png)",
                cmd_translate, "translation run folder", examples=(
                    "aegan translate runs/superres --data superres --out superres.png   # rows: input, output, target",
                    "aegan translate runs/shoes --data sneakers/ --out boots.npy     # every image of a folder",
                    "aegan translate runs/shoes --data sneaker-boot --direction b2a --out back.png"))
    out_flags(p, "out.npy (the translated images, the data's own units) or grid.png (rows of inputs, outputs "
                 "and, for paired data, targets)")
    p.add_argument("--direction", choices=("a2b", "b2a"), default="a2b",
                   help="a2b (default) or b2a (CycleGAN runs only)")
    p.add_argument("-n", type=int, default=None,
                   help=f"how many images (default: {DEFAULT_SHOWN} in a picture, all in a .npy)")
    p.add_argument("--nrow", type=int, default=8, help="images per row in a .png")
    data_flags(p, split_help="which split to read (default: test for the built-in tasks, every image of a file "
                             "or folder)")


def cmd_translate(args) -> int:
    import numpy as np
    import torch

    from ..checkpoint import check_output_file, save_npy
    from ..data import load_dataset
    from ..data.pairs import TASK_NAMES, is_pair_source
    from ..errors import UsageError
    from ..viz import grid_image, save_png
    run = open_run(args.run, "translation")
    run.check_direction(args.direction)
    out = check_output_file(args.out, args.overwrite, (".npy", ".png"))
    if args.n is not None and args.n < 1:
        raise UsageError(f"-n {args.n}: expected at least 1 image")
    dc = from_flags(args, DataConfig, run.config.data)
    src, dst = ("a", "b") if args.direction == "a2b" else ("b", "a")
    if is_pair_source(dc.data):  # both sides: the source side translated, the other one shown as targets
        split = args.split or ("test" if dc.data in TASK_NAMES else "all")
        ds = load_dataset(dc, split)
        a, b = run.sides(ds)
        x, targets = (a, b) if src == "a" else (b, a)
        targets = targets if ds.extra["pairs"]["paired"] else None
        what = f"{src.upper()} images of " + (f"the {split} split of {dc.data}" if split != "all" else dc.data)
    else:  # images of the source side only
        dc = dataclasses.replace(dc, pairs=None)
        split = args.split or "all"
        ds = load_dataset(dc, split)
        if ds.kind != "image":
            raise UsageError(f"--data {dc.data}: a table; expected images like the run's {src.upper()} side")
        x, targets = run.side_to_model(ds.x, src), None
        what = f"{len(x)} images of {dc.data}"
    n = args.n or (DEFAULT_SHOWN if out.suffix == ".png" else len(x))
    x = x[:n]
    y = run.translate_model(x, args.direction)
    if out.suffix == ".npy":
        save_npy(out, run.normalizer.inverse(y))
    else:
        rows = [x, y] + ([targets[:n]] if targets is not None else [])
        c = max(t.shape[1] for t in rows)
        k = max(1, args.nrow)
        chunks = [t[i:i + k] for i in range(0, len(x), k) for t in rows]
        images = torch.cat([run.normalizer.to_pixels(t).expand(-1, c, -1, -1) for t in chunks])
        save_png(out, grid_image(images, nrow=k))
    shown = "inputs, outputs" + (", targets" if targets is not None and out.suffix == ".png" else "")
    print(f"wrote {out}: {len(y)} images translated {args.direction} ({what})"
          + (f"; rows of {shown}" if out.suffix == ".png" else f", shape {tuple(np.shape(y)[1:])}"))
    return 0
