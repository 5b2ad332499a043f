"""Result pages: live status, the per-tensor table with heatmaps, history and diffs."""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from markupsafe import Markup, escape
from sqlalchemy import func, select

from grader import UnknownExercise, get_exercise
from grader.text import visible
from web import heatmaps
from web.access import get_assignment, get_submission, is_instructor, is_staff
from web.db import db
from web.models import CARRY_FORWARD, DONE, QUEUED, Submissions, TensorResults
from web.services import queue_health

bp = Blueprint("results", __name__)


@bp.get("/submissions/<int:submission_id>")
@login_required
def submission(submission_id: int):
    """Show a submission: live status until graded, then the whole result beside the code."""
    sub = get_submission(submission_id)
    failing = [r for r in sub.results if r.status not in ("exact", "close")]
    roots = [r for r in failing if r.root_cause]
    inherited = [r for r in failing if not r.root_cause and r.locally_correct]
    # Root causes first: fixing them is what fixes the rest; inherited errors last.
    problems = roots + [r for r in failing if r not in roots and r not in inherited] + inherited
    ordered = roots + [r for r in sub.results if r not in roots]
    code_lines = source_lines(sub.code)
    marks, tensor_lines = likely_lines(sub, roots, len(code_lines))
    return render_template("results/submission.html", sub=sub, results=ordered,
                           problems=problems, inherited=inherited, roots=roots,
                           carry_forward=sub.scoring == CARRY_FORWARD,
                           checks=(sub.result or {}).get("checks", []),
                           review=review_flags(sub), position=queue_health.position(sub),
                           regradable=_regradable(sub), whole_run=whole_run(sub, roots),
                           verdict=verdict(sub), decided=decided_by(sub),
                           code_lines=code_lines, marks=marks, tensor_lines=tensor_lines,
                           panels={r.name: _panels(r.arrays)
                                   for r in failing if r.arrays is not None},
                           own=sub.user_id == current_user.id)


def _panels(blob: bytes) -> tuple[list[str], str | None]:
    """Return a tensor's heatmap panels and, for a scale bug, the words for its factor."""
    names, k = heatmaps.panel_names(blob)
    return names, heatmaps.describe_multiple(k) if k is not None else None


#: Statuses of a run that produced no judgement of its own (spec §4 ``status``).
RUN_FAILURES = {"error": "Your code did not run to its end",
                "timeout": "Your code ran out of time",
                "memory_limit": "Your code ran out of memory",
                "violation": "Your code used something off limits"}
_LINE = re.compile(r"\bline (\d+)\b")


def whole_run(sub: Submissions, roots: list[TensorResults]) -> dict | None:
    """Return the banner of a failure of the whole run, or None when tensors differ.

    A syntax error, a forbidden call, a timeout, a crash in every case or an empty dict fail
    every tensor for one reason: 26 rows and 26 cards saying it once each bury the reason
    (and the printed output below them). It is a whole-run failure when the run itself
    failed, or when nothing passed and every tensor that is not a root cause failed with
    the same status and the same message up to its own name.
    """
    if sub.status != DONE:
        return None
    results = sub.results
    others = {(r.status, _unnamed(r.message, r.name)) for r in results if r not in roots}
    if sub.result_status in RUN_FAILURES:
        title = RUN_FAILURES[sub.result_status]
    elif len(results) < 2 or len(others) != 1 \
            or any(r.status in ("exact", "close") for r in results):
        return None
    else:
        title = "The same problem in every gradient"
    # what every tensor says, when it adds to the summary (e.g. "missing from the dict")
    common = next(iter(others))[1] if len(others) == 1 else ""
    common = re.sub(r"^…:\s*", "", common)
    if common in ("not evaluated", "") or common in (sub.message or ""):
        common = ""
    m = _LINE.search(sub.message or "")
    line = int(m.group(1)) if m else next((r.line for r in roots if r.line), None)
    return {"title": title, "message": sub.message or "", "common": common, "line": line,
            "roots": [r for r in roots if r.diagnosis or r.message]}


def _unnamed(message: str | None, name: str) -> str:
    """Return a tensor's message with its own name taken out, e.g. ``dW1: missing from the
    returned dict (key 'W1')`` → ``d…: missing from the returned dict (key '…')``."""
    text = message or ""
    return re.sub(rf"(?<![\w.])d?{re.escape(name)}(?!\w)", "…", text)


def verdict(sub: Submissions) -> tuple[str, str]:
    """Return the overall badge (class, text): it tells 2/26 from 26/26 at a glance."""
    status = sub.result_status or sub.status
    if status != "graded":
        return status, status.replace("_", " ")
    score, top = sub.counted_score or 0, sub.max_score or 0
    if top and score >= top:
        return "all-correct", "all correct"
    if score > 0:
        return "partial", "partly correct"
    return "none-correct", "none correct"


def decided_by(sub: Submissions) -> dict[str, str]:
    """Return, per tensor, which side of the pass rule decided its status.

    The rule is ``max|d − r| ≤ atol + rtol · max|r|`` (grader.judge): where autograd's
    values are ~0 (``dlogit_maxes``) the absolute tolerance decides and a large relative
    error means nothing; the page says so instead of showing a scary number alone.
    ``max|r|`` is ``max_abs_diff / rel_error``; the tolerances are the exercise's (a pack
    that is gone shows none).
    """
    try:
        ex = get_exercise(sub.exercise_id)
    except UnknownExercise:
        return {}
    tolerances = {g.name: ex.tolerances(g) for g in ex.graded}
    out = {}
    for r in sub.results:
        if r.name not in tolerances or r.status not in ("exact", "close", "wrong"):
            continue
        rtol, atol = tolerances[r.name]
        if r.status == "exact":
            out[r.name] = "equal"
            continue
        diff, rel = r.max_abs_diff, r.rel_error
        if diff is None or rel is None:
            continue
        scale = diff / rel if rel and math.isfinite(rel) else 0.0
        tol = atol + rtol * scale
        if r.status == "wrong":
            out[r.name] = f"over tolerance {tol:.2g}"
        else:
            out[r.name] = f"atol {atol:g}" if atol >= rtol * scale else f"rtol {rtol:g}"
    return out


def source_lines(code: str | None) -> list[str]:
    """Return the submission's lines as Python numbers them (``\\n``, ``\\r\\n`` or ``\\r``
    end a line), each made visible: control characters and bidi overrides are shown,
    never acted on (Trojan Source)."""
    text = code or ""
    lines = re.split(r"\r\n|\r|\n", text)
    if lines and lines[-1] == "":
        lines.pop()
    return [visible(line) for line in lines]


def likely_lines(sub: Submissions, roots: list[TensorResults], count: int) \
        -> tuple[dict[int, str], dict[str, list[tuple[int, bool]]]]:
    """Return the lines to highlight in the code, with why, and per tensor its lines.

    The error's line (a syntax error, a crash: the run's message names it), the lines the
    diagnosis names (each tensor's ``line``), else where each root cause's gradient is
    assigned (flagged True: a guess from the code, not the diagnosis). Lines past the end
    of the code (a message can say anything) are dropped.
    """
    marks: dict[int, list[str]] = {}
    per_tensor: dict[str, list[tuple[int, bool]]] = {}
    m = _LINE.search(sub.message or "") if sub.status == DONE else None
    if m:
        marks.setdefault(int(m.group(1)), []).append("the error")
    for r in sub.results:
        if r.line:
            marks.setdefault(r.line, []).append(f"d{r.name}")
            per_tensor.setdefault(r.name, []).append((r.line, False))
    for r in roots:
        if r.line:
            continue
        for n in assignment_lines(sub.code or "", r.name):
            marks.setdefault(n, []).append(f"where d{r.name} is computed")
            per_tensor.setdefault(r.name, []).append((n, True))
    shown = {n: ", ".join(why) for n, why in sorted(marks.items()) if 1 <= n <= count}
    return shown, {name: [(n, guess) for n, guess in lines if n in shown]
                   for name, lines in per_tensor.items()}


#: ``dname = …``, ``dname[ix] += …`` (grader.diagnosis.lines.assignment_line's rule).
_ASSIGN = r"^\s*d{}\s*(\[(?:[^\[\]\n]|\[[^\[\]\n]*\])*\])?\s*([-+*/@]?=)(?!=)"


def assignment_lines(code: str, name: str, most: int = 3) -> list[int]:
    """Return the lines that assign ``d{name}`` (a root cause the diagnosis gave no line):
    ``dlogprobs = zeros…`` then ``dlogprobs[…] = -1.0`` are both where to look. The
    diagnosis names one line only when one line does it; the page may show a few. More
    than ``most`` is no hint at all: none."""
    pattern = re.compile(_ASSIGN.format(re.escape(name)))
    hits = [i for i, line in enumerate(re.split(r"\r\n|\r|\n", code), 1) if pattern.match(line)]
    return hits if len(hits) <= most else []


def _regradable(sub: Submissions) -> bool:
    """Return whether the viewer may regrade this submission (an instructor of its course)."""
    a = sub.assignment
    return (sub.status == DONE and a is not None and a.course.archived_at is None
            and is_instructor(current_user, a.course_id))


def review_flags(sub: Submissions) -> list[dict]:
    """Return the result's flags for review (e.g. ``possibly_numerical``) when the viewer
    is staff of the submission's course: they are for an instructor's judgement, not a verdict
    shown to the student (no points depend on them)."""
    flags = (sub.result or {}).get("review_flags") or []
    if not flags or sub.assignment is None or not is_staff(current_user, sub.assignment.course_id):
        return []
    return [f for f in flags if isinstance(f, dict) and isinstance(f.get("message"), str)]


@bp.get("/submissions/<int:submission_id>/status.json")
@login_required
def status(submission_id: int):
    """Return the submission's state, polled by the page (no manual reload), with
    ``poll_ms``: when to ask again.

    The page polls instead of the server waiting for a change: gunicorn runs sync workers
    (two under ``backprop serve``), and a request held open would stop a worker serving
    anyone else. So the answer stays one short read (no transaction is left open), and the
    server, which knows how close the result is, paces the polls: soon while the grading runs
    or is next in line, slower the further back it waits (no ``poll_ms`` once it is done).
    """
    sub = get_submission(submission_id)
    position = queue_health.position(sub)
    state = dict(id=sub.id, status=sub.status, score=sub.counted_score,
                 max_score=sub.max_score, scoring=sub.scoring, position=position)
    if sub.status == QUEUED and position is None:  # a batch or regrade: the bulk queue
        state["poll_ms"] = 3000
    elif sub.status != DONE:  # running, or its place in the live queue
        state["poll_ms"] = min(3000, 100 * (position or 1) ** 2)
    response = jsonify(state)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/submissions/<int:submission_id>/results.json")
@login_required
def results_json(submission_id: int):
    """Download the submission's result JSON (spec §4) as a file."""
    sub = get_submission(submission_id)
    if sub.status != DONE or sub.result is None:
        abort(404, "this submission has no result yet")
    response = jsonify(sub.result)
    response.headers["Content-Disposition"] = \
        f'attachment; filename="submission-{sub.id}-results.json"'
    return response


@bp.get("/submissions/<int:submission_id>/code.py")
@login_required
def code(submission_id: int):
    """Download the submitted code as ``submission-<id>.py`` (plain text, never rendered)."""
    sub = get_submission(submission_id)
    response = Response(sub.code or "", mimetype="text/plain")
    response.headers["Content-Disposition"] = f'attachment; filename="submission-{sub.id}.py"'
    return response


@bp.get("/submissions/<int:submission_id>/heatmap/<name>.png")
@login_required
def heatmap(submission_id: int, name: str):
    """Return the heatmaps of one tensor that is not exact (cached PNG): all panels side by
    side, or one (``?panel=yours|autograd|difference|ratio``) so a phone can stack them."""
    sub = get_submission(submission_id)
    panel = request.args.get("panel")
    if panel is not None and panel not in heatmaps.PANELS:
        abort(404)
    row = db.session.scalar(select(TensorResults).where(
        TensorResults.grading_id == sub.current_grading_id, TensorResults.name == name))
    if row is None or row.arrays is None:
        abort(404)
    png = heatmaps.cached(Path(current_app.instance_path) / "heatmaps", f"v4-{sub.id}-{row.id}",
                          row.arrays, panel)
    if png is None:
        abort(404)
    response = Response(png, mimetype="image/png")
    response.headers["Cache-Control"] = "private, max-age=86400, immutable"
    return response


@bp.get("/assignments/<int:assignment_id>/history")
@login_required
def history(assignment_id: int):
    """List one's submissions of an assignment as numbered attempts, with a score chart.

    Attempts are numbered per student and assignment (1, 2, …), not by the global
    submission id that students cannot make sense of; each links a diff with the previous.
    """
    assignment = get_assignment(assignment_id)
    subs = attempts_of(current_user.id, assignment.id)
    rows = [(n, s, subs[n - 2] if n > 1 else None) for n, s in enumerate(subs, 1)]
    return render_template("results/history.html", assignment=assignment, rows=rows,
                           chart=_chart([(n, s) for n, s, _ in rows if s.status == DONE],
                                        assignment))


def attempts_of(user_id: int | None, assignment_id: int | None) -> list[Submissions]:
    """Return a student's submissions of one assignment, oldest first: attempt n is [n-1]."""
    return list(db.session.scalars(
        select(Submissions).where(Submissions.user_id == user_id,
                                  Submissions.assignment_id == assignment_id)
        .order_by(Submissions.id)))


def attempt_number(sub: Submissions) -> int:
    """Return which attempt of its student at its assignment ``sub`` is (1 for the first)."""
    return db.session.scalar(select(func.count()).select_from(Submissions).where(
        Submissions.user_id == sub.user_id, Submissions.assignment_id == sub.assignment_id,
        Submissions.id <= sub.id)) or 1


@bp.get("/submissions/diff")
@login_required
def diff():
    """Show the changes between two attempts at one assignment (``?a=ID&other=ID``).

    Both must be readable by the viewer (404 otherwise, like any row one may not see), of
    the same assignment, and of the same student unless the viewer is the course's staff.
    """
    a, other = request.args.get("a", type=int), request.args.get("other", type=int)
    if a is None or other is None:
        abort(400, "choose two submissions to compare (?a=ID&other=ID)")
    first, second = get_submission(a), get_submission(other)
    if first.assignment_id is None or first.assignment_id != second.assignment_id:
        abort(400, "these two submissions are for different assignments: compare two "
                   "attempts at the same assignment")
    staff = is_staff(current_user, first.assignment.course_id)
    if first.user_id != second.user_id and not staff:
        abort(400, "these two submissions are by different students")
    lines = unified_rows(first.code, second.code)
    mine = first.user_id == current_user.id
    return render_template(
        "results/diff.html", first=first, second=second, lines=lines,
        n_first=attempt_number(first), n_second=attempt_number(second),
        back=url_for("results.history", assignment_id=first.assignment_id) if mine else
        url_for("staff.student", code=first.assignment.course.code, user_id=first.user_id)
        if staff and first.user_id is not None else None,
        added=sum(1 for r in lines if r.kind == "add"),
        removed=sum(1 for r in lines if r.kind == "del"))


@dataclass(frozen=True)
class DiffRow:
    """One row of a unified diff: ``kind`` is "ctx", "add", "del" or "hunk" (a ``@@``
    header); the line numbers are those of the old and new text (None where absent)."""

    kind: str
    old: int | None
    new: int | None
    text: str


_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def unified_rows(old_code: str, new_code: str, context: int = 3) -> list[DiffRow]:
    """Return the unified diff of two codes as rows with line numbers (empty: identical).

    Control characters and bidi overrides are made visible (:func:`grader.text.visible`)
    before splitting, so a form feed or U+0085 is shown rather than taken for a line end,
    and U+202E cannot make a line read differently from what runs. HTML escaping is the
    template's (autoescape): the text stays text here.
    """
    rows: list[DiffRow] = []
    old_no = new_no = 0
    for line in difflib.unified_diff(visible(old_code).split("\n"),
                                     visible(new_code).split("\n"), lineterm="", n=context):
        if line.startswith(("---", "+++")) and not rows:
            continue
        match = _HUNK.match(line)
        if match:
            old_no, new_no = int(match[1]), int(match[2])
            rows.append(DiffRow("hunk", None, None, line))
        elif line.startswith("+"):
            rows.append(DiffRow("add", None, new_no, line[1:]))
            new_no += 1
        elif line.startswith("-"):
            rows.append(DiffRow("del", old_no, None, line[1:]))
            old_no += 1
        else:
            rows.append(DiffRow("ctx", old_no, new_no, line[1:]))
            old_no, new_no = old_no + 1, new_no + 1
    return rows


def _chart(points: list[tuple[int, Submissions]], assignment) -> Markup:
    """Return an inline SVG line chart of score per attempt, with axes (no script needed).

    The score axis runs from 0 to the maximum (labelled), the attempt axis is labelled with
    attempt numbers (every k-th when many, so labels never overlap); a submission that does
    not count is drawn hollow. ``role="img"`` with a <title> and <desc> for screen readers.
    """
    if not points:
        return Markup("")
    w, h, left, right, top, bottom = 480, 170, 44, 14, 14, 38
    pw, ph = w - left - right, h - top - bottom
    top_score = max([s.max_score or 0 for _, s in points] + [assignment.max_score or 0]) or 1
    step = pw / max(1, len(points) - 1)
    every = max(1, -(-len(points) // 12))  # at most ~12 attempt labels

    def y(v: float) -> float:
        return top + ph - max(0.0, min(v, top_score)) / top_score * ph

    xs = [left + (i * step if len(points) > 1 else pw / 2) for i in range(len(points))]
    parts = [f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}"/>',
             f'<line class="axis" x1="{left}" y1="{top + ph}" x2="{left + pw}" '
             f'y2="{top + ph}"/>']
    for value in sorted({0.0, top_score / 2, float(top_score)}):
        parts.append(f'<line class="grid" x1="{left}" y1="{y(value):.1f}" x2="{left + pw}" '
                     f'y2="{y(value):.1f}"/><text class="tick" x="{left - 6}" '
                     f'y="{y(value) + 4:.1f}" text-anchor="end">{value:g}</text>')
    parts.append(f'<text class="axis-label" x="12" y="{top + ph / 2:.1f}" '
                 f'transform="rotate(-90 12 {top + ph / 2:.1f})" text-anchor="middle">'
                 f'score</text>')
    for i, ((n, _), x) in enumerate(zip(points, xs, strict=True)):
        if i % every == 0 or i == len(points) - 1:
            parts.append(f'<text class="tick" x="{x:.1f}" y="{top + ph + 16}" '
                         f'text-anchor="middle">{n}</text>')
    parts.append(f'<text class="axis-label" x="{left + pw / 2:.1f}" y="{h - 4}" '
                 f'text-anchor="middle">attempt</text>')
    scores = [(x, y(s.counted_score or 0)) for x, (_, s) in zip(xs, points, strict=True)]
    parts.append('<polyline class="line" fill="none" stroke="currentColor" stroke-width="2" '
                 f'points="{" ".join(f"{x:.1f},{yy:.1f}" for x, yy in scores)}"/>')
    for (x, yy), (n, s) in zip(scores, points, strict=True):
        counted = s.gradable is not False
        parts.append(
            f'<circle class="{"dot" if counted else "dot not-counted"}" cx="{x:.1f}" '
            f'cy="{yy:.1f}" r="4"><title>attempt {n}: {s.counted_score or 0:g} / '
            f'{s.max_score or 0:g}{"" if counted else " (not counted)"}</title></circle>')
    best = max((s.counted_score or 0) for _, s in points)
    desc = (f"{len(points)} graded attempt{'s' if len(points) != 1 else ''}; latest "
            f"{points[-1][1].counted_score or 0:g} of {top_score:g}, best {best:g}.")
    return Markup(
        f'<svg class="chart" viewBox="0 0 {w} {h}" role="img" '
        f'aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="chart-title">Score per attempt (out of {top_score:g})</title>'
        f'<desc id="chart-desc">{escape(desc)}</desc>{"".join(parts)}</svg>')
