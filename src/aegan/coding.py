"""Entropy coding of integer symbols with integer frequency tables, through constriction's range
coder (https://bamler-lab.github.io/constriction/). The tables (models/entropy.py: Tables) are
the only probabilities used: each row's frequencies, divided by their power-of-two total, are
exact in float64, and constriction turns them into its own fixed-point model the same way on
every machine.

A stream codes segments in order; within a segment, the symbols of each table row are coded
together (rows in increasing order, symbols in C order), so the decoder, which knows the rows
(from the model and what it decoded before), reads them back in the same order. A row with a
single symbol (a channel training made constant) costs nothing: that symbol is certain and is not
coded at all.
"""

from __future__ import annotations

import numpy as np

from .errors import AeganError


class StreamError(AeganError):
    """The coded data does not decode (truncated, corrupted, or made for other tables)."""


def _model(freq: np.ndarray):
    import constriction  # imported on use: `aegan --help` loads no extension modules
    return constriction.stream.model.Categorical(freq / float(freq.sum()), perfect=False)


def _groups(rows: np.ndarray) -> list[tuple[int, np.ndarray]]:
    flat = rows.reshape(-1)
    order = np.argsort(flat, kind="stable")
    uniq, starts = np.unique(flat[order], return_index=True)
    return [(int(r), idx) for r, idx in zip(uniq, np.split(order, starts[1:]))]


class Encoder:
    def __init__(self):
        import constriction
        self._coder = constriction.stream.queue.RangeEncoder()

    def segment(self, symbols: np.ndarray, rows: np.ndarray, tables) -> None:
        flat = symbols.reshape(-1)
        for r, idx in _groups(rows):
            freq, offset = tables.row(r)
            if len(freq) > 1:
                self._coder.encode((flat[idx] - offset).astype(np.int32), _model(freq))

    def finish(self) -> bytes:
        return self._coder.get_compressed().astype("<u4").tobytes()


class Decoder:
    def __init__(self, data: bytes):
        import constriction
        if len(data) % 4:
            raise StreamError(f"a coded stream of {len(data)} bytes is not a whole number of 32-bit words")
        self._coder = constriction.stream.queue.RangeDecoder(np.frombuffer(data, dtype="<u4").astype(np.uint32))

    def segment(self, rows: np.ndarray, tables) -> np.ndarray:
        out = np.empty(rows.size, dtype=np.int64)
        for r, idx in _groups(np.ascontiguousarray(rows)):
            freq, offset = tables.row(r)
            if len(freq) == 0:
                raise StreamError(f"table row {r} is empty: the model's coding tables were never built")
            if len(freq) == 1:  # certain: never coded
                out[idx] = offset
                continue
            try:
                out[idx] = self._coder.decode(_model(freq), len(idx)).astype(np.int64) + offset
            except (AssertionError, ValueError, RuntimeError, OverflowError) as e:  # constriction: AssertionError
                raise StreamError(f"the coded data does not decode ({e})") from None
        return out.reshape(rows.shape)
