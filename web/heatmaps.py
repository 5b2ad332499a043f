"""Server-rendered heatmaps (Pillow): the student's gradient, autograd's, their difference,
and — when one is a multiple of the other — their ratio.

A diverging blue-white-red scale, symmetric around 0, shared by the first two panels so a
sign error or a wrong row/column is visible at a glance; the difference has its own scale.
The shared scale covers *both* tensors (not autograd's alone): with autograd's alone a ×32
bug saturated every cell of "yours" and the panels looked alike. Every panel carries a colour
bar with its values, so the scale is read, not guessed.

A panel is one image (:func:`render_panel`), so a page can let them wrap and stack on a phone;
:func:`render` keeps the side-by-side strip of all panels (the notebook report uses it).
PNGs are cached in the instance folder (a result never changes once stored).
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from web.arrays import unpack, unpack_all

CELL_MAX = 12  # pixels per element at most
PANEL_MAX = 360  # pixels per panel side at most
PANEL_MIN_W = 220  # room for the title and the colour bar's three labels
LABEL_H = 22
BAR_H = 12  # the colour bar under each panel
BAR_LABEL_H = 18
GREY = (200, 200, 200)  # cells a panel cannot show (a ratio over ~0)

#: The panels :func:`render_panel` knows, in display order.
PANELS = ("yours", "autograd", "difference", "ratio")

#: How far from an exact multiple (relative to the tensor's size) still reads as one: float16
#: storage alone is ~1e-3, float32 noise in a fused formula far below.
RATIO_TOLERANCE = 0.02


def _font(size: int = 15):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one fixed size
        return ImageFont.load_default()


def _as_2d(a: np.ndarray) -> np.ndarray:
    if a.ndim == 0:
        return a.reshape(1, 1)
    if a.ndim == 1:
        return a.reshape(1, -1)
    return a.reshape(a.shape[0], -1)


def _finite_max(a: np.ndarray | None) -> float:
    """Return max |a| over the finite values (0 when there are none): NaN never sets a scale."""
    if a is None or a.size == 0:
        return 0.0
    finite = np.abs(a[np.isfinite(a)])
    return float(finite.max()) if finite.size else 0.0


def _colour(t: np.ndarray) -> np.ndarray:
    """Map ``t`` in [-1, 1] to blue (−1), white (0), red (+1); NaN to grey. Returns RGB u8."""
    bad = ~np.isfinite(t)
    t = np.clip(np.nan_to_num(t, nan=0.0, posinf=1.0, neginf=-1.0), -1, 1)
    pos, neg = np.clip(t, 0, 1), np.clip(-t, 0, 1)
    r = 255 * (1 - neg * 0.85)
    g = 255 * (1 - np.maximum(pos, neg) * 0.85)
    b = 255 * (1 - pos * 0.85)
    rgb = np.stack([r, g, b], axis=-1).astype(np.uint8)
    rgb[bad] = GREY
    return rgb


def _fmt(v: float) -> str:
    return "0" if v == 0 else f"{v:.3g}"


def multiple_of(student: np.ndarray | None, reference: np.ndarray | None) -> float | None:
    """Return k when ``student`` ≈ k × ``reference`` (a scale bug), else None.

    A forgotten ``1/n`` makes every upstream gradient exactly n times too big; Bessel's
    correction in the wrong place makes one (n−1)/n; a sign error makes it −1. The colour
    heatmaps cannot show a uniform factor (both panels have the same pattern), so the page
    says it in words. k is the least-squares fit over the whole tensor, accepted when no
    element is further from ``k × reference`` than :data:`RATIO_TOLERANCE` of the tensor's
    size. None for: different shapes, any NaN/inf, an all-zero side, k ≈ 1 (that is a pass,
    not a multiple) or a residual that says the tensors are not proportional. k is snapped
    to a nearby integer or 1/integer (32, not 31.98: the stored copies are float16).

    Examples:
        >>> r = np.array([[1.0, -2.0], [0.5, 3.0]])
        >>> multiple_of(32 * r, r)
        32.0
        >>> multiple_of(r[::-1], r) is None
        True
    """
    if student is None or reference is None or student.shape != reference.shape \
            or student.size == 0:
        return None
    y = student.astype(np.float64).ravel()
    a = reference.astype(np.float64).ravel()
    if not (np.isfinite(y).all() and np.isfinite(a).all()):
        return None
    aa = float(a @ a)
    if aa == 0.0 or not np.any(y):
        return None
    k = float(y @ a) / aa
    if not math.isfinite(k) or k == 0.0 or abs(k - 1.0) < 1e-3:
        return None
    if float(np.abs(y - k * a).max()) > RATIO_TOLERANCE * float(np.abs(k * a).max()):
        return None
    for nice in (round(k), 1 / round(1 / k) if abs(k) < 1 else None):
        if nice and abs(k - nice) <= 1e-2 * abs(k):
            return float(nice)
    return k


def _ascii(k: float) -> str:
    return describe_multiple(k).split("≈ ")[1].split(" ")[0].replace("−", "-")


def describe_multiple(k: float) -> str:
    """Return the words for :func:`multiple_of`'s k, e.g. ``yours ≈ 32 × autograd's``."""
    if abs(k) < 1 and abs(1 / k - round(1 / k)) < 1e-9:
        text = f"1/{abs(round(1 / k))}"
        text = f"−{text}" if k < 0 else text
    else:
        text = f"{k:.3g}".replace("-", "−")
    return f"yours ≈ {text} × autograd's"


def _bar(width: int, low: float, high: float, log: bool = False) -> Image.Image:
    """Return a colour bar for the values ``low``…``high`` (0, or 1 for a log ratio, white)."""
    bar_w = max(60, width - 8)
    t = np.linspace(-1, 1, bar_w).reshape(1, -1).repeat(BAR_H, 0)
    img = Image.new("RGB", (width, BAR_H + BAR_LABEL_H), "white")
    img.paste(Image.fromarray(_colour(t), "RGB"), (4, 0))
    draw = ImageDraw.Draw(img)
    draw.rectangle((4, 0, 4 + bar_w - 1, BAR_H - 1), outline="#888")
    font = _font(12)
    labels = (_fmt(low), "1" if log else "0", _fmt(high))
    for text, anchor_x, align in zip(labels, (4, 4 + bar_w // 2, 4 + bar_w), ("l", "m", "r"),
                                     strict=True):
        w = draw.textlength(text, font=font)
        x = anchor_x if align == "l" else anchor_x - w / 2 if align == "m" else anchor_x - w
        draw.text((max(0, x), BAR_H + 2), text, fill="black", font=font)
    return img


def _panel(values: np.ndarray | None, t: np.ndarray | None, label: str,
           bar: tuple[float, float, bool] | None) -> Image.Image:
    """Return one panel: title, the cells coloured from ``t`` (in [-1, 1]), its colour bar."""
    if values is None or t is None:
        img = Image.new("RGB", (160, 60), "#eee")
        ImageDraw.Draw(img).text((8, 22), "no usable tensor", fill="#555")
    else:
        h, w = values.shape
        cell = max(1, min(CELL_MAX, PANEL_MAX // max(h, w, 1)))
        img = Image.fromarray(_colour(t), "RGB").resize((w * cell, h * cell), Image.NEAREST)
    width = max(img.width, PANEL_MIN_W)
    strip = _bar(width, *bar) if bar is not None else None
    height = LABEL_H + img.height + (strip.height + 4 if strip is not None else 0)
    out = Image.new("RGB", (width, height), "white")
    ImageDraw.Draw(out).text((2, 2), label, fill="black", font=_font())
    out.paste(img, (0, LABEL_H))
    if strip is not None:
        out.paste(strip, (0, LABEL_H + img.height + 4))
    return out


def panels(blob: bytes) -> dict[str, Image.Image]:
    """Return the panels of :func:`web.arrays.pack` bytes by name (see :data:`PANELS`).

    ``difference`` only when the shapes agree; ``ratio`` only when yours is a multiple of
    autograd's (:func:`multiple_of`): elementwise yours ÷ autograd's on a log scale centred
    on 1, grey where autograd's is ~0 (a ratio there is noise).
    """
    student, reference, exact = unpack_all(blob)
    ref2 = _as_2d(reference)
    stu2 = _as_2d(student) if student is not None else None
    scale = max(_finite_max(reference), _finite_max(student))

    def on(a: np.ndarray, s: float) -> np.ndarray:
        return a / s if s > 0 else np.zeros_like(a)

    out = {"yours": _panel(stu2, on(stu2, scale) if stu2 is not None else None, "yours",
                           (-scale, scale, False) if stu2 is not None else None),
           "autograd": _panel(ref2, on(ref2, scale), "autograd", (-scale, scale, False))}
    if student is not None and student.shape == reference.shape:
        diff = _as_2d(exact if exact is not None else student - reference)
        dscale = _finite_max(diff)
        out["difference"] = _panel(diff, on(diff, dscale), "yours - autograd",
                                   (-dscale, dscale, False))
        k = multiple_of(student, reference)
        if k is not None:
            out["ratio"] = _ratio_panel(stu2, ref2, k)
    return out


def _ratio_panel(student: np.ndarray, reference: np.ndarray, k: float) -> Image.Image:
    significant = np.abs(reference) > 1e-3 * _finite_max(reference)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(significant, student / np.where(significant, reference, 1), np.nan)
    # log10 |ratio| on a range that puts k well inside the bar: white at ×1, red above,
    # blue below; a sign error (k < 0) is told in the title, the colours show the size.
    span = max(1, math.ceil(abs(math.log10(abs(k))) * 1.25))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.log10(np.abs(ratio)) / span
    # Pillow's built-in font has no ÷, ≈ or ×: the image's words stay ASCII.
    title = (f"yours / autograd (about {_ascii(k)})" if k > 0 else
             f"|yours / autograd| (about {_ascii(-k)}, sign flipped)")
    return _panel(ratio, t, title, (10.0 ** -span, 10.0 ** span, True))


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def render_panel(blob: bytes, name: str) -> bytes | None:
    """Return one panel as a PNG, or None when this tensor has no such panel."""
    img = panels(blob).get(name)
    return None if img is None else _png(img)


def render(blob: bytes) -> bytes:
    """Return a PNG: yours | autograd | difference (| ratio), from :func:`web.arrays.pack` bytes."""
    parts = list(panels(blob).values())
    gap = 12
    width = sum(p.width for p in parts) + gap * (len(parts) - 1)
    height = max(p.height for p in parts)
    canvas = Image.new("RGB", (width, height), "white")
    x = 0
    for p in parts:
        canvas.paste(p, (x, 0))
        x += p.width + gap
    return _png(canvas)


def panel_names(blob: bytes) -> tuple[list[str], float | None]:
    """Return the names of the panels :func:`panels` would draw, and :func:`multiple_of`'s
    k, without drawing anything (the page lists one ``<img>`` per panel and says k)."""
    student, reference = unpack(blob)
    names = ["yours", "autograd"]
    k = None
    if student is not None and student.shape == reference.shape:
        names.append("difference")
        k = multiple_of(student, reference)
        if k is not None:
            names.append("ratio")
    return names, k


def cached(cache_dir: Path, key: str, blob: bytes, panel: str | None = None) -> bytes | None:
    """Return the PNG for ``key`` (one ``panel``, or the strip of all), rendering it once.

    None when the tensor has no such panel (not cached: it costs one unpack to find out).
    """
    path = cache_dir / f"{key}{'-' + panel if panel else ''}.png"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        png = render_panel(blob, panel) if panel else render(blob)
        if png is None:
            return None
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{id(png)}.tmp")
        tmp.write_bytes(png)
        tmp.replace(path)
        return png
