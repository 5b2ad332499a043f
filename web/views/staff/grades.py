"""Staff pages: the class dashboard (students × assignments grid), a student's drill-down,
and the gradebook exports."""

from __future__ import annotations

from flask import abort, render_template, request
from flask_login import login_required

from web import access
from web.services import gradebook
from web.views.staff import bp, csv_response

PER_PAGE = 50


def _int(name: str, default: int) -> int:
    value = request.args.get(name, "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 7 else default


@bp.get("/courses/<code>/grades")
@login_required
def grades(code: str):
    """The grid of counted scores: sortable, searchable, filterable by section, paged."""
    c = access.get_staff_course(code)
    page = gradebook.page_of(
        c, q=request.args.get("q", "")[:200], section=request.args.get("section", "")[:64],
        sort=request.args.get("sort", "name")[:20], desc=request.args.get("desc") == "1",
        page=_int("page", 1), per_page=_int("per_page", PER_PAGE))
    book = page.book
    return render_template("staff/grades.html", course=c, tab="grades", page=page, book=book,
                           max_scores={a.id: gradebook.max_score(a) for a in book.assignments},
                           args=request.args)


@bp.get("/courses/<code>/students/<int:user_id>")
@login_required
def student(code: str, user_id: int):
    """One student's work in the course: counted scores and every submission."""
    c = access.get_staff_course(code)
    member = access.get_member(c, user_id)
    book = gradebook.load(c, user_ids=[user_id])
    subs = gradebook.submissions_of(c, user_id)
    return render_template("staff/student.html", course=c, tab="grades", member=member,
                           book=book, subs=subs,
                           max_scores={a.id: gradebook.max_score(a) for a in book.assignments})


@bp.get("/courses/<code>/gradebook.csv")
@login_required
def gradebook_csv(code: str):
    """Download the gradebook: ``?format=canvas|moodle|tensors``."""
    c = access.get_staff_course(code)
    fmt = request.args.get("format", "canvas")
    if fmt not in gradebook.FORMATS:
        abort(400, f"format must be one of {', '.join(gradebook.FORMATS)}")
    return csv_response(gradebook.export(c, fmt), f"{c.code}-{fmt}.csv")
