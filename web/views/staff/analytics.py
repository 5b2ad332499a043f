"""Staff pages: per-assignment analytics — where a class's understanding breaks.

The numbers come from :func:`web.services.analytics.assignment_analytics`; this module only
draws them (SVG from :mod:`web.charts`) and serves each table as CSV, every cell through
:func:`grader.text.csv_cell`.
"""

from __future__ import annotations

import csv
import io

from flask import abort, render_template, request
from flask_login import login_required
from markupsafe import Markup

from grader.text import csv_cell
from web import charts
from web.access import get_course_assignment, get_staff_course
from web.services import analytics as service
from web.views.staff import bp, csv_response


def _section() -> str | None:
    """Return the ``?section=`` asked for (None: the whole class)."""
    value = (request.args.get("section") or "").strip()
    return value[:64] or None


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.0f} %"


def _charts(a: service.Analytics) -> dict[str, Markup]:
    """Return the page's four SVG charts."""
    if a.empty:
        return {}
    right = [(t.label, t.share_right, f"{_pct(t.share_right)} ({t.right}/{t.students})")
             for t in a.tensors]
    hist = [(b.low, b.high, b.count) for b in a.histogram]
    tl = a.timeline
    fmt = "%d %b %Hh" if tl.unit == "hour" else "%d %b"
    times = [(t.strftime(fmt), c) for t, c in tl.buckets]
    tries = [(str(k), c) for k, c in a.attempts.distribution] + [("never", a.attempts.never)]
    return {
        "difficulty": charts.bar_chart(
            right, chart_id="chart-difficulty",
            title="Share of students whose best submission gets each tensor right, "
                  "in backward order",
            desc="; ".join(f"{label}: {text}" for label, _, text in right)),
        "histogram": charts.histogram(
            hist, chart_id="chart-histogram", title="Best scores (students per score range)",
            desc="; ".join(f"{lo:g} to {hi:g}: {c}" for lo, hi, c in hist)),
        "timeline": charts.time_series(
            times, chart_id="chart-timeline",
            title=f"Graded submissions per {tl.unit} (UTC)"
                  + (", with the deadline" if tl.deadline_at is not None else ""),
            desc="; ".join(f"{label}: {c}" for label, c in times if c)
                 + (f"; deadline {tl.deadline:%Y-%m-%d %H:%M} UTC" if tl.deadline else ""),
            marker_at=tl.deadline_at),
        "attempts": charts.column_chart(
            tries, chart_id="chart-attempts",
            title="Graded submissions until full marks (students)",
            desc="; ".join(f"{label}: {c}" for label, c in tries)),
    }


@bp.get("/courses/<code>/assignments/<int:assignment_id>/analytics")
@login_required
def analytics(code: str, assignment_id: int):
    """Show an assignment's analytics: charts, per-tensor statistics, mistakes by kind."""
    course = get_staff_course(code)
    assignment = get_course_assignment(course, assignment_id)
    section = _section()
    a = service.assignment_analytics(assignment, section)
    return render_template("staff/analytics.html", course=course, assignment=assignment,
                           a=a, section=section, charts=_charts(a), tables=service.TABLES,
                           hard=service.HARD, easy=service.EASY,
                           low_discrimination=service.LOW_DISCRIMINATION)


@bp.get("/courses/<code>/assignments/<int:assignment_id>/analytics/<table>.csv")
@login_required
def analytics_csv(code: str, assignment_id: int, table: str):
    """Download one table of the analytics page as CSV (``tensors``, ``mistakes``,
    ``histogram``, ``timeline`` or ``attempts``)."""
    course = get_staff_course(code)
    assignment = get_course_assignment(course, assignment_id)
    if table not in service.TABLES:
        abort(404)
    section = _section()
    header, rows = service.table(service.assignment_analytics(assignment, section), table)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([csv_cell(h) for h in header])
    writer.writerows([csv_cell(v) for v in row] for row in rows)
    suffix = f"-{section}" if section else ""
    return csv_response(out.getvalue(),
                        f"{course.code}-assignment-{assignment.id}{suffix}-{table}.csv")
