"""POST /api/v1/submissions and GET /api/v1/submissions/ID."""

from __future__ import annotations

from flask import g, jsonify, request
from sqlalchemy import select

from grader.registry import UnknownExercise
from web import access
from web.api import bp, error
from web.db import db
from web.extensions import limiter
from web.models import DONE, Assignments, Enrolments
from web.services.policy import ARCHIVED
from web.services.submissions import (
    QuotaExceeded,
    SubmissionRejected,
    create_submission,
    submit_for,
)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from JSON "\ud800"
        return False
    return True


def _user_key() -> str:
    user = g.get("_login_user")
    return f"user:{user.id}" if user else request.remote_addr or "-"


@bp.post("/submissions")
@limiter.limit("30 per minute", key_func=_user_key,
               error_message="too many submissions; slow down")
def create():
    """Store a submission and queue it: 202 {"id", "status": "queued"}.

    A file that does not compile is answered at once: the same 202 with ``"status": "done"``
    (GET shows its result, the syntax error, and ``"gradable": false``: no attempt used).
    """
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error(400, 'send a JSON object: {"exercise": ID, "code": SOURCE}')
    exercise, code = body.get("exercise"), body.get("code")
    if not isinstance(exercise, str) or not exercise:
        return error(400, '"exercise" must be an exercise id string, e.g. "makemore4/ex1"')
    if not isinstance(code, str):
        return error(400, '"code" must be the source text of your file')
    for field, value in (("exercise", exercise), ("code", code)):
        if "\x00" in value or not _encodable(value):
            return error(400, f'"{field}" must be valid UTF-8 text without NUL characters')
    user = access.user()
    assignment = db.session.scalar(
        select(Assignments).join(Enrolments, Enrolments.course_id == Assignments.course_id)
        .where(Enrolments.user_id == user.id, Assignments.exercise_id == exercise)
        .order_by(Assignments.id).limit(1))
    try:
        if assignment is not None:
            sub = submit_for(user, assignment, code)
        else:
            sub = create_submission(exercise_id=exercise, code=code, user_id=user.id)
    except UnknownExercise as exc:
        return error(404, str(exc))
    except SubmissionRejected as exc:
        return error(413 if "KiB" in str(exc) else 400, str(exc))
    except QuotaExceeded as exc:
        if exc.quota.closed_reason == ARCHIVED:  # not a limit to wait out: refused for good
            return error(403, str(exc))
        g.retry_after = exc.quota.wait_seconds or None
        return error(429, str(exc))
    return jsonify(id=sub.id, status=sub.status), 202


@bp.get("/submissions/<int:submission_id>")
def show(submission_id: int):
    """Return the submission's state and, when done, the result JSON of spec §4."""
    sub = access.get_submission(submission_id)
    body = {"id": sub.id, "exercise": sub.exercise_id, "status": sub.status,
            "gradable": sub.gradable, "created_at": sub.created_at.isoformat() + "Z"}
    if sub.status == DONE:
        body["result"] = sub.result
        # The result's "score" is strict; this is the one the assignment counts.
        body["scoring"] = sub.scoring
        body["counted_score"] = sub.counted_score
    return jsonify(body)
