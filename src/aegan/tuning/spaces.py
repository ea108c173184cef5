"""A command's search space: the ranges declared on its model and training settings (config.py,
`tune=`; space.py), less what the command line fixed, with a --space file's entries on top."""

from __future__ import annotations

import dataclasses
import typing

from ..config import RunConfig, TrainConfig
from ..runs.tasks import TASKS
from ..space import Range, applies, declared, merged


def space_for(command: str, base: RunConfig, given: set[str], overrides: dict | None, where: str,
              input_size: int | None = None) -> tuple[dict, dict]:
    """(space, sections): the ranges declared for COMMAND's model and training settings (less
    what the command line fixed, less ranges whose `when` does not hold), with a file's entries
    on top; a code is never searched larger than `input_size`, the values per example.
    sections: field -> "model" | "train"."""
    task = TASKS[base.task]
    skip_model = task.skip_model + task.skip_model_for(command)
    values = {**dataclasses.asdict(base.train), **dataclasses.asdict(base.model)}
    space = {**declared(task.model_config, skip_model), **declared(TrainConfig, task.skip_train)}
    space = {k: v for k, v in space.items() if k not in given and applies(v, values)}
    if command == "vqvae":
        space.pop("code_dim", None)  # it must stay a multiple of --vq-dim (a --space file may still name it)
    sections = {f.name: "model" for f in dataclasses.fields(task.model_config) if f.name not in skip_model}
    sections.update({f.name: "train" for f in dataclasses.fields(TrainConfig) if f.name not in task.skip_train})
    if overrides:
        hints = {**typing.get_type_hints(task.model_config), **typing.get_type_hints(TrainConfig)}
        known = {k: _base_type(hints[k]) for k in sections}
        space = merged(space, overrides, known, command, where)
        space = {k: v for k, v in space.items() if k not in given}
    code = space.get("code_dim")
    if input_size is not None and isinstance(code, Range) and code.high > input_size:
        if code.low > input_size:
            space.pop("code_dim")
        else:
            space["code_dim"] = dataclasses.replace(code, high=input_size)
    return space, {k: sections[k] for k in space}


def _base_type(tp):
    if typing.get_origin(tp) is typing.Union:
        tp = next(a for a in typing.get_args(tp) if a is not type(None))
    return typing.get_origin(tp) or tp
