"""Queue health for staff: what is waiting, running and failing, and who is grading.

The first thing to look at during a deadline rush. Counts come from the database (the
submissions' own state, which the reconciler keeps honest); the live workers from Celery's
inspect, asked with a short timeout so a dead broker shows as "unknown", not a hung page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from web.db import db
from web.models import DONE, QUEUED, RUNNING, Assignments, Submissions, utcnow

#: Result statuses that mean grading itself failed (not a wrong answer).
FAILED_STATUSES = ("error",)
#: "Failed" counts this recent past.
FAILED_WINDOW = dt.timedelta(hours=1)


@dataclass(frozen=True)
class QueueHealth:
    queued: int
    running: int
    failed_last_hour: int
    oldest_queued_at: dt.datetime | None
    oldest_wait_seconds: int | None
    workers: list[dict[str, object]] | None  # None: could not ask the broker


def health(course_id: int | None = None, ask_workers: bool = True,
           now: dt.datetime | None = None) -> QueueHealth:
    """Return the queue's state (for one course's submissions, or all) in two queries."""
    now = now or utcnow()
    q = select(Submissions.status, func.count(), func.min(Submissions.created_at)).where(
        Submissions.status.in_([QUEUED, RUNNING]))
    failed = select(func.count()).select_from(Submissions).where(
        Submissions.status == DONE, Submissions.result_status.in_(FAILED_STATUSES),
        Submissions.finished_at >= now - FAILED_WINDOW)
    if course_id is not None:
        in_course = Submissions.assignment_id.in_(
            select(Assignments.id).where(Assignments.course_id == course_id))
        q, failed = q.where(in_course), failed.where(in_course)
    rows = {status: (n, oldest) for status, n, oldest in
            db.session.execute(q.group_by(Submissions.status))}
    oldest = rows.get(QUEUED, (0, None))[1]
    workers = None
    if ask_workers:
        from web.queue import live_workers

        workers = live_workers()
    return QueueHealth(rows.get(QUEUED, (0, None))[0], rows.get(RUNNING, (0, None))[0],
                       db.session.scalar(failed) or 0, oldest,
                       None if oldest is None else int((now - oldest).total_seconds()),
                       workers)


def position(submission: Submissions) -> int | None:
    """Return a queued submission's place in the queue (1 = next), else None.

    Submissions are graded oldest first, so its place is one plus the queued submissions
    sent before it (one indexed count).
    """
    if submission.status != QUEUED:
        return None
    ahead = db.session.scalar(select(func.count()).select_from(Submissions).where(
        Submissions.status == QUEUED, Submissions.id < submission.id)) or 0
    return ahead + 1
