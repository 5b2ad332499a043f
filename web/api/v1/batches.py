"""Batch grading through the API (SPEC §8), for staff tokens:

- ``POST /api/v1/courses/CODE/batches`` (multipart: ``file`` = a zip, ``exercise`` = the
  exercise id or the assignment's id) matches the files to the roster and queues them;
- ``GET /api/v1/courses/CODE/batches/ID`` says its progress and every file's fate;
- ``GET /api/v1/courses/CODE/batches/ID/results.csv`` is the same CSV as a local batch.
"""

from __future__ import annotations

from flask import Response, jsonify, request

from web import access
from web.api import bp, error
from web.services import batches, courses


def _body(batch) -> dict[str, object]:
    return {"id": batch.id, "course": batch.assignment.course.code,
            "assignment": batch.assignment_id, "exercise": batch.assignment.exercise_id,
            "layout": batch.layout, "progress": batches.progress(batch).to_json(),
            "notes": batch.notes or [],
            "files": [{"name": f.name, "status": f.status, "student": email or None,
                       "submission": f.submission_id, "message": f.message,
                       "candidates": f.candidates or [],
                       "submission_status": s.status if s is not None else None}
                      for f, s, email in batches.files(batch)]}


@bp.post("/courses/<code>/batches")
def batch_create(code: str):
    """Grade a zip of a course's files for one assignment: 202 with the batch's files."""
    course = access.get_staff_course(code, change=True)
    upload = request.files.get("file")
    which = request.form.get("exercise", "")
    if upload is None or not upload.filename:
        return error(400, 'send the zip as the multipart field "file"')
    if not which:
        return error(400, 'name the assignment: the multipart field "exercise" (an exercise id '
                          'or the assignment id)')
    try:
        found = courses.find_assignments(course, which)
    except courses.AdminError as exc:
        return error(404, str(exc))
    if len(found) > 1:
        return error(400, f"the course has {len(found)} assignments of {which}: send the "
                          f"assignment's id ({', '.join(str(a.id) for a in found)})")
    data = upload.stream.read(batches.MAX_UPLOAD_BYTES + 1)
    try:
        batch = batches.create(found[0], batches.read(data, upload.filename),
                               filename=upload.filename, created_by=access.user().id)
    except batches.BatchError as exc:
        return error(413 if isinstance(exc, batches.BatchTooLarge) else 400, str(exc))
    return jsonify(_body(batch)), 202


@bp.get("/courses/<code>/batches/<int:batch_id>")
def batch_show(code: str, batch_id: int):
    """A batch's progress and files."""
    course = access.get_staff_course(code)
    return jsonify(_body(access.get_course_batch(course, batch_id)))


@bp.get("/courses/<code>/batches/<int:batch_id>/results.csv")
def batch_results(code: str, batch_id: int):
    """The batch's graded files as a local ``backprop batch`` CSV."""
    course = access.get_staff_course(code)
    batch = access.get_course_batch(course, batch_id)
    return Response(batches.csv_text(batch), mimetype="text/csv")
