"""Result pages: live status, the per-tensor table with heatmaps, history and diffs."""

from __future__ import annotations

import difflib
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request
from flask_login import current_user, login_required
from markupsafe import Markup
from sqlalchemy import select

from grader.text import visible
from web import heatmaps
from web.access import get_assignment, get_submission, is_instructor, is_staff
from web.db import db
from web.models import CARRY_FORWARD, DONE, Submissions, TensorResults
from web.services import queue_health

bp = Blueprint("results", __name__)


@bp.get("/submissions/<int:submission_id>")
@login_required
def submission(submission_id: int):
    """Show a submission: live status until graded, then the whole result."""
    sub = get_submission(submission_id)
    failing = [r for r in sub.results if r.status not in ("exact", "close")]
    roots = [r for r in failing if r.root_cause]
    inherited = [r for r in failing if not r.root_cause and r.locally_correct]
    # Root causes first: fixing them is what fixes the rest; inherited errors last.
    problems = roots + [r for r in failing if r not in roots and r not in inherited] + inherited
    ordered = roots + [r for r in sub.results if r not in roots]
    return render_template("results/submission.html", sub=sub, results=ordered,
                           problems=problems, inherited=inherited,
                           carry_forward=sub.scoring == CARRY_FORWARD,
                           checks=(sub.result or {}).get("checks", []),
                           review=review_flags(sub), position=queue_health.position(sub),
                           regradable=_regradable(sub))


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
    """Return the submission's state, polled by the page (no manual reload)."""
    sub = get_submission(submission_id)
    return jsonify(id=sub.id, status=sub.status, score=sub.counted_score,
                   max_score=sub.max_score, scoring=sub.scoring,
                   position=queue_health.position(sub))


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


@bp.get("/submissions/<int:submission_id>/heatmap/<name>.png")
@login_required
def heatmap(submission_id: int, name: str):
    """Return the heatmap of one tensor that is not exact (cached PNG)."""
    sub = get_submission(submission_id)
    row = db.session.scalar(select(TensorResults).where(
        TensorResults.grading_id == sub.current_grading_id, TensorResults.name == name))
    if row is None or row.arrays is None:
        abort(404)
    png = heatmaps.cached(Path(current_app.instance_path) / "heatmaps", f"v2-{sub.id}-{row.id}",
                          row.arrays)
    response = Response(png, mimetype="image/png")
    response.headers["Cache-Control"] = "private, max-age=86400, immutable"
    return response


@bp.get("/assignments/<int:assignment_id>/history")
@login_required
def history(assignment_id: int):
    """List one's submissions of an assignment, with the scores over time."""
    assignment = get_assignment(assignment_id)
    subs = db.session.scalars(
        select(Submissions).where(Submissions.user_id == current_user.id,
                                  Submissions.assignment_id == assignment.id)
        .order_by(Submissions.id)).all()
    return render_template("results/history.html", assignment=assignment, subs=subs,
                           chart=_chart([s for s in subs if s.status == DONE]))


@bp.get("/submissions/diff")
@login_required
def diff():
    """Show a line diff between two of one's submissions (``?a=ID&other=ID``)."""
    a, other = request.args.get("a", type=int), request.args.get("other", type=int)
    if a is None or other is None:
        abort(400, "choose two submissions to compare (?a=ID&other=ID)")
    first, second = get_submission(a), get_submission(other)
    # HtmlDiff escapes &, < and >, not control characters or bidi overrides (Trojan Source:
    # U+202E makes code read differently from what runs): show them. Made visible before
    # splitting, so a form feed or C1 "next line" is shown, not taken for a line end.
    table = difflib.HtmlDiff(wrapcolumn=80).make_table(
        visible(first.code).splitlines(), visible(second.code).splitlines(),
        f"#{first.id}", f"#{second.id}", context=True, numlines=3)
    return render_template("results/diff.html", first=first, second=second,
                           table=Markup(table))


def _chart(subs: list[Submissions]) -> Markup:
    """Return a small inline SVG line chart of scores (no script needed)."""
    if not subs:
        return Markup("")
    w, h, pad = 480, 120, 16
    top = max((s.max_score or 1) for s in subs) or 1
    step = (w - 2 * pad) / max(1, len(subs) - 1)
    pts = [(pad + i * step, h - pad - (s.counted_score or 0) / top * (h - 2 * pad))
           for i, s in enumerate(subs)]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3"><title>#{s.id}: '
                   f'{s.counted_score:g}/{s.max_score:g}</title></circle>'
                   for (x, y), s in zip(pts, subs, strict=True))
    return Markup(f'<svg class="chart" viewBox="0 0 {w} {h}" role="img" '
                  f'aria-label="score per submission"><polyline points="{path}" fill="none" '
                  f'stroke="currentColor" stroke-width="2"/>{dots}</svg>')
