"""Small server-rendered SVG charts: no script, no CDN, readable by a screen reader.

Each function returns :class:`markupsafe.Markup` to print as is. Every chart has
``role="img"`` with a ``<title>`` and ``<desc>`` (named by ``aria-labelledby``), a
``viewBox`` so it scales down on a phone, and the classes of style.css (``.bars .bar``,
``.axis``, ``.mark``). Every piece of text — tensor names, codes, titles — is made visible
(:func:`grader.text.visible`) and HTML-escaped here: all of it is treated as hostile.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

from grader.text import visible

#: Presentation attributes: what a chart looks like without the stylesheet (CSS overrides).
BAR, AXIS, MARK = 'fill="#2456c7"', 'stroke="#dde1e7"', 'stroke="#b3261e"'
FONT = 'font-size="12" font-family="system-ui, sans-serif"'


def _t(text: object) -> Markup:
    """Return text safe inside SVG (element content or a quoted attribute)."""
    return escape(visible(str(text)))


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _svg(chart_id: str, width: int, height: int, title: str, desc: str, body: str,
         kind: str) -> Markup:
    cid = _t(chart_id)
    return Markup(
        f'<svg class="bars {kind}" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-labelledby="{cid}-title {cid}-desc" {FONT} '
        f'xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{cid}-title">{_t(title)}</title><desc id="{cid}-desc">{_t(desc)}</desc>'
        f'{body}</svg>')


def bar_chart(rows: Sequence[tuple[str, float | None, str]], *, chart_id: str, title: str,
              desc: str, width: int = 420) -> Markup:
    """Return horizontal bars, one per ``(label, value in [0, 1] or None, text)`` row.

    The label is on the left (cut at 16 characters; the whole of it in the bar's tooltip),
    the text (e.g. ``"83 %"``) right of the bar; a None value draws no bar and its text.
    """
    row_h, left, right, top = 22, 112, 96, 6
    span = width - left - right
    height = top * 2 + row_h * max(1, len(rows))
    parts = [f'<line class="axis" x1="{left}" y1="0" x2="{left}" y2="{height}" {AXIS}/>']
    for i, (label, value, text) in enumerate(rows):
        y = top + i * row_h
        w = 0.0 if value is None else max(0.0, min(1.0, value)) * span
        parts.append(
            f'<g><title>{_t(label)}: {_t(text)}</title>'
            f'<text x="{left - 6}" y="{y + 15}" text-anchor="end">{_t(_short(label, 16))}</text>'
            f'<rect class="bar" x="{left}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" '
            f'{BAR}/><text x="{left + w + 4:.1f}" y="{y + 15}">{_t(text)}</text></g>')
    return _svg(chart_id, width, height, title, desc, "".join(parts), "hbars")


def column_chart(rows: Sequence[tuple[str, int]], *, chart_id: str, title: str, desc: str,
                 marker: tuple[float, str] | None = None, width: int = 480) -> Markup:
    """Return vertical bars, one per ``(label, count)``: a histogram or a time series.

    Labels are printed under every k-th bar so that they never overlap (each bar's tooltip
    has its own). ``marker`` draws a vertical line at a position in bars from the left edge
    (``1.5``: the middle of the second bar) with a label: e.g. the deadline.
    """
    left, right, top, bottom = 34, 8, 34, 26
    n = max(1, len(rows))
    height = 200
    plot_w, plot_h = width - left - right, height - top - bottom
    bw = plot_w / n
    peak = max((c for _, c in rows), default=0) or 1
    longest = max((len(_short(label, 12)) for label, _ in rows), default=1)
    every = max(1, math.ceil(n / max(1, plot_w // (9 * longest + 14))))
    base = top + plot_h
    parts = [f'<line class="axis" x1="{left}" y1="{base}" x2="{width - right}" y2="{base}" '
             f'{AXIS}/>',
             f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">{peak}</text>',
             f'<text x="{left - 4}" y="{base}" text-anchor="end">0</text>']
    for i, (label, count) in enumerate(rows):
        x, h = left + i * bw, count / peak * plot_h
        cx = x + bw / 2
        bit = (f'<g><title>{_t(label)}: {count}</title>'
               f'<rect class="bar" x="{x + bw * 0.1:.1f}" y="{base - h:.1f}" '
               f'width="{bw * 0.8:.1f}" height="{h:.1f}" {BAR}/>')
        if count and bw >= 16:
            bit += f'<text x="{cx:.1f}" y="{base - h - 3:.1f}" text-anchor="middle">{count}</text>'
        if i % every == 0:
            bit += (f'<text x="{cx:.1f}" y="{base + 14}" text-anchor="middle">'
                    f'{_t(_short(label, 12))}</text>')
        parts.append(bit + "</g>")
    if marker is not None:
        x = left + max(0.0, min(float(n), marker[0])) * bw
        anchor = "end" if x > width * 0.7 else "start"
        dx = -4 if anchor == "end" else 4
        parts.append(f'<g class="mark"><line x1="{x:.1f}" y1="{top - 18}" x2="{x:.1f}" '
                     f'y2="{base}" stroke-width="2" stroke-dasharray="5 3" {MARK}/>'
                     f'<text x="{x + dx:.1f}" y="{top - 20}" text-anchor="{anchor}">'
                     f'{_t(marker[1])}</text></g>')
    return _svg(chart_id, width, height, title, desc, "".join(parts), "columns")


def histogram(bins: Sequence[tuple[float, float, int]], *, chart_id: str, title: str,
              desc: str) -> Markup:
    """Return a histogram of ``(low, high, count)`` bins, each labelled by its lower edge
    (short enough that every bar keeps its label, the full-marks bin included)."""
    return column_chart([(f"{low:g}", c) for low, _high, c in bins],
                        chart_id=chart_id, title=title, desc=desc)


def time_series(rows: Sequence[tuple[str, int]], *, chart_id: str, title: str, desc: str,
                marker_at: float | None = None, marker_label: str = "deadline") -> Markup:
    """Return counts per period (``(label, count)``, in order) with an optional marker line
    (the deadline) at a position in periods from the first one's start."""
    marker = None if marker_at is None else (marker_at, marker_label)
    return column_chart(rows, chart_id=chart_id, title=title, desc=desc, marker=marker)
