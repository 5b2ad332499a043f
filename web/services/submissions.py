"""Submission service functions: check, store and queue what a student (or a batch) sent.

A submission is committed together with its first grading before the grading task is sent;
``web.services.gradings`` takes it from there. A file that does not compile is answered at
once instead: stored done with the grader's own syntax-error result, ``gradable`` false (it
costs no attempt and never counts), never queued.
"""

from __future__ import annotations

import hashlib

from grader.result import MAX_SOURCE_BYTES
from web.db import db
from web.models import QUEUED, SUBMITTED, Assignments, Submissions, Users
from web.services import gradings, policy


class SubmissionRejected(ValueError):
    """The submission cannot be stored (unknown exercise, too large, not text)."""


def check_code(code: str) -> bytes:
    """Return the code's UTF-8 bytes, or raise :class:`SubmissionRejected` saying why not."""
    try:
        raw = code.encode("utf-8")
    except UnicodeEncodeError:
        raise SubmissionRejected("the code is not valid UTF-8 text") from None
    if len(raw) > MAX_SOURCE_BYTES:
        raise SubmissionRejected(f"the code is {len(raw) // 1024} KiB; the limit is "
                                 f"{MAX_SOURCE_BYTES // 1024} KiB")
    if "\x00" in code:
        raise SubmissionRejected("the code contains a NUL byte; submit Python source text")
    return raw


def new_submission(*, exercise_id: str, code: str, user_id: int | None = None,
                   assignment_id: int | None = None, reason: str = SUBMITTED,
                   **extra) -> Submissions:
    """Add a checked submission and its first (current) grading to the session, uncommitted:
    a batch adds many and commits once. The caller commits, then sends the gradings
    (:func:`gradings.send` skips those already done).

    A file that does not compile gets its result here, the one grading would give (no code
    runs to find out): the grading is stored done and the submission is not ``gradable``.
    """
    from grader.grade import compile_error
    from grader.registry import get_exercise

    raw = check_code(code)
    early = compile_error(get_exercise(exercise_id), code,
                          student=f"user:{user_id}" if user_id is not None else "local")
    sub = Submissions(user_id=user_id, assignment_id=assignment_id, exercise_id=exercise_id,
                      code=code, code_sha256=hashlib.sha256(raw).hexdigest(), status=QUEUED,
                      gradable=early is None, **extra)
    db.session.add(sub)
    # post_update: the submission row is inserted, then the grading, then the pointer
    sub.current_grading = gradings.add(sub, reason)
    if early is not None:
        db.session.flush()  # the grading's id, and the pointer the mirror follows
        gradings.write_result(sub.current_grading_id, early)
    return sub


def create_submission(*, exercise_id: str, code: str, user_id: int | None = None,
                      assignment_id: int | None = None, enqueue: bool = True) -> Submissions:
    """Store a submission and its grading (committed first), then send the grading task.

    :raise SubmissionRejected: with a clear message; nothing is stored then.
    :raise UnknownExercise: (a KeyError) with its message; nothing is stored then.
    """
    sub = new_submission(exercise_id=exercise_id, code=code, user_id=user_id,
                         assignment_id=assignment_id)
    db.session.flush()
    # Read before the commit expires them: sending must not wait for two reloading SELECTs.
    task, gradable = (sub.current_grading.id, sub.current_grading.queue), sub.gradable
    db.session.commit()
    if enqueue and gradable:  # one that did not compile is done already
        gradings.send(task)
    return sub


class QuotaExceeded(Exception):
    """The student hit the assignment's cap or rate limit (HTTP 429)."""

    def __init__(self, q: policy.Quota) -> None:
        super().__init__(q.describe())
        self.quota = q


def submit_for(user: Users, assignment: Assignments, code: str) -> Submissions:
    """Check the quota, then store and queue — shared by the form and the API."""
    q = policy.quota(user, assignment)
    if not q.allowed:
        raise QuotaExceeded(q)
    return create_submission(exercise_id=assignment.exercise_id, code=code, user_id=user.id,
                             assignment_id=assignment.id)
