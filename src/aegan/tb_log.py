"""`--tensorboard`: per-epoch scalars and pictures in RUN/tb/, in TensorBoard's format.

TensorBoard is an optional dependency (`pip install aegan[tensorboard]`); without it the
flag stops before training with a message saying so."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import UsageError


class TensorBoardLog:
    """Writes nothing unless opened on a run folder with enabled=True."""

    def __init__(self, writer=None):
        self.writer = writer

    @staticmethod
    def require(path) -> None:
        """Fail before any folder is made when --tensorboard cannot work."""
        if path is None:
            raise UsageError("--tensorboard needs a run folder (--out)")
        try:
            import tensorboard  # noqa: F401
        except ImportError:
            raise UsageError("--tensorboard needs the tensorboard package: pip install 'aegan[tensorboard]' "
                             "(or pip install tensorboard)") from None

    @classmethod
    def open(cls, path: Path | None, enabled: bool) -> "TensorBoardLog":
        if not enabled:
            return cls()
        cls.require(path)
        from torch.utils.tensorboard import SummaryWriter
        return cls(SummaryWriter(str(path / "tb")))

    def epoch(self, record: dict, pictures: dict | None = None) -> None:
        """Every number of the epoch's record as a scalar; pictures (name -> PIL image) as images."""
        if self.writer is None:
            return
        step = int(record["epoch"])
        for k, v in record.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in ("epoch",):
                self.writer.add_scalar(k, v, step)
        for name, img in (pictures or {}).items():
            self.writer.add_image(name, np.asarray(img.convert("RGB")), step, dataformats="HWC")
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
