"""Who may see what: the one road from a request to a row, for pages and the API alike.

Every route reaches rows through these functions (flaskr's ``get_post``), and both sign-in
paths (the session cookie of the pages, the bearer token of the API) put the same user in
``current_user``, so one rule decides for both:

- a student sees their own submissions and the courses they are enrolled in;
- course staff (instructor or TA) see their courses and everything in them; only an
  instructor changes a course (roster, assignments, staff, archive); a TA reads and grants
  extensions;
- an admin sees everything.

A row the user may not see answers 404, exactly like a row that does not exist, so ids and
course codes leak nothing; staff pages of a course answer 404 to its students too. Doing
what one's role does not allow on a course one can see answers 403.
"""

from __future__ import annotations

from flask import abort
from flask_login import current_user
from sqlalchemy import select

from web.db import db
from web.models import (
    INSTRUCTOR,
    STAFF_ROLES,
    Assignments,
    Batches,
    BatchFiles,
    Courses,
    Enrolments,
    Regrades,
    Submissions,
    Users,
)

#: The largest id any backend stores (PostgreSQL's integer): larger ones exist nowhere.
MAX_ID = 2**31 - 1


def valid_id(value: int | None) -> bool:
    """Return whether ``value`` can be a row id (so a huge one is a 404, not a 500)."""
    return value is not None and 0 < value <= MAX_ID


def user() -> Users:
    """Return the signed-in user (cookie or token), else answer 401."""
    u = current_user._get_current_object() if current_user.is_authenticated else None
    if u is None:
        abort(401)
    return u


def course_role(u: Users, course_id: int) -> str | None:
    """Return the user's role in the course ("instructor" for an admin), or None."""
    if u.role == "admin":
        return INSTRUCTOR
    return db.session.scalar(select(Enrolments.role).where(
        Enrolments.user_id == u.id, Enrolments.course_id == course_id))


def is_staff(u: Users, course_id: int) -> bool:
    """Return whether ``u`` is staff (instructor or TA) of the course, or an admin."""
    return course_role(u, course_id) in STAFF_ROLES


def is_instructor(u: Users, course_id: int) -> bool:
    """Return whether ``u`` may change the course (its instructor, or an admin)."""
    return course_role(u, course_id) == INSTRUCTOR


def staff_courses(u: Users, include_archived: bool = False) -> list[tuple[Courses, str]]:
    """Return the courses ``u`` is staff of, with the role (every course for an admin)."""
    if u.role == "admin":
        q = select(Courses, Enrolments.role).outerjoin(
            Enrolments, (Enrolments.course_id == Courses.id) & (Enrolments.user_id == u.id))
        rows = [(c, INSTRUCTOR) for c, _ in db.session.execute(q)]
    else:
        rows = list(db.session.execute(
            select(Courses, Enrolments.role).join(Enrolments).where(
                Enrolments.user_id == u.id, Enrolments.role.in_(STAFF_ROLES))))
    rows = [(c, r) for c, r in rows if include_archived or c.archived_at is None]
    return sorted(rows, key=lambda cr: (cr[0].archived_at is not None, cr[0].code))


def get_course(code: str) -> Courses:
    """Return a course the current user belongs to (any role), else 404."""
    course = db.session.scalar(select(Courses).where(Courses.code == code))
    if course is None or course_role(user(), course.id) is None:
        abort(404)
    return course


def get_staff_course(code: str, *, change: bool = False, archived_ok: bool = False) \
        -> Courses:
    """Return a course the current user is staff of, else 404 (403 when ``change`` is
    asked of a TA: they see the course but may not change it; 403 too for a change to an
    archived course, which is read-only until restored — ``archived_ok`` for the restore)."""
    course = db.session.scalar(select(Courses).where(Courses.code == code))
    role = course_role(user(), course.id) if course is not None else None
    if role not in STAFF_ROLES:
        abort(404)
    if change and role != INSTRUCTOR:
        abort(403, "only the course's instructors may change it")
    if change and course.archived_at is not None and not archived_ok:
        abort(403, "the course is archived: restore it to change it")
    return course


def get_course_assignment(course: Courses, assignment_id: int) -> Assignments:
    """Return an assignment of ``course`` (already checked by the caller), else 404."""
    a = db.session.get(Assignments, assignment_id) if valid_id(assignment_id) else None
    if a is None or a.course_id != course.id:
        abort(404)
    return a


def get_course_regrade(course: Courses, regrade_id: int) -> Regrades:
    """Return a regrade of one of ``course``'s assignments, else 404."""
    r = db.session.get(Regrades, regrade_id) if valid_id(regrade_id) else None
    if r is None or r.assignment.course_id != course.id:
        abort(404)
    return r


def get_course_batch(course: Courses, batch_id: int) -> Batches:
    """Return a batch upload of one of ``course``'s assignments, else 404."""
    b = db.session.get(Batches, batch_id) if valid_id(batch_id) else None
    if b is None or b.assignment.course_id != course.id:
        abort(404)
    return b


def get_batch_file(batch: Batches, file_id: int) -> BatchFiles:
    """Return a file of ``batch``, else 404."""
    f = db.session.get(BatchFiles, file_id) if valid_id(file_id) else None
    if f is None or f.batch_id != batch.id:
        abort(404)
    return f


def get_member(course: Courses, user_id: int) -> Enrolments:
    """Return a member's enrolment in ``course`` (already checked by the caller), else 404."""
    e = db.session.scalar(select(Enrolments).where(
        Enrolments.course_id == course.id, Enrolments.user_id == user_id)) \
        if valid_id(user_id) else None
    if e is None:
        abort(404)
    return e


def get_assignment(assignment_id: int) -> Assignments:
    """Return an assignment of a course the current user belongs to, else 404."""
    assignment = db.session.get(Assignments, assignment_id) if valid_id(assignment_id) else None
    if assignment is None or course_role(user(), assignment.course_id) is None:
        abort(404)
    return assignment


def may_read(u: Users, sub: Submissions) -> bool:
    """Return whether ``u`` may read a submission: its owner, its course's staff, an admin."""
    if sub.user_id == u.id or u.role == "admin":
        return True
    return sub.assignment_id is not None and is_staff(u, sub.assignment.course_id)


def get_submission(submission_id: int, check_owner: bool = True) -> Submissions:
    """Return a submission the current user may see (its owner, its course's staff), else 404.

    The only road to a submission row from a request: IDOR holes are closed by construction.
    """
    sub = db.session.get(Submissions, submission_id) if valid_id(submission_id) else None
    if sub is None or (check_owner and not may_read(user(), sub)):
        abort(404, f"no submission {submission_id} that you may read")
    return sub
