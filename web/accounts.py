"""Account service functions: users, course enrolment, API tokens (stored hashed)."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from werkzeug.security import generate_password_hash

from web.db import db
from web.models import ROLES, ApiTokens, Assignments, Courses, Enrolments, Users, utcnow


class AccountError(ValueError):
    """A user-facing problem with an account request (clear message, nothing stored)."""


def hash_token(token: str) -> str:
    """Return the stored form of an API token."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(email: str, role: str = "student", password: str | None = None,
                course_code: str | None = None, name: str = "") -> Users:
    """Create a user (enrolled in ``course_code``, created if needed) and commit."""
    email = email.strip().lower()
    if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
        raise AccountError(f"not an e-mail address: {email!r}")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if db.session.scalar(select(Users).where(Users.email == email)):
        raise AccountError(f"a user with e-mail {email} already exists")
    user = Users(email=email, role=role, name=name or email.split("@")[0],
                 password_hash=generate_password_hash(password) if password else None)
    db.session.add(user)
    if course_code:
        enrol(user, course_code, role="instructor" if role != "student" else "student")
    db.session.commit()
    return user


def enrol(user: Users, course_code: str, role: str = "student") -> Enrolments:
    """Enrol ``user`` in the course with this join code, creating the course if needed."""
    code = course_code.strip()
    if not code or len(code) > 40:
        raise AccountError("a course code is 1 to 40 characters")
    course = db.session.scalar(select(Courses).where(Courses.code == code))
    if course is None:
        course = Courses(code=code, title=code)
        db.session.add(course)
        add_default_assignments(course)
    enrolment = Enrolments(user=user, course=course, role=role)
    db.session.add(enrolment)
    return enrolment


def add_default_assignments(course: Courses) -> None:
    """Give a new course one assignment per registered exercise (no deadline, 20 tries)."""
    from grader import get_exercise, load_exercises

    for exercise_id in sorted(load_exercises()):
        db.session.add(Assignments(course=course, exercise_id=exercise_id,
                                   title=get_exercise(exercise_id).title, max_submissions=20,
                                   min_interval_seconds=10))


def issue_token(email: str, name: str = "cli") -> str:
    """Create and return a new API token for a user (only its hash is stored)."""
    user = db.session.scalar(select(Users).where(Users.email == email.strip().lower()))
    if user is None:
        raise AccountError(f"no user with e-mail {email}")
    token = secrets.token_urlsafe(32)
    db.session.add(ApiTokens(user=user, token_hash=hash_token(token), name=name,
                             created_at=utcnow()))
    db.session.commit()
    return token
