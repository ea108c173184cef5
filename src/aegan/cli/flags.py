"""What the commands share: the parser class, flags declared once (data, --out/--overwrite,
--debug), the flags made from config dataclass fields (`add_flags`, `from_flags`), reading the
data a command names and opening a run folder of the kind it needs."""

from __future__ import annotations

import argparse
import dataclasses
import typing
from dataclasses import fields

from ..config import SPLITS, DataConfig
from ..errors import UsageError, a

# torch and scikit-learn load with the commands that need them (inside them), so that --help and
# argument errors answer at once


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of argparse's usage block
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--debug", action="store_true", help="show the full traceback on errors")


def command(sub, name: str, help: str, fn, run: str | None = None,
            examples: tuple[str, ...] = ()) -> argparse.ArgumentParser:
    """The parser of a command that calls `fn(args)`; with `run`, its RUN folder argument's help;
    `examples` end its --help."""
    p = sub.add_parser(name, help=help, description=help, epilog=examples_text(examples),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    if run:
        p.add_argument("run", help=run)
    common(p)
    p.set_defaults(fn=fn)
    return p


def examples_text(examples: tuple[str, ...]) -> str | None:
    return "examples:\n" + "\n".join(f"  {e}" for e in examples) if examples else None


def out_flags(p: argparse.ArgumentParser, what: str, required: bool = True) -> None:
    """--out (`what` it names) and --overwrite."""
    p.add_argument("--out", required=required, help=what)
    p.add_argument("--overwrite", action="store_true", help="replace what is at --out (for a folder: aegan's files "
                                                            "in it)")


def run_folder_flags(p: argparse.ArgumentParser) -> None:
    """--out, --overwrite and --quiet of every command that trains into a run folder."""
    out_flags(p, "run folder to create")
    p.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")


def data_flags(p: argparse.ArgumentParser, required: bool = True, split_help: str | None = None) -> None:
    add_flags(p, DataConfig, skip=("normalize",))
    p.add_argument("--split", choices=SPLITS, default=None,
                   help=split_help or "which split to read (default: train when training; when applying a model, "
                                      "every row of a file or folder, in order, and the test split of a named "
                                      "dataset)")
    for action in p._actions:
        if action.dest == "DataConfig.data":
            action.required = required


def load_data(args, base: DataConfig | None = None, split_default: str | None = None):
    """(the data settings given on the command line, on top of `base`, a run's own; the Dataset),
    the split: --split, else `split_default`, else data/__init__.py: default_split."""
    from ..data import default_split, load_dataset
    dc = from_flags(args, DataConfig, base)
    split = args.split or split_default or default_split(dc.data)
    ds = load_dataset(dc, split)
    ds.extra["split"] = split
    return dc, ds


def rows_note(ds) -> str:
    """'all 500 rows of mine.npy' or 'the test split of digits (359 of 1797 rows)'."""
    from ..data import rows_read
    return rows_read(ds, ds.extra.get("split", "all"))


def open_run(path: str, task: str):
    """The run folder at `path`, which must hold a run of `task` (runs/tasks.py)."""
    from ..runs.registry import load
    run = load(path)
    if run.label != task:
        raise UsageError(f"{path} holds {a(run.label)} run, but this command needs {a(task)} run; {run.commands}")
    return run


# --- CLI flags from dataclass fields ---------------------------------------------------

def _float_list(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of numbers (e.g. 0.5,0.999)") from None


def _bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not on/off")


def _int_list(text: str) -> tuple[int, ...]:
    try:
        vals = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of integers (e.g. 512,256)") from None
    if not vals or min(vals) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected positive sizes, e.g. 512,256")
    return vals


def add_flags(parser: argparse.ArgumentParser, cls, skip: tuple[str, ...] = (), base=None,
              note: str | None = None, more: dict[str, str] | None = None) -> None:
    """Add one `--flag` per dataclass field; defaults are None so presets can tell what was given.
    The help shows the defaults of `base` (what the command really starts from; default: the
    dataclass's), with `more[field]` after it (other defaults, e.g. per dataset), or, with `note`,
    that note above the group instead of per-flag defaults."""
    hints = typing.get_type_hints(cls)
    group = parser.add_argument_group(cls.__name__.replace("Config", "").lower() + " options", note)
    for f in fields(cls):
        if f.name in skip or "help" not in f.metadata:  # a field without help is set by aegan, not by a flag
            continue
        tp = hints[f.name]
        origin = typing.get_origin(tp)
        if origin is typing.Union:
            tp = next(a for a in typing.get_args(tp) if a is not type(None))
        if typing.get_origin(tp) is tuple:
            conv = _float_list if typing.get_args(tp)[0] is float else _int_list
        else:
            conv = _bool if tp is bool else tp
        default = getattr(base, f.name) if base is not None else \
            f.default if f.default is not dataclasses.MISSING else f.default_factory()
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        if note:
            default = None  # the note says what the defaults are
        flag = "--" + f.metadata.get("flag", f.name.replace("_", "-"))
        if tp is bool and default is False:  # a switch
            group.add_argument(flag, dest=f"{cls.__name__}.{f.name}",
                               action="store_const", const=True, default=None, help=f.metadata["help"])
            continue
        group.add_argument(flag, dest=f"{cls.__name__}.{f.name}", type=conv,
                           default=None, choices=f.metadata.get("choices"),
                           metavar=None if f.metadata.get("choices") else ("on|off" if tp is bool else f.name.upper()),
                           help=f.metadata["help"] + ("" if default in (None, "") or "default" in f.metadata["help"]
                                                      else f" (default: {shown}"
                                                      + (f"; {more[f.name]}" if more and f.name in more else "")
                                                      + ")"))


def from_flags(args: argparse.Namespace, cls, base=None):
    """Build `cls` from parsed flags on top of `base` (defaults or a preset)."""
    obj = base if base is not None else cls()
    given = {f.name: getattr(args, f"{cls.__name__}.{f.name}") for f in fields(cls)
             if getattr(args, f"{cls.__name__}.{f.name}", None) is not None}
    return dataclasses.replace(obj, **given)
