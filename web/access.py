"""Who may see what. Every route reaches rows through these functions (flaskr's ``get_post``).

A student sees their own submissions only; an instructor the submissions of the courses they
teach; an admin everything. A row the user may not see answers 404, exactly like a row that
does not exist, so ids leak nothing.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from flask import abort
from flask_login import current_user
from sqlalchemy import func, select

from web.db import db
from web.models import Assignments, Courses, Enrolments, Submissions, Users, utcnow

#: The largest id any backend stores (PostgreSQL's integer): larger ones exist nowhere.
MAX_ID = 2**31 - 1


def valid_id(value: int | None) -> bool:
    """Return whether ``value`` can be a row id (so a huge one is a 404, not a 500)."""
    return value is not None and 0 < value <= MAX_ID


def _user() -> Users:
    user = current_user._get_current_object() if current_user.is_authenticated else None
    if user is None:
        abort(401)
    return user


def teaches(user: Users, course_id: int) -> bool:
    """Return whether ``user`` is an instructor of the course (or an admin)."""
    if user.role == "admin":
        return True
    return db.session.scalar(select(Enrolments.id).where(
        Enrolments.user_id == user.id, Enrolments.course_id == course_id,
        Enrolments.role == "instructor")) is not None


def enrolled(user: Users, course_id: int) -> bool:
    """Return whether ``user`` belongs to the course in any role (or is an admin)."""
    if user.role == "admin":
        return True
    return db.session.scalar(select(Enrolments.id).where(
        Enrolments.user_id == user.id, Enrolments.course_id == course_id)) is not None


def get_course(code: str) -> Courses:
    """Return a course the current user belongs to, else 404."""
    course = db.session.scalar(select(Courses).where(Courses.code == code))
    if course is None or not enrolled(_user(), course.id):
        abort(404)
    return course


def get_assignment(assignment_id: int) -> Assignments:
    """Return an assignment of a course the current user belongs to, else 404."""
    assignment = db.session.get(Assignments, assignment_id) if valid_id(assignment_id) else None
    if assignment is None or not enrolled(_user(), assignment.course_id):
        abort(404)
    return assignment


def get_submission(submission_id: int, check_owner: bool = True) -> Submissions:
    """Return a submission the current user may see (its owner, its course's teacher), else 404.

    The only road to a submission row from a request: IDOR holes are closed by construction.
    """
    sub = db.session.get(Submissions, submission_id) if valid_id(submission_id) else None
    if sub is None:
        abort(404)
    if check_owner:
        user = _user()
        mine = sub.user_id == user.id
        teacher = sub.assignment_id is not None and teaches(
            user, db.session.get(Assignments, sub.assignment_id).course_id)
        if not (mine or teacher or user.role == "admin"):
            abort(404)
    return sub


@dataclass(frozen=True)
class Quota:
    """Where a student stands with an assignment's submission limits."""

    used: int
    limit: int | None
    wait_seconds: int
    closed_reason: str | None

    @property
    def left(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.used)

    @property
    def allowed(self) -> bool:
        return self.closed_reason is None and self.wait_seconds == 0 and self.left != 0

    def describe(self) -> str:
        """Return e.g. ``3 of 20 submissions used; next in 30 s``."""
        text = (f"{self.used} of {self.limit} submissions used" if self.limit is not None
                else f"{self.used} submissions so far")
        if self.closed_reason:
            return f"{text}; {self.closed_reason}"
        if self.left == 0:
            return f"{text}; no submissions left"
        if self.wait_seconds:
            return f"{text}; next in {self.wait_seconds} s"
        return text


def quota(user: Users, assignment: Assignments, now: dt.datetime | None = None) -> Quota:
    """Return the user's submission quota for an assignment (cap, rate limit, window)."""
    now = now or utcnow()
    used, last = db.session.execute(
        select(func.count(Submissions.id), func.max(Submissions.created_at)).where(
            Submissions.user_id == user.id, Submissions.assignment_id == assignment.id)).one()
    wait = 0
    if last is not None and assignment.min_interval_seconds:
        ready_at = last + dt.timedelta(seconds=assignment.min_interval_seconds)
        wait = max(0, math.ceil((ready_at - now).total_seconds()))
    closed = None
    if assignment.opens_at and now < assignment.opens_at:
        closed = f"opens {assignment.opens_at:%Y-%m-%d %H:%M} UTC"
    elif assignment.deadline and now > assignment.deadline and assignment.late_policy == "none":
        closed = "the deadline has passed"
    return Quota(used, assignment.max_submissions, wait, closed)
