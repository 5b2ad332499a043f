"""Gradings: one run of an exercise over a submission, from queued to stored, never stranded.

The worker calls these inside the web app's context; each is one short transaction so a
crash between two of them loses nothing: a grading is always queued, running (watched by the
reconciler) or done with its complete result. A submission mirrors its *current* grading
(status and scores, for the gradebook's covering index); this module is the only writer of
that mirror, in the same transaction as the grading it copies.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, insert, or_, select, update

from grader.result import ERROR, GradeResult, TensorResult
from web import arrays
from web.db import db
from web.models import (
    DONE,
    QUEUED,
    RUNNING,
    SUBMITTED,
    Assignments,
    Gradings,
    Submissions,
    TensorResults,
    queue_for,
    utcnow,
)
from web.queue import enqueue_grading

log = logging.getLogger(__name__)

#: The grading columns a submission mirrors from its current grading.
MIRRORED = ("status", "result_status", "score", "carry_forward_score", "values_score",
            "values_carry_forward_score", "max_score")


def lock(assignment: Assignments) -> None:
    """Serialize batch uploads and regrades of one assignment until the caller commits.

    A no-op update of the assignment's row, in a fresh transaction: PostgreSQL holds the
    row lock (FOR NO KEY UPDATE: students' inserts still pass), SQLite the write lock, so
    the dedupe check and the one-pending-regrade check read what the other committed.
    """
    db.session.commit()
    db.session.execute(update(Assignments).where(Assignments.id == assignment.id)
                       .values(id=Assignments.id))


def add(submission: Submissions, reason: str = SUBMITTED, regrade_id: int | None = None) \
        -> Gradings:
    """Add a queued grading of ``submission`` to the session (the caller commits, then
    :func:`send`\\ s it)."""
    grading = Gradings(submission=submission, reason=reason, regrade_id=regrade_id,
                       status=QUEUED)
    db.session.add(grading)
    return grading


def send(grading: Gradings | tuple[int, str]) -> bool:
    """Queue a committed grading's task; a broker failure is logged, not raised (the
    reconciler resends). ``grading`` may be ``(id, queue)`` to send without a row. A grading
    already done (a file that did not compile is answered when stored) is not sent."""
    if isinstance(grading, Gradings) and grading.status == DONE:
        return True
    ident, queue = (grading.id, grading.queue) if isinstance(grading, Gradings) else grading
    try:
        enqueue_grading(ident, queue)
        return True
    except Exception as exc:  # the row is committed: the reconciler will send it again
        log.warning("could not queue grading %s (%s); the reconciler will retry", ident, exc)
        return False


def send_all(items: list[Gradings]) -> int:
    """Send many gradings' tasks; return how many went. After the first broker failure the
    rest are left to the reconciler: each failed send costs the client's connection retries
    (~0.6 s), and a broker that is down must not hold a 500-file upload for minutes."""
    for i, g in enumerate(items):
        if not send(g):
            if len(items) > i + 1:
                log.warning("broker unreachable: %d more gradings wait for the reconciler",
                            len(items) - i - 1)
            return i
    return len(items)


def mirror(submission_id: int, grading_id: int, **values) -> None:
    """Copy a grading's state to its submission if, and only if, it is the current one
    (and ``gradable``, which only the grading that decides it sets)."""
    values = {k: v for k, v in values.items() if k in MIRRORED or k == "gradable"}
    db.session.execute(update(Submissions).where(
        Submissions.id == submission_id, Submissions.current_grading_id == grading_id)
        .values(updated_at=utcnow(), **values))


def make_current(grading: Gradings) -> None:
    """Make ``grading`` its submission's current one (mirror included; the caller commits)."""
    sub = grading.submission
    sub.current_grading = grading
    sub.current_grading_id = grading.id
    for field in MIRRORED:
        setattr(sub, field, getattr(grading, field))
    sub.updated_at = utcnow()


@dataclass(frozen=True)
class Claim:
    """A grading taken by a worker: what it needs, detached from the session."""

    id: int
    submission_id: int
    exercise_id: str
    code: str
    student: str
    attempts: int
    poison: bool


def claim(grading_id: int, worker: str, max_attempts: int, count: bool = True) \
        -> Claim | None:
    """Mark a grading running and count the attempt; None when there is nothing to do.

    Counting attempts *before* grading is what stops a poison pill: a grading whose run
    kills the worker is redelivered, and after ``max_attempts`` it is not run again.
    ``count`` is False for a task's own retry after an infrastructure error (a database
    blip is not the submission's fault).

    One conditional UPDATE, not read-then-write: a duplicate delivery must never turn a
    stored result back into "running" (SQLite's driver reads outside any transaction, and a
    row lock is not a thing there). It returns what the worker needs, so the claim is three
    statements and one commit, all on the submission's critical path.
    """
    now = utcnow()
    attempts = Gradings.attempts + 1 if count else \
        case((Gradings.attempts == 0, 1), else_=Gradings.attempts)
    row = db.session.execute(
        update(Gradings).where(Gradings.id == grading_id, Gradings.status != DONE)
        .values(status=RUNNING, attempts=attempts, worker=worker[:200], started_at=now,
                updated_at=now)
        .returning(Gradings.submission_id, Gradings.attempts)).one_or_none()
    if row is None:
        db.session.rollback()
        return None
    submission_id, tries = row
    exercise_id, code, user_id = db.session.execute(
        select(Submissions.exercise_id, Submissions.code, Submissions.user_id)
        .where(Submissions.id == submission_id)).one()
    out = Claim(grading_id, submission_id, exercise_id, code,
                f"user:{user_id}" if user_id is not None else f"submission:{submission_id}",
                tries, tries > max_attempts)
    mirror(submission_id, grading_id, status=RUNNING)
    db.session.commit()
    return out


#: The columns of a tensor row copied from the result JSON's tensor entry as they are.
TENSOR_FIELDS = ("name", "status", "points", "max_points", "max_abs_diff", "rel_error",
                 "expected_shape", "got_shape", "failed_case", "message", "diagnosis",
                 "root_cause", "locally_correct", "fingerprint", "line",
                 "carry_forward_points", "values_match")


def store_result(grading_id: int, result: GradeResult, *, gradable: bool | None = None) \
        -> bool:
    """Store a result and its tensors in one transaction; False if it was already stored.

    The conditional update makes storing idempotent: two workers running the same grading
    (a requeue racing a slow worker) store exactly one result. ``gradable`` False marks the
    submission as refused before its code ran (it then costs no attempt), when this grading
    is its current one.
    """
    if not write_result(grading_id, result, gradable=gradable):
        db.session.rollback()
        return False
    db.session.commit()
    return True


def write_result(grading_id: int, result: GradeResult, *, gradable: bool | None = None) \
        -> bool:
    """Write a result and its tensors in the session's transaction (the caller commits);
    False, writing nothing, if the grading is done already.

    This runs between the end of grading and the student seeing the result, so it does the
    least work that stores everything: the result JSON is built once (finite floats, NUL
    replaced), the grading's row is updated and its submission's id returned in one
    statement, and the tensor rows are read from the JSON and written in one executemany —
    not one ORM object per tensor.
    """
    data = _without_nul(result.to_json())
    now = utcnow()
    values = dict(status=DONE, result_status=data["status"], score=data["score"],
                  carry_forward_score=data["carry_forward_score"],
                  values_score=data["values_score"],
                  values_carry_forward_score=data["values_carry_forward_score"],
                  max_score=data["max_score"])
    row = db.session.execute(
        update(Gradings).where(Gradings.id == grading_id, Gradings.status != DONE)
        .values(finished_at=now, updated_at=now, runtime_ms=data["runtime_ms"],
                message=data["message"], stdout=data["stdout"],
                exercise_version=data["exercise_version"], result=data, **values)
        .returning(Gradings.submission_id)).one_or_none()
    if row is None:
        return False
    mirror(row.submission_id, grading_id, **values,
           **({} if gradable is None else {"gradable": gradable}))
    rows = []
    for position, (t, entry) in enumerate(zip(result.tensors, data["tensors"], strict=True)):
        pair = result.arrays.get(t.name)
        rows.append({**{f: entry[f] for f in TENSOR_FIELDS}, "grading_id": grading_id,
                     "position": position, "arrays": arrays.pack(*pair) if pair else None})
    if rows:
        db.session.execute(insert(TensorResults), rows)
    return True


def poison_result(claim_: Claim, max_attempts: int) -> GradeResult:
    """Return the error result stored for a grading that keeps killing its worker."""
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


@dataclass(frozen=True)
class Stuck:
    """A grading the reconciler may have to send again."""

    id: int
    queue: str
    status: str


def stuck(queued_after: float, running_after: float, now: dt.datetime | None = None) \
        -> list[Stuck]:
    """Return the gradings queued or running for longer than the given seconds."""
    now = now or utcnow()
    rows = db.session.execute(
        select(Gradings.id, Gradings.status, Gradings.updated_at, Gradings.requeues,
               Gradings.reason).where(or_(
            (Gradings.status == QUEUED)
            & (Gradings.updated_at < now - dt.timedelta(seconds=queued_after)),
            (Gradings.status == RUNNING)
            & (Gradings.updated_at < now - dt.timedelta(seconds=running_after)),
        )).order_by(Gradings.id)).all()
    db.session.rollback()
    # A queued grading may just be waiting behind a long backlog: resend it with an
    # exponential backoff (after 1, 2, 4, … periods) so duplicates stay few.
    return [Stuck(r.id, queue_for(r.reason), r.status) for r in rows
            if r.status != QUEUED
            or r.updated_at < now - dt.timedelta(seconds=queued_after * 2 ** min(r.requeues, 8))]


def lost(candidates: list[Stuck], waiting: dict[str, int | None]) -> list[Stuck]:
    """Return the stuck gradings whose message is likely lost, given how many messages each
    queue holds in the broker (None: unknown).

    A running grading past its time lost its worker: always resent. A queued one is resent
    only when its queue holds fewer messages than there are queued gradings for it — else
    every one of them is still in line (a 5,000-file batch waits minutes on the bulk queue,
    and resending them all would only double the line).
    """
    queued: dict[str, int] = {}
    for c in candidates:
        if c.status == QUEUED:
            queued[c.queue] = queued.get(c.queue, 0) + 1
    return [c for c in candidates if c.status != QUEUED or waiting.get(c.queue) is None
            or waiting[c.queue] < queued[c.queue]]


def requeue(grading_id: int, queue: str) -> bool:
    """Send a stuck grading again (its row is touched so it is not resent at once)."""
    changed = db.session.execute(
        update(Gradings).where(Gradings.id == grading_id, Gradings.status != DONE)
        .values(status=QUEUED, updated_at=utcnow(), requeues=Gradings.requeues + 1)
    ).rowcount
    if changed:
        submission_id = db.session.scalar(select(Gradings.submission_id)
                                          .where(Gradings.id == grading_id))
        mirror(submission_id, grading_id, status=QUEUED)
    db.session.commit()
    return bool(changed) and send((grading_id, queue))


def _without_nul(value: Any) -> Any:
    """Replace NUL characters in every text of a result's JSON: PostgreSQL text refuses
    them (a student's ``print("\\0")`` reaches ``stdout``, a tensor name, a message)."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nul(v) for v in value]
    return value
