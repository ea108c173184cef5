"""What the commands share: the parser class, flags declared once (data, --out/--overwrite,
--debug), reading the data a command names and opening a run folder of the kind it needs."""

from __future__ import annotations

import argparse

from ..config import SPLITS, DataConfig, add_flags, from_flags
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
