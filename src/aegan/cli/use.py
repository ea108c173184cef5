"""Commands that use a trained model on data or noise: sample and interpolate (GANs), encode,
decode and reconstruct (autoencoders)."""

from __future__ import annotations

from pathlib import Path

from ..errors import UsageError
from .flags import command, data_flags, load_data, open_run, out_flags, rows_note

# torch and scikit-learn load with the commands that need them (inside them), so that --help and
# argument errors answer at once


def add_parsers(sub) -> None:
    p = command(sub, "sample", "samples from a GAN run (grid.png or samples.npy)", cmd_sample, "GAN run folder",
                examples=("aegan sample runs/gan -n 64 --out grid.png --seed 0",
                          "aegan sample runs/cgan --class 3 -n 16 --out threes.npy"))
    p.add_argument("-n", type=int, default=64, help="how many samples (default 64)")
    out_flags(p, "grid.png or samples.npy (the data's own units)")
    p.add_argument("--class", dest="label", type=int, default=None, help="class index (conditional GANs)")
    p.add_argument("--seed", type=int, default=None,
                   help="noise seed: the same seed gives the same samples (default: a fresh one, printed)")
    p.add_argument("--nrow", type=int, default=8, help="pictures per row in a .png")

    p = command(sub, "interpolate", "a GAN's samples along straight lines in z (strip.png or .npy)", cmd_interpolate,
                "GAN run folder", examples=("aegan interpolate runs/gan --steps 10 --rows 4 --out strip.png",))
    p.add_argument("--steps", type=int, default=8, help="points per line (default 8)")
    p.add_argument("--rows", type=int, default=4, help="how many lines (default 4)")
    out_flags(p, "strip.png or points.npy")
    p.add_argument("--class", dest="label", type=int, default=None, help="class index (conditional GANs)")
    p.add_argument("--seed", type=int, default=None, help="noise seed (default: a fresh one, printed)")

    p = command(sub, "encode", "write the codes of a dataset to a .npy file", cmd_encode, "autoencoder run folder",
                examples=("aegan encode runs/ae --data digits --out codes.npy        # the test split of a named set",
                          "aegan encode runs/ae --data mine.npy --out codes.npy      # every row of a file"))
    out_flags(p, "codes.npy")
    data_flags(p)

    p = command(sub, "decode", "decode codes (.npy) into examples (.npy) or a picture (.png)", cmd_decode,
                "autoencoder run folder", examples=("aegan decode runs/ae --codes codes.npy --out decoded.png",))
    p.add_argument("--codes", required=True, help="codes.npy of shape (N, code_dim)")
    out_flags(p, "out.npy (data's own units) or grid.png")
    p.add_argument("--nrow", type=int, default=8, help="pictures per row in a .png")

    p = command(sub, "reconstruct", "inputs and their reconstructions (grid.png or .npy)", cmd_reconstruct,
                "autoencoder run folder",
                examples=("aegan reconstruct runs/ae --data digits --out recon.png -n 32",
                          "aegan reconstruct runs/table-ae --data table.csv --out recon.npy"))
    out_flags(p, "grid.png (inputs above, reconstructions below) or out.npy")
    p.add_argument("-n", type=int, default=None, help="how many examples (default: 16 in a picture, all in .npy)")
    p.add_argument("--nrow", type=int, default=8, help="pictures per row in a .png")
    data_flags(p)


def cmd_sample(args) -> int:
    from ..runs.gan import fresh_seed
    seed = fresh_seed() if args.seed is None else args.seed
    out, x = _write(args, "gan", lambda run: run.sample(args.n, args.label, seed), args.nrow)
    print(f"wrote {out}: {len(x)} samples of shape {tuple(x.shape[1:])} (--seed {seed})")
    return 0


def cmd_interpolate(args) -> int:
    from ..runs.gan import fresh_seed
    seed = fresh_seed() if args.seed is None else args.seed
    out, _ = _write(args, "gan", lambda run: run.interpolate(args.steps, args.rows, seed, args.label), args.steps)
    print(f"wrote {out}: {args.rows} lines of {args.steps} samples (--seed {seed})")
    return 0


def cmd_decode(args) -> int:
    import numpy as np
    try:
        codes = np.load(args.codes, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise UsageError(f"--codes {args.codes}: not a readable numeric .npy ({e or 'empty file'}); expected codes "
                         "written by 'aegan encode'") from None
    out, x = _write(args, "autoencoder", lambda run: run.decode(codes), args.nrow)
    print(f"wrote {out}: {len(x)} decoded examples of shape {tuple(x.shape[1:])}")
    return 0


def _write(args, task: str, make, nrow: int) -> tuple:
    """Open the run (of `task`), check --out before any work, write make(run) there as .npy or .png:
    (the output path, what was written)."""
    from ..checkpoint import check_output_file
    run = open_run(args.run, task)
    out = check_output_file(args.out, args.overwrite, (".npy", ".png"))
    x = make(run)
    write_examples(run, out, x, nrow)
    return out, x


def cmd_encode(args) -> int:
    from ..checkpoint import check_output_file, save_npy
    run = open_run(args.run, "autoencoder")
    out = check_output_file(args.out, args.overwrite, (".npy",))
    _, ds = load_data(args, run.config.data)
    codes = run.encode(ds)
    save_npy(out, codes)
    print(f"wrote {out}: codes of shape {codes.shape}, from {rows_note(ds)}")
    return 0


def cmd_reconstruct(args) -> int:
    import numpy as np

    from ..checkpoint import check_output_file, save_npy
    from ..viz import save_png
    run = open_run(args.run, "autoencoder")
    out = check_output_file(args.out, args.overwrite, (".npy", ".png"))
    _, ds = load_data(args, run.config.data)
    n = len(ds) if out.suffix == ".npy" and args.n is None else min(len(ds), args.n or 16)
    sub = ds.subset(np.arange(n))
    if out.suffix == ".png":
        save_png(out, run.reconstruction_grid(sub, nrow=args.nrow))
    else:
        save_npy(out, run.reconstruct(sub))
    mse = float(run.score(sub).mean())
    part = rows_note(ds) if n == len(ds) else f"the first {n} of {rows_note(ds)}"
    print(f"wrote {out}: {n} reconstructions of {part}; mean squared error {mse:.5g} (model units)")
    return 0


def write_examples(run, out: Path, x, nrow: int) -> None:
    from ..checkpoint import save_npy
    from ..viz import grid_image, save_png
    if out.suffix == ".npy":
        save_npy(out, x)
        return
    if run.kind != "image":
        raise UsageError(f"--out {out}: a picture needs image data, this run is tabular; use a .npy file")
    save_png(out, grid_image(run.normalizer.to_unit_pixels(x), nrow=nrow))
