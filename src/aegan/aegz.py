"""The .aegz file: images coded by a learned codec run (`aegan compress`, `aegan decompress`).

Layout (integers as unsigned LEB128 varints unless sized):

    magic        4 bytes  b"AEGZ"
    version      1 byte   FORMAT_VERSION
    model        8 bytes  the first 8 bytes of the SHA-256 fingerprint of the run's weights
    channels, height, width, count     varints: the images' shape and how many there are
    payload      the rest but 4 bytes: the entropy-coded stream (32-bit little-endian words)
    crc          4 bytes  CRC-32 of everything before it (little-endian)

A file is checked whole before anything is decoded: magic, version, CRC, fingerprint, shape.
Every problem is one AegzError line naming the file and what to do.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass

from .errors import AeganError

MAGIC = b"AEGZ"
FORMAT_VERSION = 1
SUFFIX = ".aegz"
FINGERPRINT_BYTES = 8
MAX_COUNT = 1 << 31  # a header claiming more images than this is corrupt
MAX_SIDE = 1 << 16


class AegzError(AeganError):
    """A .aegz file that cannot be decoded (not one, damaged, newer, or from another model)."""


@dataclass(frozen=True)
class Header:
    fingerprint: bytes
    shape: tuple[int, int, int]
    count: int


def fingerprint(state: dict) -> bytes:
    """SHA-256 over a model's tensors (names in order, dtype, shape, bytes): which weights coded a file."""
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.numpy().tobytes() if t.numel() else b"")
    return h.digest()


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _read_varint(data: bytes, pos: int, name: str, what: str) -> tuple[int, int]:
    n = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise AegzError(f"{name}: the header ends inside its {what}; the file is truncated or not an .aegz file")
        byte = data[pos]
        pos += 1
        n |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return n, pos


def pack(header: Header, payload: bytes) -> bytes:
    c, h, w = header.shape
    body = (MAGIC + bytes([FORMAT_VERSION]) + header.fingerprint[:FINGERPRINT_BYTES]
            + b"".join(_varint(v) for v in (c, h, w, header.count)) + payload)
    return body + struct.pack("<I", zlib.crc32(body))


def unpack(data: bytes, name: str = "file") -> tuple[Header, bytes]:
    """(header, payload) of a whole .aegz file, or AegzError saying what is wrong with it."""
    if len(data) < len(MAGIC) or data[:len(MAGIC)] != MAGIC:
        raise AegzError(f"{name} is not an .aegz file (it does not start with {MAGIC!r}); expected a file written "
                        "by 'aegan compress'")
    if len(data) < len(MAGIC) + 1 + FINGERPRINT_BYTES + 4 + 4:
        raise AegzError(f"{name} is truncated ({len(data)} bytes, shorter than any .aegz header)")
    version = data[len(MAGIC)]
    if version > FORMAT_VERSION:
        raise AegzError(f"{name} has format version {version}, newer than this aegan reads ({FORMAT_VERSION}); "
                        "upgrade aegan")
    if version < 1:
        raise AegzError(f"{name} has format version {version}, which no aegan wrote; the file is damaged")
    body, (crc,) = data[:-4], struct.unpack("<I", data[-4:])
    if zlib.crc32(body) != crc:
        raise AegzError(f"{name} is damaged or truncated (its CRC-32 does not match); compress the images again")
    pos = len(MAGIC) + 1
    fp = body[pos:pos + FINGERPRINT_BYTES]
    pos += FINGERPRINT_BYTES
    values = []
    for what in ("channels", "height", "width", "count"):
        v, pos = _read_varint(body, pos, name, what)
        values.append(v)
    c, h, w, count = values
    if not (1 <= c <= 4 and 1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE and 1 <= count <= MAX_COUNT):
        raise AegzError(f"{name}: its header says {count} images of shape {(c, h, w)}, which no aegan writes; "
                        "the file is damaged")
    return Header(bytes(fp), (c, h, w), count), body[pos:]
