"""Finding a run's training data again from any folder: where it was (absolute path, size,
modification time, recorded in config.json's data_info["location"]) and whether it is still
there and unchanged."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from ..config import DataConfig
from ..errors import DataError


def location_of(dc: DataConfig, named: bool) -> dict | None:
    """What config.json records of a file or folder given to --data (None for a named dataset)."""
    if named:
        return None
    path = Path(dc.data).expanduser().resolve()
    if not path.exists():
        return None
    stat = path.stat()
    return {"path": str(path), "bytes": stat.st_size if path.is_file() else None, "mtime": stat.st_mtime}


def located(dc: DataConfig, info: dict, override: str | None = None, run: str = "this run") -> DataConfig:
    """The data settings of a run with --data pointing where the data is now: `override` (the
    user's --data), else the absolute path recorded at training time. A file that has changed
    since is used with a note on stderr; one that is gone is a one-line error."""
    if override:
        return dataclasses.replace(dc, data=override)
    loc = info.get("location")
    if not loc:
        return dc  # a named dataset, or a run from before locations were recorded
    path = Path(loc["path"])
    if not path.exists():
        raise DataError(f"{run} was trained on {path}, which is no longer there (moved or deleted); "
                        "point at its new place with --data PATH")
    stat = path.stat()
    if (loc.get("bytes") is not None and stat.st_size != loc["bytes"]) or stat.st_mtime != loc.get("mtime"):
        print(f"aegan: note: {path} has changed since {run} was trained (size or modification time); "
              "what is computed from it now may differ", file=sys.stderr)
    return dataclasses.replace(dc, data=str(path))
