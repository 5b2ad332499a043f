"""Course and assignment administration: the service functions of the staff pages and of
``backprop course|assignment|extension`` (SPEC §7), so both refuse the same input with the
same words.

Every function validates everything before it writes, raises :class:`AdminError` with a
message meant for the person who typed the value, and commits once.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, fields

from sqlalchemy import func, select

from web.db import db
from web.models import (
    COUNTED_RULES,
    INSTRUCTOR,
    LATE_POLICIES,
    PENALTY,
    SCORINGS,
    SHAPE_RULES,
    Assignments,
    Courses,
    Enrolments,
    Extensions,
    Submissions,
    Users,
    utcnow,
)
from web.services.accounts import AccountError, normalize_email

#: Join codes avoid characters that read alike (0/O, 1/l/I).
JOIN_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
JOIN_LENGTH = 8
CODE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


class AdminError(ValueError):
    """A course-administration request that cannot be done (clear message, nothing stored)."""


def _clean_text(value: str | None, what: str, limit: int) -> str:
    text = (value or "").strip()
    if len(text) > limit:
        raise AdminError(f"the {what} is {len(text)} characters; at most {limit}")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise AdminError(f"the {what} contains control characters")
    return text


def new_join_code() -> str:
    """Return a fresh random join code (unused so far, in any case: codes are matched
    regardless of case, see ``accounts.course_for_join_code``)."""
    while True:
        code = "".join(secrets.choice(JOIN_ALPHABET) for _ in range(JOIN_LENGTH))
        if db.session.scalar(select(Courses.id).where(
                func.lower(Courses.join_code) == code.lower())) is None:
            return code


def find_user(email: str) -> Users:
    """Return the user with this address, or AdminError."""
    try:
        address = normalize_email(email)
    except AccountError as exc:
        raise AdminError(str(exc)) from None
    user = db.session.scalar(select(Users).where(Users.email == address))
    if user is None:
        raise AdminError(f"no user with e-mail {address} (create one with "
                         "`backprop user add`, or add them to the roster)")
    return user


def find_course(code: str) -> Courses:
    """Return the course with this code, or AdminError."""
    course = db.session.scalar(select(Courses).where(Courses.code == (code or "").strip()))
    if course is None:
        raise AdminError(f"no course {code!r}")
    return course


def create_course(code: str, title: str = "", instructor: Users | None = None) -> Courses:
    """Create a course with a random join code, its instructor enrolled as such."""
    code = (code or "").strip()
    if not code or len(code) > 40 or not set(code) <= CODE_CHARS \
            or not any(c.isalnum() for c in code):
        raise AdminError("a course code is 1 to 40 letters, digits, '-', '_' or '.', with at "
                         "least one letter or digit")
    if db.session.scalar(select(Courses.id).where(Courses.code == code)) is not None:
        raise AdminError(f"a course {code!r} already exists")
    title = _clean_text(title, "title", 200) or code
    if instructor is not None and instructor.role == "student":
        instructor.role = "instructor"  # may now create courses of their own
    course = Courses(code=code, title=title, join_code=new_join_code())
    db.session.add(course)
    if instructor is not None:
        db.session.add(Enrolments(user=instructor, course=course, role=INSTRUCTOR))
    db.session.commit()
    return course


def writable(course: Courses) -> None:
    """Refuse changes to an archived course (read-only until restored)."""
    if course.archived_at is not None:
        raise AdminError(f"course {course.code} is archived: restore it to change it")


def update_course(course: Courses, *, title: str | None = None) -> Courses:
    """Change a course's title."""
    writable(course)
    if title is not None:
        course.title = _clean_text(title, "title", 200) or course.code
    db.session.commit()
    return course


def regenerate_join_code(course: Courses) -> str:
    """Give the course a new join code; the old one stops working at once."""
    course.join_code = new_join_code()
    db.session.commit()
    return course.join_code


def set_archived(course: Courses, archived: bool) -> Courses:
    """Archive (read-only: nobody submits, it leaves the lists) or restore a course."""
    course.archived_at = utcnow() if archived else None
    db.session.commit()
    return course


# --- assignments ------------------------------------------------------------------------

@dataclass
class AssignmentSpec:
    """The editable fields of an assignment (None: leave as is / not given)."""

    title: str | None = None
    opens_at: dt.datetime | None = None
    deadline: dt.datetime | None = None
    late_policy: str | None = None
    late_penalty: float | None = None
    cutoff_days: int | None = None
    max_submissions: int | None = None
    min_interval_seconds: int | None = None
    scoring: str | None = None
    shape_rule: str | None = None
    counted: str | None = None


#: Fields that may be set back to "none" (no opening time, no deadline, no cap, no cut-off).
CLEARABLE = ("opens_at", "deadline", "max_submissions", "cutoff_days")


def _check(a: Assignments) -> None:
    """Validate an assignment's fields together (after they were set)."""
    choices = (("late_policy", LATE_POLICIES), ("scoring", SCORINGS),
               ("shape_rule", SHAPE_RULES), ("counted", COUNTED_RULES))
    for name, allowed in choices:
        if getattr(a, name) not in allowed:
            raise AdminError(f"{name.replace('_', ' ')} must be one of {', '.join(allowed)}")
    if not 0.0 <= (a.late_penalty or 0.0) <= 1.0:
        raise AdminError("the penalty per day is a fraction between 0 and 1 (0.1 = 10 % a day)")
    if a.late_policy == PENALTY and not a.late_penalty:
        raise AdminError("the penalty policy needs a penalty per day above 0")
    if a.cutoff_days is not None and not 0 <= a.cutoff_days <= 365:
        raise AdminError("the cut-off is 0 to 365 days after the deadline")
    if a.max_submissions is not None and not 1 <= a.max_submissions <= 10_000:
        raise AdminError("max submissions is 1 to 10000 (or none)")
    if not 0 <= (a.min_interval_seconds or 0) <= 86_400:
        raise AdminError("the minimum interval is 0 to 86400 seconds")
    if a.opens_at and a.deadline and a.opens_at >= a.deadline:
        raise AdminError("the assignment must open before its deadline")
    for when in (a.opens_at, a.deadline):
        if when is not None and not dt.datetime(2000, 1, 1) <= when <= dt.datetime(2200, 1, 1):
            raise AdminError("dates must lie between 2000 and 2200")


def _apply(a: Assignments, spec: AssignmentSpec, clear: tuple[str, ...] = ()) -> None:
    for f in fields(spec):
        value = getattr(spec, f.name)
        if f.name in clear:
            setattr(a, f.name, None)
        elif value is not None:
            if f.name == "title":
                value = _clean_text(value, "title", 200)
            setattr(a, f.name, value)


def add_assignment(course: Courses, exercise_id: str, spec: AssignmentSpec) -> Assignments:
    """Add an assignment of a registered exercise to a course."""
    from grader.registry import UnknownExercise, exercise_info

    writable(course)
    try:
        exercise = exercise_info(exercise_id)
    except UnknownExercise as exc:
        raise AdminError(str(exc).strip("'\"")) from None
    a = Assignments(course=course, exercise_id=exercise.id, title=exercise.title,
                    max_score=exercise.max_score,
                    late_policy="accept", late_penalty=0.0, min_interval_seconds=0,
                    scoring="strict", shape_rule="strict", counted="best")
    _apply(a, spec)
    if not a.title:
        a.title = exercise.title
    try:
        _check(a)
    except AdminError:
        db.session.rollback()
        raise
    db.session.add(a)
    db.session.commit()
    return a


def update_assignment(a: Assignments, spec: AssignmentSpec,
                      clear: tuple[str, ...] = ()) -> Assignments:
    """Change an assignment's fields; ``clear`` names fields to set back to none."""
    writable(a.course)
    bad = set(clear) - set(CLEARABLE)
    if bad:
        raise AdminError(f"cannot clear {', '.join(sorted(bad))}")
    _apply(a, spec, clear)
    try:
        _check(a)
    except AdminError:
        db.session.rollback()
        raise
    db.session.commit()
    return a


def count_submissions(a: Assignments) -> int:
    """Return how many submissions an assignment has."""
    return db.session.scalar(select(func.count(Submissions.id)).where(
        Submissions.assignment_id == a.id)) or 0


def remove_assignment(a: Assignments) -> int:
    """Delete an assignment with its submissions; return how many submissions went."""
    writable(a.course)
    n = count_submissions(a)
    db.session.delete(a)
    db.session.commit()
    return n


def find_assignments(course: Courses, exercise_or_id: str) -> list[Assignments]:
    """Return the course's assignments of an exercise id (or with that assignment id)."""
    q = select(Assignments).where(Assignments.course_id == course.id)
    if exercise_or_id.isascii() and exercise_or_id.isdigit():
        # an id no backend can store matches nothing (not an integer-overflow error)
        ident = int(exercise_or_id) if len(exercise_or_id) <= 10 else -1
        q = q.where(Assignments.id == (ident if ident <= 2**31 - 1 else -1))
    else:
        q = q.where(Assignments.exercise_id == exercise_or_id)
    found = list(db.session.scalars(q.order_by(Assignments.id)))
    if not found:
        raise AdminError(f"course {course.code!r} has no assignment of {exercise_or_id!r}")
    return found


# --- extensions -------------------------------------------------------------------------

def set_extension(a: Assignments, user: Users, deadline: dt.datetime) -> Extensions:
    """Give a student of the course a personal deadline (replacing an earlier one)."""
    writable(a.course)
    if db.session.scalar(select(Enrolments.id).where(
            Enrolments.course_id == a.course_id, Enrolments.user_id == user.id)) is None:
        raise AdminError(f"{user.email} is not in course {a.course.code}")
    if not dt.datetime(2000, 1, 1) <= deadline <= dt.datetime(2200, 1, 1):
        raise AdminError("dates must lie between 2000 and 2200")
    if a.deadline is not None and deadline < a.deadline:
        raise AdminError(f"an extension gives more time: {deadline:%Y-%m-%d %H:%M} UTC is "
                         f"before the assignment's deadline ({a.deadline:%Y-%m-%d %H:%M} UTC)")
    ext = db.session.scalar(select(Extensions).where(
        Extensions.assignment_id == a.id, Extensions.user_id == user.id))
    if ext is None:
        ext = Extensions(assignment_id=a.id, user_id=user.id, deadline=deadline)
        db.session.add(ext)
    else:
        ext.deadline = deadline
    db.session.commit()
    return ext


def remove_extension(a: Assignments, user_id: int) -> bool:
    """Withdraw a personal deadline; False when there was none."""
    writable(a.course)
    ext = db.session.scalar(select(Extensions).where(
        Extensions.assignment_id == a.id, Extensions.user_id == user_id))
    if ext is None:
        return False
    db.session.delete(ext)
    db.session.commit()
    return True


def extensions(a: Assignments) -> list[tuple[Extensions, Users]]:
    """Return an assignment's extensions with their students (one query)."""
    return list(db.session.execute(
        select(Extensions, Users).join(Users, Users.id == Extensions.user_id)
        .where(Extensions.assignment_id == a.id).order_by(Users.email)))
