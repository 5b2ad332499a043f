"""The notebook's report of one graded submission: HTML for Jupyter, plain text for ``print``.

The HTML reads top-down the way a student debugs: the score; a whole-run failure as one
banner (syntax error, crash, timeout, violation) instead of 26 identical rows; what the code
printed; the root causes with their diagnosis, the line it points at and a heatmap (yours |
autograd | difference); other failures; the tensors that only inherited an upstream error,
folded; then the per-tensor table and the exact code that was sent.

Everything in a result may come from the submission (what it printed, exception messages,
returned keys) or from a server: every such text goes through :func:`_esc` — control
characters made visible (:func:`grader.text.visible`), then :func:`html.escape`. Styles are
inline attributes (not a ``<style>`` block, which Jupyter strips from untrusted notebooks),
with translucent colours so the report reads in light and dark themes alike.
"""

from __future__ import annotations

import base64
import html
import logging
import re
from typing import Any

from grader.result import GRADED, NOT_RETURNED, GradeResult, TensorResult, number_text
from grader.text import visible

log = logging.getLogger(__name__)

#: Heatmaps drawn at most (each is a few KiB of PNG in the notebook file).
MAX_HEATMAPS = 6
#: The tail of the printed output shown (the result keeps up to 64 KiB).
MAX_STDOUT_CHARS = 4000

RED, GREEN, AMBER, MAGENTA, GREY = "#d64545", "#2e9d4f", "#c98a00", "#b04fc0", "#888"
STATUS_COLOURS = {"exact": GREEN, "close": GREEN, "wrong": RED, "not_finite": RED,
                  "shape_mismatch": MAGENTA, "bad_type": MAGENTA, "missing": AMBER}

_BOX = ("font-family: var(--jp-ui-font-family, system-ui, -apple-system, 'Segoe UI', "
        "sans-serif); font-size: 13px; line-height: 1.45; color: inherit; max-width: 1000px")
_MONO = "font-family: var(--jp-code-font-family, ui-monospace, 'SFMono-Regular', monospace)"
_PRE = (f"{_MONO}; font-size: 12px; background: rgba(128,128,128,.12); padding: 6px 8px; "
        "border-radius: 4px; white-space: pre-wrap; overflow-x: auto; margin: 4px 0")
_CELL = "padding: 2px 10px; border-bottom: 1px solid rgba(128,128,128,.25); text-align: left"
_DIM = "opacity: .7"


def _esc(value: Any) -> str:
    """Return ``value`` safe inside HTML text or a quoted attribute."""
    return html.escape(visible(str(value)), quote=True)


def _banner(colour: str, body: str) -> str:
    alpha = "rgba(214,69,69,.12)" if colour == RED else (
        "rgba(46,157,79,.12)" if colour == GREEN else "rgba(201,138,0,.12)")
    return (f'<div style="border-left: 4px solid {colour}; background: {alpha}; '
            f'padding: 8px 12px; border-radius: 4px; margin: 6px 0">{body}</div>')


def _status(t: TensorResult) -> str:
    colour = STATUS_COLOURS.get(t.status, GREY)
    out = f'<span style="color: {colour}; font-weight: 600">{_esc(t.status)}</span>'
    if t.root_cause:
        out += f' <span style="color: {RED}">← root cause</span>'
    elif not t.passed and t.locally_correct:
        out += f' <span style="{_DIM}">(inherited)</span>'
    if t.values_match:
        out += ' <span style="color: #2a9bb0">· values right after a reshape</span>'
    return out


def _line_of(code: str | None, line: int | None) -> str:
    """Return the submitted line ``line`` as a one-line code block (empty if unknown)."""
    if not code or not line:
        return ""
    lines = code.splitlines()
    if not 1 <= line <= len(lines):
        return ""
    return (f'<div style="{_PRE}">line {line}: {_esc(lines[line - 1].strip())}</div>')


def _heatmap(result: GradeResult, name: str) -> str:
    """Return an inline ``<img>`` of yours | autograd | difference, or "" when not possible.

    Results from a server carry no arrays (only the local ``check`` has them).
    """
    pair = result.arrays.get(name)
    if pair is None or pair[1] is None:
        return ""
    try:
        from web.arrays import pack
        from web.heatmaps import render

        blob = pack(*pair)
        if blob is None:  # too large to draw usefully
            return ""
        png = base64.b64encode(render(blob)).decode("ascii")
    except Exception:  # a picture is a bonus: never lose the report for it
        log.exception("heatmap of %s failed", name)
        return ""
    return (f'<div style="margin: 4px 0 10px"><img alt="heatmap of d{_esc(name)}: yours, '
            f'autograd, difference" style="max-width: 100%; image-rendering: pixelated; '
            f'border-radius: 3px" src="data:image/png;base64,{png}"></div>')


def _failure_banner(result: GradeResult, code: str | None) -> str:
    """One banner for a run that failed as a whole, with the line it names (if any)."""
    lines = [int(n) for n in re.findall(r"\bline (\d+)", result.message)]
    body = (f'<div style="font-weight: 600; color: {RED}">{_esc(result.status)}: the code '
            f'was not graded</div><div style="{_PRE}">{_esc(result.message)}</div>'
            + (_line_of(code, lines[-1]) if lines else ""))
    return _banner(RED, body)


def _problems(result: GradeResult, code: str | None) -> str:
    """Root causes first (diagnosis, line, heatmap), then other failures, then the folds."""
    failing = [t for t in result.tensors if not t.passed]
    roots = [t for t in failing if t.root_cause]
    inherited = [t for t in failing if not t.root_cause and t.locally_correct]
    unreturned = [t for t in failing if not t.root_cause and NOT_RETURNED in t.message]
    others = [t for t in failing if t not in roots and t not in inherited
              and t not in unreturned and t.message and t.message != "not evaluated"]
    out, drawn = [], 0
    for t in roots + others:
        label = (f'<span style="color: {RED}; font-weight: 600">✗ d{_esc(t.name)} — '
                 f'root cause</span>' if t.root_cause else
                 f'<span style="color: {RED}; font-weight: 600">✗ d{_esc(t.name)}</span>')
        diagnosis = ""
        if t.diagnosis:
            tag = f' <span style="{_DIM}">[{_esc(t.fingerprint)}]</span>' if t.fingerprint \
                else ""
            diagnosis = f'<div style="color: {AMBER}">→ {_esc(t.diagnosis)}{tag}</div>'
        picture = _heatmap(result, t.name) if drawn < MAX_HEATMAPS else ""
        drawn += bool(picture)
        out.append(f'<div style="margin: 8px 0" data-tensor="{_esc(t.name)}">{label} '
                   f'<span>{_esc(t.message)}</span>{diagnosis}{_line_of(code, t.line)}'
                   f'{picture}</div>')
    if unreturned:
        out.append(f'<div style="margin: 8px 0"><span style="color: {RED}">✗</span> '
                   f'{len(unreturned)} tensors not returned where backward raised (the error '
                   'is in the summary above)</div>')
    if inherited:
        names = ", ".join(f"d{t.name}" for t in inherited)
        out.append(f'<details style="margin: 8px 0"><summary style="cursor: pointer">'
                   f'{len(inherited)} inherited an upstream error (right given your own '
                   f'upstream gradients)</summary><div style="{_DIM}; margin: 4px 0 0 16px">'
                   f'{_esc(names)}</div></details>')
    return "".join(out)


def _table(result: GradeResult) -> str:
    head = "".join(f'<th style="{_CELL}">{h}</th>' for h in
                   ("tensor", "status", "max abs diff", "rel err", "shape", "points"))
    rows = "".join(
        f'<tr><td style="{_CELL}; {_MONO}">d{_esc(t.name)}</td><td style="{_CELL}">'
        f'{_status(t)}</td><td style="{_CELL}; {_MONO}">{_esc(number_text(t.max_abs_diff))}</td>'
        f'<td style="{_CELL}; {_MONO}">{_esc(number_text(t.rel_error))}</td>'
        f'<td style="{_CELL}; {_MONO}">{_esc(t.shapes_text())}</td>'
        f'<td style="{_CELL}; text-align: right">{t.points:g}/{t.max_points:g}</td></tr>'
        for t in result.tensors)
    passed = sum(t.passed for t in result.tensors)
    return (f'<details open style="margin: 8px 0"><summary style="cursor: pointer">'
            f'{passed} of {len(result.tensors)} tensors correct</summary>'
            f'<table style="border-collapse: collapse; margin-top: 4px; background: '
            f'transparent"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
            f'</details>')


def to_html(result: GradeResult, *, code: str | None = None, link: str | None = None,
            note: str | None = None) -> str:
    """Return the report as one self-contained HTML fragment.

    :param code: the module that was sent (shown folded, and used to quote diagnosed lines).
    :param link: the submission's page on a course server (``submit``).
    :param note: one more line under the score (e.g. the score the assignment counts).
    """
    full = result.status == GRADED and result.score == result.max_score
    colour = GREEN if full else (RED if result.status != GRADED else AMBER)
    meta = (f"{_esc(result.exercise)} · {len(result.cases)} cases · "
            f"{result.runtime_ms:.0f} ms")
    extra = []
    if result.status == GRADED and result.carry_forward_score is not None \
            and result.carry_forward_score != result.score:
        extra.append(f"error carried forward: {result.carry_forward_score:g}")
    if result.status == GRADED and result.values_score is not None \
            and result.values_score != result.score:
        extra.append(f'shape rule "values": {result.values_score:g}')
    parts = [f'<div class="backprop-report" style="{_BOX}">',
             f'<div style="display: flex; gap: 12px; align-items: baseline; flex-wrap: wrap">'
             f'<span style="font-size: 18px; font-weight: 700; color: {colour}">'
             f'score {result.score:g} / {result.max_score:g}</span>'
             f'<span style="{_DIM}">{meta}</span>'
             + (f'<span style="{_DIM}">({_esc("; ".join(extra))})</span>' if extra else "")
             + "</div>"]
    if note:
        parts.append(f"<div>{_esc(note)}</div>")
    if result.status != GRADED:
        parts.append(_failure_banner(result, code))
    else:
        parts.append(f"<div>{_esc(result.message)}</div>")
    if result.stdout.strip():
        shown = result.stdout.rstrip()[-MAX_STDOUT_CHARS:]
        parts.append(f'<details open style="margin: 6px 0"><summary style="cursor: pointer">'
                     f'your code printed</summary><div style="{_PRE}">{_esc(shown)}</div>'
                     f'</details>')
    if result.status == GRADED:
        parts.append(_problems(result, code))
        for check in result.checks:
            mark = (f'<span style="color: {GREEN}">✓</span>' if check.passed
                    else f'<span style="color: {RED}">✗</span>')
            parts.append(f"<div>{mark} {_esc(check.name)} check: {_esc(check.message)} "
                         f"({check.points:g}/{check.max_points:g})</div>")
        parts.append(_table(result))
    for flag in result.review_flags:
        if isinstance(flag, dict):
            parts.append(f'<div style="color: {AMBER}">⚑ for review: '
                         f'{_esc(flag.get("message", ""))}</div>')
    if link:
        parts.append(f'<div style="margin: 6px 0"><a href="{_esc(link)}" target="_blank" '
                     f'rel="noopener">see this submission on the course server</a> '
                     f'<span style="{_DIM}">(heatmaps are there)</span></div>')
    if code is not None:
        numbered = "\n".join(f"{i:>3}  {line}" for i, line in
                             enumerate(code.splitlines(), start=1))
        parts.append(f'<details style="margin: 6px 0"><summary style="cursor: pointer">code '
                     f'sent ({len(code.splitlines())} lines)</summary><div style="{_PRE}">'
                     f'{_esc(numbered)}</div></details>')
    parts.append("</div>")
    return "".join(parts)


def to_text(result: GradeResult, *, link: str | None = None) -> str:
    """Return a short plain-text summary (what ``print(check(...))`` shows)."""
    lines = [f"{result.exercise}: score {result.score:g} / {result.max_score:g} "
             f"({result.status})", visible(result.message)]
    if result.status == GRADED:
        for t in result.tensors:
            if t.passed:
                continue
            tag = " ← root cause" if t.root_cause else (
                " (inherited)" if t.locally_correct else "")
            lines.append(f"  ✗ d{visible(t.name)}: {visible(t.status)}{tag}")
            if t.root_cause and t.diagnosis:
                lines.append(f"      → {visible(t.diagnosis)}")
    if result.stdout.strip():
        lines += ["your code printed:", visible(result.stdout.rstrip()[-MAX_STDOUT_CHARS:])]
    if link:
        lines.append(visible(link))
    return "\n".join(lines)
