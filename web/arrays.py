"""Compact copies of tensors for heatmaps: float16, zstd-compressed, bounded in size.

Format: u32 header length, JSON header ``{"shapes": [[...], [...]], "has": [bool, bool]}``,
then the zstd-compressed float16 bytes of the present arrays in order. numpy only: no pickle.
"""

from __future__ import annotations

import json
import struct

import numpy as np
import zstandard

#: Tensors above this many elements are not kept (ex1's largest has 2,048).
MAX_ELEMENTS = 65_536
_LEN = struct.Struct("!I")


def pack(student, reference) -> bytes | None:
    """Return the compact form of (student, reference), or None when too big to keep."""
    arrays = [None if a is None else np.asarray(a.detach().float().numpy(), dtype=np.float16)
              for a in (student, reference)]
    if any(a is not None and a.size > MAX_ELEMENTS for a in arrays):
        return None
    header = {"shapes": [None if a is None else list(a.shape) for a in arrays]}
    raw = b"".join(a.tobytes() for a in arrays if a is not None)
    head = json.dumps(header).encode()
    return _LEN.pack(len(head)) + head + zstandard.ZstdCompressor(level=3).compress(raw)


def unpack(blob: bytes) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Return (student, reference) float32 arrays from :func:`pack`'s bytes."""
    (size,) = _LEN.unpack_from(blob)
    header = json.loads(blob[_LEN.size: _LEN.size + size])
    raw = zstandard.ZstdDecompressor().decompress(blob[_LEN.size + size:])
    out, offset = [], 0
    for shape in header["shapes"]:
        if shape is None:
            out.append(None)
            continue
        count = int(np.prod(shape)) if shape else 1
        arr = np.frombuffer(raw, dtype=np.float16, count=count, offset=offset).reshape(shape)
        out.append(arr.astype(np.float32))
        offset += count * 2
    return out[0], out[1]
