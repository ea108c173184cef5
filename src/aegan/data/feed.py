"""How training batches reach the step.

`TensorFeed`: the whole training set as one model-space tensor on the training device; a batch
is one `index_select` (no per-example `__getitem__`, no collate). The fast path, for data that
fits in memory.

`StreamFeed`: rows read from disk batch by batch (a large `.npy` read lazily, see
`data/npy_rows.py`, or an image folder decoded lazily, `data/images.py`; both `data/lazy.py`)
by a DataLoader, in the training process or in worker processes, normalised there, handed over
in pinned memory when training on a GPU. Only a few batches are in memory at a time, so the
data can be many times larger than the machine's memory.

Both take the driver's index batches, so batch order, resume and torchrun sharding are the
same whichever feed a run uses."""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np
import torch

Batch = tuple[torch.Tensor, "torch.Tensor | None"]


class TensorFeed:
    def __init__(self, x: torch.Tensor, y: torch.Tensor | None = None, device: torch.device | None = None):
        device = device or x.device
        self.x = x.to(device)
        self.y = None if y is None else y.to(device)
        self.device = device

    def __len__(self) -> int:
        return len(self.x)

    def take(self, idx: torch.Tensor) -> Batch:
        idx = idx.to(self.device)
        return self.x.index_select(0, idx), None if self.y is None else self.y.index_select(0, idx)

    def iterate(self, index_batches: Iterable[torch.Tensor]) -> Iterator[Batch]:
        return (self.take(idx) for idx in index_batches)

    def subset(self, idx: torch.Tensor) -> "TensorFeed":
        x, y = self.take(idx)
        return TensorFeed(x, y, self.device)


class _RowBatches(torch.utils.data.Dataset):
    """A map-style dataset whose items are whole batches: ds[idx array] -> normalised tensors.
    Runs in the DataLoader's worker processes."""

    def __init__(self, rows, normalizer, y: np.ndarray | None):
        self.rows, self.normalizer, self.y = rows, normalizer, y

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, idx) -> tuple[torch.Tensor, torch.Tensor]:
        idx = np.asarray(idx)
        x = self.normalizer.transform(self.rows[idx])
        y = torch.from_numpy(self.y[idx]) if self.y is not None else torch.zeros(0)
        return x, y


class StreamFeed:
    """Rows of a lazily read array (anything with len, shape and fancy __getitem__ returning
    numpy, pickled cheaply into workers), normalised batch by batch by `workers` processes."""

    def __init__(self, rows, normalizer, y: np.ndarray | None = None, device: torch.device | None = None,
                 workers: int = 0):
        self.rows, self.normalizer, self.y = rows, normalizer, y
        self.device = device or torch.device("cpu")
        self.workers = workers

    def __len__(self) -> int:
        return len(self.rows)

    def _move(self, b) -> Batch:
        x, y = b
        pinned = x.is_pinned()
        return (x.to(self.device, non_blocking=pinned),
                y.to(self.device, non_blocking=pinned) if self.y is not None else None)

    def take(self, idx: torch.Tensor) -> Batch:
        return self._move(_RowBatches(self.rows, self.normalizer, self.y)[idx.numpy()])

    def iterate(self, index_batches: Iterable[torch.Tensor]) -> Iterator[Batch]:
        order = [i.numpy() for i in index_batches]
        if not order:
            return iter(())
        loader = torch.utils.data.DataLoader(
            _RowBatches(self.rows, self.normalizer, self.y), sampler=order, batch_size=None,
            num_workers=min(self.workers, len(order)), pin_memory=self.device.type == "cuda",
            prefetch_factor=4 if self.workers else None, persistent_workers=False,
            generator=torch.Generator().manual_seed(0))  # not the global RNG: a VAE's sampling stays as in memory
        return (self._move(b) for b in loader)

    def subset(self, idx: torch.Tensor) -> "StreamFeed":
        sel = idx.numpy()
        return StreamFeed(self.rows.subset(sel), self.normalizer, None if self.y is None else self.y[sel],
                          self.device, self.workers)
