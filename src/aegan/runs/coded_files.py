"""What every run that writes .aegz files shares (`aegan compress` / `decompress`): images in the
data's own units -> the model's units -> entropy-coded segments in chunks -> one file (aegz.py),
and back, with the file's fingerprint and shape checked against the run before any decoding.

A run class mixes in CodedFiles and says how to code one chunk: encode_chunk(t) -> segments
(symbols, table rows, tables) and decode_chunk(n, next_symbols) -> images in model units.
Coding runs on the CPU, whatever the run trained on: the same arithmetic on both sides of a file
(GPU kernels may choose another summation order from one call to the next).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from tqdm.auto import tqdm

from .. import aegz
from ..coding import Decoder, Encoder, StreamError
from ..errors import UsageError

CHUNK = 256  # images per pass through the transforms, the same on both sides of a file


class CodedFiles:
    @property
    def can_compress(self) -> bool:
        return True

    def check_compressible(self) -> None:
        """Raise RunError/UsageError when this run cannot code files (yet)."""

    def encode_chunk(self, t: torch.Tensor, refine: int = 0) -> list:
        """The segments of a chunk of images (model units); `refine`: encoder-side optimisation
        steps of the latents, where the run has them (check_refine says whether it does)."""
        raise NotImplementedError

    refines = False  # whether encode_chunk can refine latents (codec runs)

    def check_refine(self, steps: int) -> None:
        """Raise UsageError when `steps` of latent refinement cannot be done by this run."""
        if steps < 0:
            raise UsageError(f"--refine {steps} must be 0 (off) or a number of steps, e.g. 100")
        if steps and not self.refines:
            raise UsageError(f"--refine {steps}: only codec runs (aegan train codec) refine their latents; "
                             "leave --refine out for this run")

    def decode_chunk(self, n: int, next_symbols) -> torch.Tensor:
        raise NotImplementedError

    @property
    def fingerprint(self) -> bytes:
        """aegz.fingerprint of the weights, hashed again only when a tensor changed (another tensor
        or an in-place write: its version counter): per-image files would otherwise hash per image."""
        state = self.module.state_dict()
        key = tuple((k, v.data_ptr(), v._version) for k, v in state.items())
        cached = self.__dict__.get("_fingerprint")
        if cached is None or cached[0] != key:
            self.__dict__["_fingerprint"] = cached = (key, aegz.fingerprint(state))
        return cached[1]

    def compress(self, x, per_image: bool = False, refine: int = 0, progress: bool = False) -> bytes | list[bytes]:
        """Images (a Dataset or an array in the data's own units) -> the bytes of one .aegz file,
        or with per_image a list of files' bytes, one per image. `refine`: steps of encoder-side
        latent optimisation per chunk (codec runs; slower encoding, same decoder)."""
        self.check_compressible()
        self.check_refine(refine)
        t = self.to_model(x)
        self.module.cpu().eval()
        if per_image:
            return [self._file(t[i:i + 1], refine) for i in tqdm(range(len(t)), disable=not progress, unit="image")]
        return self._file(t, refine, progress)

    def _file(self, t: torch.Tensor, refine: int = 0, progress: bool = False) -> bytes:
        enc = Encoder()
        with torch.no_grad():
            for i in tqdm(range(0, len(t), CHUNK), disable=not progress, unit="chunk"):
                for segment in self.encode_chunk(t[i:i + CHUNK].to(self.device), refine):
                    enc.segment(*segment)
        return aegz.pack(aegz.Header(self.fingerprint, self.shape, len(t)), enc.finish())

    def decompress(self, data: bytes, name: str = "file") -> np.ndarray:
        """The images of an .aegz file's bytes, in the data's own units (integer data comes back
        as its integer type); AegzError for any file this run cannot decode."""
        self.check_compressible()
        header, payload = aegz.unpack(data, name)
        mine = self.fingerprint[:aegz.FINGERPRINT_BYTES]
        if header.fingerprint != mine:
            raise aegz.AegzError(f"{name} was written by another model (fingerprint {header.fingerprint.hex()}, "
                                 f"this run's is {mine.hex()}); decompress it with the run that compressed it")
        if header.shape != self.shape:
            raise aegz.AegzError(f"{name} holds images of shape {header.shape}, this run codes {self.shape}")
        self.module.cpu().eval()
        try:
            dec = Decoder(payload)
            with torch.no_grad():
                out = [self.decode_chunk(min(CHUNK, header.count - i), dec.segment).cpu()
                       for i in range(0, header.count, CHUNK)]
        except StreamError as e:
            raise aegz.AegzError(f"{name}: {e}") from None
        return self.from_model(torch.cat(out))

    def from_model(self, t: torch.Tensor) -> np.ndarray:
        """Decoded images as the compressed ones came: 8-bit pixels (0-255) when the training images
        were uint8, else floats in the data's own units."""
        x = self.normalizer.inverse(t)
        if np.dtype(self.config.data_info.get("dtype", "float32")) == np.uint8:
            unit = self.normalizer.to_unit_pixels(x).numpy()
            return np.rint(unit * 255).astype(np.uint8)
        return np.asarray(x, dtype=np.float32)


def read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise aegz.AegzError(f"{path}: cannot be read ({e.strerror})") from None
