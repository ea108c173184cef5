"""The `aegan` command. Thin: parse, call the library, print. User errors print one line and
exit 2 (usage) or 1 (runtime); `--debug` shows the traceback. Each group of commands is a module
here with its parsers and commands: train.py, use.py (sample, encode, ...), inspect.py (info,
data, evaluate, report), anomaly.py, codec.py (compress, decompress), tune.py, export.py,
explore.py."""

from __future__ import annotations

import argparse
import difflib
import os
import sys

from ..errors import AeganError, UsageError
from ..version import __version__
from . import anomaly, codec, explore, export, inspect, train, translate, tune, use
from .flags import Parser


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="aegan", description="Autoencoders and GANs on your own data.")
    parser.add_argument("--version", action="version", version=f"aegan {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser, metavar="COMMAND")
    train.add_parsers(sub)
    inspect.add_parsers(sub)
    use.add_parsers(sub)
    translate.add_parsers(sub)
    anomaly.add_parsers(sub)
    codec.add_parsers(sub)
    tune.add_parsers(sub)
    export.add_parsers(sub)
    explore.add_parsers(sub)
    return parser


def _innermost(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.ArgumentParser:
    """The (sub)command parser the words of argv lead to: 'train ae' -> the parser of aegan train ae."""
    for word in argv:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if subs and word in subs[0].choices:
            parser = subs[0].choices[word]
    return parser


def parse(argv: list[str] | None) -> argparse.Namespace:
    """Parsed arguments; an unknown flag is refused by the command it was given to, with the
    nearest flags that command has (--code_dim -> did you mean --code-dim?)."""
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    parser = build_parser()
    train.check_resume_argv(argv, _innermost(parser, argv[:1]))
    args, extra = parser.parse_known_args(argv)
    if extra:
        where = _innermost(parser, argv)
        known = [o for a in where._actions for o in a.option_strings]
        bad = next((w for w in extra if w.startswith("-")), extra[0])
        close = difflib.get_close_matches(bad.split("=")[0].replace("_", "-"), known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else ""
        where.error(f"unrecognized argument {bad}{hint}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    from .. import distributed  # torch: after the arguments are known to be good
    if distributed.setup() and not distributed.is_main():
        sys.stdout = open(os.devnull, "w")  # under torchrun rank 0 speaks for all
    try:
        for name in ("n", "nrow", "rows"):
            v = getattr(args, name, None)
            if v is not None and v < 1:
                raise UsageError(f"-{'-' if len(name) > 1 else ''}{name} {v} must be at least 1")
        code = args.fn(args)
        distributed.finish()  # under torchrun: every process ends its command before any leaves
        return code
    except AeganError as e:
        if args.debug:
            raise
        print(f"aegan {args.command}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"aegan {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `aegan ... | head`: the reader left; stop quietly
        sys.stdout = open(os.devnull, "w")
        return 0
    finally:
        distributed.teardown()
