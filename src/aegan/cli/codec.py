"""`aegan compress` and `aegan decompress`: images into .aegz files with a codec run, and back."""

from __future__ import annotations

from pathlib import Path

from ..errors import UsageError, a
from .flags import command, data_flags, load_data, out_flags, rows_note

# torch loads with the commands that need them (inside them), so that --help answers at once


def add_parsers(sub) -> None:
    p = command(sub, "compress", "code images into an .aegz file with a codec run", cmd_compress, "codec run folder (or a vqvae autoencoder)",
                examples=("aegan compress runs/codec --data fashion-mnist --out test.aegz     # the test split",
                          "aegan compress runs/codec --data photos/ --out photos.aegz",
                          "aegan compress runs/codec --data x.npy --out coded/ --per-image"))
    out_flags(p, "the .aegz file to write (with --per-image: a folder for one .aegz per image)")
    p.add_argument("--per-image", action="store_true",
                   help="one file per image (00000.aegz, 00001.aegz, ...) instead of one for all")
    p.add_argument("--refine", type=int, default=0, metavar="STEPS",
                   help="codec runs: optimise each image's latents for STEPS gradient steps on its own rate + "
                        "lambda x distortion before coding (Yang et al. 2020; the same decoder reads the file). "
                        "Slower encoding for smaller files at the same quality; 0: off (default). "
                        "Measured: see README's Compression section")
    data_flags(p)

    p = command(sub, "decompress", "decode .aegz files back into images", cmd_decompress,
                examples=("aegan decompress test.aegz --run runs/codec --out decoded.png",
                          "aegan decompress test.aegz --run runs/codec --out decoded.npy",
                          "aegan decompress coded/ --run runs/codec --out images/     # one PNG per image"))
    p.add_argument("files", nargs="+", help=".aegz files, or folders of them (decoded in name order)")
    p.add_argument("--run", required=True, help="the run folder that compressed them (codec or vqvae)")
    out_flags(p, "images.npy (all images, the data's own units), grid.png (a picture of them) or a folder "
                 "(one PNG per image)")
    p.add_argument("--nrow", type=int, default=16, help="pictures per row in a grid .png (default 16)")


def open_coder(path: str):
    """The run at `path`, which must write .aegz files: a codec run or a vqvae autoencoder."""
    from ..runs.registry import load
    run = load(path)
    if not getattr(run, "can_compress", False):
        family = getattr(run.config.model, "family", None)
        what = f"{a(family)} autoencoder run" if family else f"{a(run.label)} run"
        raise UsageError(f"{path} holds {what}; compress and decompress need a codec run (aegan train codec) or a "
                         "vqvae autoencoder (aegan train vqvae)")
    run.check_compressible()
    return run


def cmd_compress(args) -> int:
    from .. import aegz
    from ..checkpoint import atomic_write
    run = open_coder(args.run)
    run.check_refine(args.refine)  # before any file is touched
    out = Path(args.out)
    if args.per_image:
        _check_folder(out, args.overwrite, aegz.SUFFIX)
    else:
        from ..checkpoint import check_output_file
        out = check_output_file(out, args.overwrite, (aegz.SUFFIX,))
    _, ds = load_data(args, run.config.data)
    data = run.compress(ds, per_image=args.per_image, refine=args.refine, progress=args.refine > 0)
    if args.per_image:
        out.mkdir(exist_ok=True)
        width = max(5, len(str(len(data) - 1)))
        for i, d in enumerate(data):
            atomic_write(out / f"{i:0{width}d}{aegz.SUFFIX}", lambda tmp, d=d: Path(tmp).write_bytes(d))
        total = sum(map(len, data))
        where = f"{len(data)} files in {out}"
    else:
        atomic_write(out, lambda tmp: Path(tmp).write_bytes(data))
        total, where = len(data), str(out)
    raw = ds.x.nbytes
    print(f"wrote {where}: {len(ds)} images of {rows_note(ds)}, {total} bytes ({total / len(ds):.1f} per image, "
          f"{raw / max(total, 1):.1f}x smaller than the {raw} bytes of raw {ds.x.dtype} pixels)")
    return 0


def _check_folder(out: Path, overwrite: bool, suffix: str) -> None:
    """--out as a folder of `suffix` files: not a file, not holding such files unless --overwrite."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; expected a folder for the {suffix} files (or a file name with "
                         "a suffix)")
    if out.is_dir() and any(out.glob(f"*{suffix}")) and not overwrite:
        raise UsageError(f"--out {out} already holds {suffix} files; pass --overwrite to replace them")
    if not out.parent.is_dir():
        raise UsageError(f"--out {out}: folder {out.parent} does not exist; create it first")


def _inputs(names: list[str]) -> list[Path]:
    from .. import aegz
    files: list[Path] = []
    for name in names:
        p = Path(name)
        if p.is_dir():
            found = sorted(p.glob(f"*{aegz.SUFFIX}"))
            if not found:
                raise UsageError(f"{p} holds no {aegz.SUFFIX} files; expected files written by 'aegan compress'")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise UsageError(f"{p} does not exist; expected an .aegz file or a folder of them")
    return files


def cmd_decompress(args) -> int:
    import numpy as np

    from ..checkpoint import atomic_write, check_output_file, save_npy
    from ..runs.coded_files import read_file
    from ..viz import grid_image, save_png
    run = open_coder(args.run)
    out = Path(args.out)
    folder = out.suffix == ""
    if folder:
        _check_folder(out, args.overwrite, ".png")
    else:
        out = check_output_file(out, args.overwrite, (".npy", ".png"))
    files = _inputs(args.files)
    x = np.concatenate([run.decompress(read_file(f), str(f)) for f in files])  # every file checked before writing
    if folder:
        out.mkdir(exist_ok=True)
        width = max(5, len(str(len(x) - 1)))
        for i in range(len(x)):
            img = _picture(run, x[i])
            atomic_write(out / f"{i:0{width}d}.png", lambda tmp, img=img: img.save(tmp, format="PNG"))
    elif out.suffix == ".npy":
        save_npy(out, x)
    else:
        save_png(out, grid_image(run.normalizer.to_unit_pixels(x.astype(np.float32)), nrow=args.nrow))
    size = sum(f.stat().st_size for f in files)
    print(f"wrote {out}: {len(x)} images of shape {tuple(x.shape[1:])} from {len(files)} file(s), {size} bytes")
    return 0


def _picture(run, image):
    """One decoded image (C, H, W) as a PIL image at its own size: 8-bit data as it is, other
    data through the run's pixel range."""
    import numpy as np
    from PIL import Image
    if image.dtype != np.uint8:
        unit = run.normalizer.to_unit_pixels(image.astype(np.float32)).numpy()
        image = np.rint(unit * 255).astype(np.uint8)
    if image.shape[0] == 1:
        return Image.fromarray(image[0])
    return Image.fromarray(np.ascontiguousarray(image[:3].transpose(1, 2, 0)))
