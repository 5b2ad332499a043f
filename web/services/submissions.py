"""Submission service functions: create and queue, claim, store the result, find the stuck.

The worker calls these inside the web app's context; each is one short transaction so a
crash between two of them loses nothing: a submission is always either queued, running (and
watched by the reconciler) or done with its complete result.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass

from sqlalchemy import or_, select, update

from grader.result import ERROR, MAX_SOURCE_BYTES, GradeResult, TensorResult
from web import arrays
from web.db import db
from web.models import DONE, QUEUED, RUNNING, Assignments, Submissions, TensorResults, Users, utcnow
from web.queue import enqueue_grading
from web.services import policy

log = logging.getLogger(__name__)


class SubmissionRejected(ValueError):
    """The submission cannot be stored (unknown exercise, too large, not text)."""


def create_submission(*, exercise_id: str, code: str, user_id: int | None = None,
                      assignment_id: int | None = None, enqueue: bool = True) -> Submissions:
    """Store a submission (committed first), then send its grading task by name.

    :raise SubmissionRejected: with a clear message; nothing is stored then.
    """
    from grader.registry import get_exercise

    get_exercise(exercise_id)  # UnknownExercise (a KeyError) propagates with its message
    try:
        raw = code.encode("utf-8")
    except UnicodeEncodeError:
        raise SubmissionRejected("the code is not valid UTF-8 text") from None
    if len(raw) > MAX_SOURCE_BYTES:
        raise SubmissionRejected(f"the code is {len(raw) // 1024} KiB; the limit is "
                                 f"{MAX_SOURCE_BYTES // 1024} KiB")
    if "\x00" in code:
        raise SubmissionRejected("the code contains a NUL byte; submit Python source text")
    sub = Submissions(user_id=user_id, assignment_id=assignment_id, exercise_id=exercise_id,
                      code=code, code_sha256=hashlib.sha256(raw).hexdigest(), status=QUEUED)
    db.session.add(sub)
    db.session.commit()
    if enqueue:
        send(sub.id)
    return sub


def send(submission_id: int) -> bool:
    """Queue the grading task; a broker failure is logged, not raised (the reconciler resends)."""
    try:
        enqueue_grading(submission_id)
        return True
    except Exception as exc:  # the row is committed: the reconciler will send it again
        log.warning("could not queue submission %s (%s); the reconciler will retry",
                    submission_id, exc)
        return False


@dataclass(frozen=True)
class Claim:
    """A submission taken for grading: what the worker needs, detached from the session."""

    id: int
    exercise_id: str
    code: str
    student: str
    attempts: int
    poison: bool


def claim(submission_id: int, worker: str, max_attempts: int, count: bool = True) \
        -> Claim | None:
    """Mark a submission running and count the attempt; None when there is nothing to do.

    Counting attempts *before* grading is what stops a poison pill: a submission whose
    grading kills the worker is redelivered, and after ``max_attempts`` it is not run again.
    ``count`` is False for a task's own retry after an infrastructure error (a database
    blip is not the submission's fault).
    """
    sub = db.session.get(Submissions, submission_id, with_for_update=True)
    if sub is None or sub.status == DONE:
        db.session.rollback()
        return None
    if count or sub.attempts == 0:  # a retry whose first claim never committed counts too
        sub.attempts += 1
    sub.status = RUNNING
    sub.worker = worker[:200]
    sub.started_at = sub.updated_at = utcnow()
    out = Claim(sub.id, sub.exercise_id, sub.code,
                f"user:{sub.user_id}" if sub.user_id is not None else f"submission:{sub.id}",
                sub.attempts, sub.attempts > max_attempts)
    db.session.commit()
    return out


def store_result(submission_id: int, result: GradeResult) -> bool:
    """Store a result and its tensors in one transaction; False if it was already stored.

    The conditional update makes storing idempotent: two workers grading the same submission
    (a requeue racing a slow worker) store exactly one result.
    """
    result = _without_nul(result)
    now = utcnow()
    done = db.session.execute(
        update(Submissions)
        .where(Submissions.id == submission_id, Submissions.status != DONE)
        .values(status=DONE, finished_at=now, updated_at=now, result_status=result.status,
                score=result.score, carry_forward_score=result.carry_forward_score,
                values_score=result.values_score,
                values_carry_forward_score=result.values_carry_forward_score,
                max_score=result.max_score, runtime_ms=result.runtime_ms,
                message=result.message, stdout=result.stdout,
                exercise_version=result.exercise_version, result=result.to_json())
    ).rowcount
    if done != 1:
        db.session.rollback()
        return False
    for position, t in enumerate(result.tensors):
        pair = result.arrays.get(t.name)
        db.session.add(TensorResults(
            submission_id=submission_id, position=position, name=t.name, status=t.status,
            points=t.points, max_points=t.max_points, max_abs_diff=_finite(t.max_abs_diff),
            rel_error=_finite(t.rel_error), expected_shape=t.expected_shape,
            got_shape=t.got_shape, failed_case=t.failed_case, message=t.message,
            diagnosis=t.diagnosis, root_cause=t.root_cause, locally_correct=t.locally_correct,
            fingerprint=t.fingerprint, line=t.line, carry_forward_points=t.carry_forward_points,
            values_match=t.values_match, arrays=arrays.pack(*pair) if pair else None))
    db.session.commit()
    return True


def poison_result(claim_: Claim, max_attempts: int) -> GradeResult:
    """Return the error result stored for a submission that keeps killing its worker."""
    from grader.registry import get_exercise

    exercise = get_exercise(claim_.exercise_id)
    message = (f"grading this submission stopped the grading worker {max_attempts} times, so "
               "it was not run again; check it locally with `backprop check` or ask your "
               "instructor")
    return GradeResult(
        exercise=exercise.id, status=ERROR, score=0.0, max_score=exercise.max_score,
        message=message, tensors=[TensorResult(g.name, "missing", 0.0, g.points,
                                                message="not evaluated")
                                  for g in exercise.graded],
        exercise_version=exercise.version)


def stuck(queued_after: float, running_after: float, now: dt.datetime | None = None) \
        -> list[int]:
    """Return ids of submissions queued or running for longer than the given seconds."""
    now = now or utcnow()
    rows = db.session.execute(
        select(Submissions.id, Submissions.status, Submissions.updated_at,
               Submissions.requeues).where(or_(
            (Submissions.status == QUEUED)
            & (Submissions.updated_at < now - dt.timedelta(seconds=queued_after)),
            (Submissions.status == RUNNING)
            & (Submissions.updated_at < now - dt.timedelta(seconds=running_after)),
        )).order_by(Submissions.id)).all()
    db.session.rollback()
    # A queued submission may just be waiting behind a long backlog: resend it with an
    # exponential backoff (after 1, 2, 4, … periods) so duplicates stay few.
    return [r.id for r in rows
            if r.status != QUEUED
            or r.updated_at < now - dt.timedelta(seconds=queued_after * 2 ** min(r.requeues, 8))]


def requeue(submission_id: int) -> bool:
    """Send a stuck submission again (its row is touched so it is not resent at once)."""
    changed = db.session.execute(
        update(Submissions)
        .where(Submissions.id == submission_id, Submissions.status != DONE)
        .values(status=QUEUED, updated_at=utcnow(), requeues=Submissions.requeues + 1)
    ).rowcount
    db.session.commit()
    return bool(changed) and send(submission_id)


def _without_nul(result: GradeResult) -> GradeResult:
    """Replace NUL characters in every text of a result: PostgreSQL text refuses them."""
    import dataclasses

    def clean(value):
        if isinstance(value, str):
            return value.replace("\x00", "\ufffd")
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return dataclasses.replace(value, **{f.name: clean(getattr(value, f.name))
                                                 for f in dataclasses.fields(value)
                                                 if f.name != "arrays"})
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, dict):
            return {clean(k): clean(v) for k, v in value.items()}
        return value

    return clean(result)


def _finite(value: float | None) -> float | None:
    import math

    return value if value is None or math.isfinite(value) else None


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
