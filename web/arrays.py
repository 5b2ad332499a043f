"""Compact copies of tensors for heatmaps: float16, zstd-compressed, bounded in size.

Format: u32 header length, JSON header ``{"shapes": [[...], [...]]}`` (``null`` for an absent
array), then the zstd-compressed float16 bytes of the present arrays in order. numpy only: no
pickle. When both arrays are there with one shape, the header also holds ``"difference":
scale`` and the bytes end with (yours − autograd) / scale in float16, the difference taken at
full precision first: a float64 exercise's slip of 1e-5 relative is far below float16's
resolution of the two tensors, so their float16 copies' difference would show rounding
noise, not the pattern of the mistake. Readers that predate it ignore the extra bytes.
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
    header: dict = {"shapes": [None if a is None else list(a.shape) for a in arrays]}
    raw = b"".join(a.tobytes() for a in arrays if a is not None)
    if student is not None and reference is not None \
            and tuple(student.shape) == tuple(reference.shape):
        diff = (student.detach().double() - reference.detach().double()).numpy()
        finite = diff[np.isfinite(diff)]
        scale = float(np.abs(finite).max()) if finite.size else 0.0
        if scale > 0:
            header["difference"] = scale
            raw += np.asarray(np.clip(diff / scale, -1, 1), dtype=np.float16).tobytes()
    head = json.dumps(header).encode()
    return _LEN.pack(len(head)) + head + zstandard.ZstdCompressor(level=3).compress(raw)


def unpack(blob: bytes) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Return (student, reference) float32 arrays from :func:`pack`'s bytes."""
    student, reference, _ = unpack_all(blob)
    return student, reference


def unpack_difference(blob: bytes) -> np.ndarray | None:
    """Return yours − autograd as :func:`pack` took it at full precision (float32 array), or
    None when the blob has none (different shapes, no difference, or an older blob)."""
    return unpack_all(blob)[2]


def unpack_all(blob: bytes) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """Return (student, reference, difference) from :func:`pack`'s bytes, decompressed once:
    the arrays of :func:`unpack` and the full-precision difference of
    :func:`unpack_difference` (None when the blob has none)."""
    (size,) = _LEN.unpack_from(blob)
    header = json.loads(blob[_LEN.size: _LEN.size + size])
    raw = zstandard.ZstdDecompressor().decompress(blob[_LEN.size + size:])
    out: list[np.ndarray | None] = []
    offset = 0
    for shape in header["shapes"]:
        if shape is None:
            out.append(None)
            continue
        count = int(np.prod(shape)) if shape else 1
        arr = np.frombuffer(raw, dtype=np.float16, count=count, offset=offset).reshape(shape)
        out.append(arr.astype(np.float32))
        offset += count * 2
    scale = header.get("difference")
    shapes = header["shapes"]
    difference = None
    if isinstance(scale, (int, float)) and scale > 0 and None not in shapes:
        count = int(np.prod(shapes[0])) if shapes[0] else 1
        if len(raw) >= offset + 2 * count:
            arr = np.frombuffer(raw, dtype=np.float16, count=count, offset=offset)
            difference = arr.reshape(shapes[0]).astype(np.float32) * np.float32(scale)
    return out[0], out[1], difference
