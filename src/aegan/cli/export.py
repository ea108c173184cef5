"""`aegan export RUN --format onnx --out DIR`: a run's parts as ONNX graphs (export.py), checked in
onnxruntime before the command says it is done."""

from __future__ import annotations

from pathlib import Path

from ..errors import UsageError
from .flags import command, out_flags

FORMATS = ("onnx",)


def add_parsers(sub) -> None:
    p = command(sub, "export", "the parts of a run as ONNX graphs for use without aegan or PyTorch", cmd_export,
                "run folder: an autoencoder, GAN, codec or anomaly detector",
                examples=("aegan export runs/ae --format onnx --out ae-onnx      # encoder.onnx, decoder.onnx, "
                          "model.json",
                          "aegan export runs/detector --format onnx --out det-onnx   # + scorer.onnx"))
    p.add_argument("--format", choices=FORMATS, default="onnx", help="the format (onnx: opset 18, a dynamic batch "
                                                                      "axis)")
    out_flags(p, "the folder to write the graphs and model.json into")
    p.add_argument("--no-check", action="store_true", help="skip the parity check in onnxruntime")


def cmd_export(args) -> int:
    from ..export import export_onnx
    from ..export_check import check_parity
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; expected a folder for the ONNX files")
    if out.is_dir() and any(out.iterdir()) and not args.overwrite:
        raise UsageError(f"--out {out} already holds files; pass --overwrite to replace them, or choose another folder")
    meta = export_onnx(args.run, out, overwrite=args.overwrite)
    for part in meta["parts"]:
        ins = ", ".join(f"{i['name']} {tuple(i['shape'])} {i['dtype']}" for i in part["inputs"])
        outs = ", ".join(o["name"] for o in part["outputs"])
        print(f"wrote {out / part['file']}: {ins} -> {outs}")
    if not args.no_check:
        worst = check_parity(args.run, out)
        print(f"checked in onnxruntime against PyTorch on random and real inputs: largest difference {worst:.2g}")
    print(f"wrote {out / 'model.json'}: shapes, value ranges, the normaliser")
    return 0
