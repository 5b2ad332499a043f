"""Server-rendered heatmaps (Pillow): the student's gradient, autograd's, and their difference.

A diverging blue-white-red scale, symmetric around 0, shared by the first two panels so a
sign error or a wrong row/column is visible at a glance; the difference has its own scale.
PNGs are cached in the instance folder (a result never changes once stored).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from web.arrays import unpack

CELL_MAX = 12  # pixels per element at most
PANEL_MAX = 360  # pixels per panel side at most
LABEL_H = 22


def _font():
    try:
        return ImageFont.load_default(size=15)
    except TypeError:  # Pillow < 10.1 has one fixed size
        return ImageFont.load_default()


def _as_2d(a: np.ndarray) -> np.ndarray:
    if a.ndim == 0:
        return a.reshape(1, 1)
    if a.ndim == 1:
        return a.reshape(1, -1)
    return a.reshape(a.shape[0], -1)


def _colour(a: np.ndarray, scale: float) -> Image.Image:
    """Map values to blue (negative), white (0), red (positive)."""
    t = np.clip(a / scale, -1, 1) if scale > 0 else np.zeros_like(a)
    pos, neg = np.clip(t, 0, 1), np.clip(-t, 0, 1)
    r = 255 * (1 - neg * 0.85)
    g = 255 * (1 - np.maximum(pos, neg) * 0.85)
    b = 255 * (1 - pos * 0.85)
    rgb = np.stack([r, g, b], axis=-1).astype(np.uint8)
    return Image.fromarray(rgb, "RGB")


def _panel(a: np.ndarray | None, scale: float, label: str) -> Image.Image:
    if a is None:
        img = Image.new("RGB", (160, 60), "#eee")
        ImageDraw.Draw(img).text((8, 22), "no usable tensor", fill="#555")
    else:
        a2 = _as_2d(a)
        h, w = a2.shape
        cell = max(1, min(CELL_MAX, PANEL_MAX // max(h, w, 1)))
        img = _colour(a2, scale).resize((w * cell, h * cell), Image.NEAREST)
    out = Image.new("RGB", (max(img.width, 160), img.height + LABEL_H), "white")
    ImageDraw.Draw(out).text((2, 2), label, fill="black", font=_font())
    out.paste(img, (0, LABEL_H))
    return out


def render(blob: bytes) -> bytes:
    """Return a PNG: student | reference | difference, from :func:`web.arrays.pack` bytes."""
    student, reference = unpack(blob)
    scale = float(np.abs(reference).max()) if reference.size else 0.0
    panels = [_panel(student, scale, "yours"), _panel(reference, scale, "autograd")]
    if student is not None and student.shape == reference.shape:
        diff = student - reference
        dscale = float(np.abs(diff).max()) if diff.size else 0.0
        panels.append(_panel(diff, dscale, f"difference (max {dscale:.2g})"))
    gap = 12
    width = sum(p.width for p in panels) + gap * (len(panels) - 1)
    height = max(p.height for p in panels)
    canvas = Image.new("RGB", (width, height), "white")
    x = 0
    for p in panels:
        canvas.paste(p, (x, 0))
        x += p.width + gap
    buf = io.BytesIO()
    canvas.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def cached(cache_dir: Path, key: str, blob: bytes) -> bytes:
    """Return the PNG for ``key``, rendering it once."""
    path = cache_dir / f"{key}.png"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        png = render(blob)
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(png)
        tmp.replace(path)
        return png
