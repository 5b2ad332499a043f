"""Queue health for staff: what is waiting, running and failing, and who is grading.

The first thing to look at during a deadline rush. Counts come from the database (the
gradings' own state, which the reconciler keeps honest), live and bulk apart; the live
workers from Celery's inspect, asked with a short timeout so a dead broker shows as
"unknown", not a hung page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from web.db import db
from web.models import (
    DONE,
    QUEUED,
    RUNNING,
    SUBMITTED,
    Assignments,
    Gradings,
    Submissions,
    utcnow,
)

#: Result statuses that mean grading itself failed (not a wrong answer).
FAILED_STATUSES = ("error",)
#: "Failed" counts this recent past.
FAILED_WINDOW = dt.timedelta(hours=1)


@dataclass(frozen=True)
class QueueHealth:
    queued: int  # live: students' own submissions
    running: int
    bulk_queued: int  # batches and regrades, graded when no live work waits
    bulk_running: int
    failed_last_hour: int
    oldest_queued_at: dt.datetime | None
    oldest_wait_seconds: int | None
    workers: list[dict[str, object]] | None  # None: could not ask the broker


def health(course_id: int | None = None, ask_workers: bool = True,
           now: dt.datetime | None = None) -> QueueHealth:
    """Return the queue's state (for one course's gradings, or all) in two queries."""
    now = now or utcnow()
    live = (Gradings.reason == SUBMITTED).label("live")
    q = select(Gradings.status, live, func.count(), func.min(Gradings.created_at)).where(
        Gradings.status.in_([QUEUED, RUNNING]))
    failed = select(func.count()).select_from(Gradings).where(
        Gradings.status == DONE, Gradings.result_status.in_(FAILED_STATUSES),
        Gradings.finished_at >= now - FAILED_WINDOW)
    if course_id is not None:
        in_course = Gradings.submission_id.in_(
            select(Submissions.id).join(Assignments, Assignments.id == Submissions.assignment_id)
            .where(Assignments.course_id == course_id))
        q, failed = q.where(in_course), failed.where(in_course)
    rows = {(status, bool(is_live)): (n, oldest) for status, is_live, n, oldest in
            db.session.execute(q.group_by(Gradings.status, live))}
    oldest = rows.get((QUEUED, True), (0, None))[1]
    workers = None
    if ask_workers:
        from web.queue import live_workers

        workers = live_workers()
    return QueueHealth(rows.get((QUEUED, True), (0, None))[0],
                       rows.get((RUNNING, True), (0, None))[0],
                       rows.get((QUEUED, False), (0, None))[0],
                       rows.get((RUNNING, False), (0, None))[0],
                       db.session.scalar(failed) or 0, oldest,
                       None if oldest is None else int((now - oldest).total_seconds()),
                       workers)


def position(submission: Submissions) -> int | None:
    """Return a queued submission's place in the live queue (1 = next), else None.

    Live gradings are graded oldest first and before any bulk work, so its place is one plus
    the live gradings queued before it (one indexed count); batches do not count.
    """
    g = submission.current_grading
    if submission.status != QUEUED or g is None or g.reason != SUBMITTED:
        return None  # a batch or regrade waits on the bulk queue: no live place to show
    ahead = db.session.scalar(select(func.count()).select_from(Gradings).where(
        Gradings.status == QUEUED, Gradings.reason == SUBMITTED,
        Gradings.id < submission.current_grading_id)) or 0
    return ahead + 1
