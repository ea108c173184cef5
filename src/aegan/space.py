"""Search spaces of `aegan tune`: the range a config field is tuned over is declared on the field
itself (config.py: `_f(..., tune=Range(...))`), so each family's space sits next to its config; a
small JSON or YAML file can replace or add ranges (`null` removes one). Pure: a trial is anything
with Optuna's suggest_float / suggest_int / suggest_categorical."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

from .errors import UsageError


@dataclasses.dataclass(frozen=True)
class Range:
    """Numbers from low to high (integers with `integer`), sampled on a log scale with `log`."""

    low: float
    high: float
    log: bool = False
    integer: bool = False
    when: tuple[str, object] | None = None  # only when another field has this value: ("arch", "conv")

    def suggest(self, trial, name: str):
        if self.integer:
            return trial.suggest_int(name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(name, float(self.low), float(self.high), log=self.log)

    def describe(self) -> str:
        return f"{self.low:g}..{self.high:g}{' log' if self.log else ''}{' int' if self.integer else ''}"

    def to_dict(self) -> dict:
        return {"low": self.low, "high": self.high, "log": self.log, "integer": self.integer}


@dataclasses.dataclass(frozen=True)
class Choice:
    """One of `values` (tuples of sizes are offered to Optuna as text: "32,64,128")."""

    values: tuple
    when: tuple[str, object] | None = None

    def suggest(self, trial, name: str):
        shown = [_text(v) for v in self.values]
        picked = trial.suggest_categorical(name, shown)
        return self.values[shown.index(picked)]

    def describe(self) -> str:
        return "{" + " | ".join(str(_text(v)) for v in self.values) + "}"

    def to_dict(self) -> dict:
        return {"choices": [list(v) if isinstance(v, tuple) else v for v in self.values]}


def _text(v):
    return ",".join(map(str, v)) if isinstance(v, tuple) else v


def declared(cls, skip: tuple[str, ...] = ()) -> dict[str, Range | Choice]:
    """The ranges declared on the fields of a config dataclass, less `skip`."""
    return {f.name: f.metadata["tune"] for f in dataclasses.fields(cls)
            if "tune" in f.metadata and f.name not in skip}


def applies(spec: Range | Choice, values: dict) -> bool:
    """Whether a range applies given the other settings (`when`)."""
    return spec.when is None or values.get(spec.when[0]) == spec.when[1]


def read_overrides(path: str | Path) -> dict:
    """A search-space file: {field: {"low": .., "high": .., "log": true, "integer": true} |
    {"choices": [...]} | null}, JSON or YAML."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise UsageError(f"--space {path}: cannot read it ({e.strerror or e})") from None
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml  # installed with optuna
            raw = yaml.safe_load(text)
        else:
            raw = json.loads(text)
    except Exception as e:  # json.JSONDecodeError, yaml.YAMLError
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise UsageError(f"--space {path}: not valid {'YAML' if path.suffix.lower() in ('.yaml', '.yml') else 'JSON'}"
                         f" ({first})") from None
    if not isinstance(raw, dict):
        raise UsageError(f"--space {path}: expected an object of field: range, e.g. "
                         '{"lr": {"low": 1e-4, "high": 1e-2, "log": true}, "batch_size": {"choices": [32, 64]}}')
    return raw


def parse_entry(name: str, entry, where: str) -> Range | Choice | None:
    """One field's range from a search-space file; None removes the field from the space."""
    if entry is None:
        return None
    if isinstance(entry, dict) and "choices" in entry and set(entry) <= {"choices"}:
        values = entry["choices"]
        if not isinstance(values, list) or not values:
            raise UsageError(f"{where}: {name}: choices must be a non-empty list")
        return Choice(tuple(tuple(v) if isinstance(v, list) else v for v in values))
    if isinstance(entry, dict) and {"low", "high"} <= set(entry) <= {"low", "high", "log", "integer"}:
        low, high = entry["low"], entry["high"]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in (low, high)):
            raise UsageError(f"{where}: {name}: low and high must be numbers, got {low!r} and {high!r}")
        if low > high:
            raise UsageError(f"{where}: {name}: low {low} is above high {high}; give low <= high")
        log = bool(entry.get("log", False))
        if log and low <= 0:
            raise UsageError(f"{where}: {name}: a log range needs low > 0, got {low}")
        return Range(low, high, log=log, integer=bool(entry.get("integer", False)))
    raise UsageError(f"{where}: {name}: expected {{\"low\": .., \"high\": .., \"log\": true|false}}, "
                     f"{{\"choices\": [...]}} or null, got {json.dumps(entry)}")


def merged(space: dict, overrides: dict, known: dict[str, type], family: str, where: str) -> dict:
    """`space` with a file's entries on top; `known`: field -> its type, of the family."""
    out = dict(space)
    for name, entry in overrides.items():
        if name not in known:
            raise UsageError(f"{where}: {name!r} is not a setting of {family}; its settings are "
                             f"{', '.join(sorted(known))}")
        spec = parse_entry(name, entry, where)
        if spec is None:
            out.pop(name, None)
            continue
        kind = known[name]
        if isinstance(spec, Range):
            if kind not in (int, float):
                example = "[[256], [512, 256]]" if kind is tuple else '["a", "b"]'
                raise UsageError(f"{where}: {name} is not a number; give its values as choices, e.g. "
                                 f'{{"choices": {example}}}')
            if kind is int and not spec.integer:
                spec = dataclasses.replace(spec, integer=True)
        else:
            wrong = next((v for v in spec.values if not _fits(v, kind)), None)
            if wrong is not None:
                raise UsageError(f"{where}: {name}: the choice {json.dumps(wrong)} is not a {_KINDS.get(kind, kind)}")
        out[name] = spec
    return out


_KINDS = {int: "whole number", float: "number", str: "word", bool: "true or false", tuple: "list of sizes"}


def _fits(value, kind) -> bool:
    """Whether a choice from a file has the type of its setting."""
    if kind is tuple:
        return isinstance(value, tuple) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def from_dict(d: dict) -> dict[str, Range | Choice]:
    """The space as study.json keeps it, read back."""
    return {k: parse_entry(k, v, "study.json") for k, v in d.items()}


def to_dict(space: dict) -> dict:
    return {k: v.to_dict() for k, v in space.items()}
