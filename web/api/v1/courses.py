"""GET /api/v1/courses/CODE/submissions: a course's submissions, for its staff (SPEC §9)."""

from __future__ import annotations

from flask import jsonify, request

from web import access
from web.api import bp, error
from web.services import gradebook

#: Page size of the list (``?limit=``, at most MAX_LIMIT); ``?after=ID`` continues.
DEFAULT_LIMIT, MAX_LIMIT = 500, 5000


@bp.get("/courses/<code>/submissions")
def course_submissions(code: str):
    """List a course's submissions (id, student, exercise, status, counted score, time).

    Staff of the course only; everyone else gets 404, as for a course that does not exist.
    Ordered by id; ``?exercise=ID`` filters, ``?after=ID&limit=N`` pages.
    """
    course = access.get_staff_course(code)
    args = request.args
    after, limit = args.get("after", "0"), args.get("limit", str(DEFAULT_LIMIT))
    if not (after + limit).isascii() or not after.isdigit() or not limit.isdigit() \
            or len(after) > 10 or len(limit) > 6 or not 1 <= int(limit) <= MAX_LIMIT:
        return error(400, f"after must be a submission id and limit 1 to {MAX_LIMIT}")
    exercise = args.get("exercise") or None
    rows = gradebook.course_submissions(course, exercise=exercise, after=int(after),
                                        limit=int(limit))
    body = {"course": course.code, "submissions": rows,
            "next": (f"?after={rows[-1]['id']}&limit={limit}"
                     + (f"&exercise={exercise}" if exercise else ""))
            if len(rows) == int(limit) else None}
    return jsonify(body)
