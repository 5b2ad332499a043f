"""Account service functions: users, course enrolment, API tokens (stored hashed)."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from werkzeug.security import generate_password_hash

from grader.text import visible
from web.db import db
from web.models import ROLES, ApiTokens, Assignments, Courses, Enrolments, Users, utcnow

#: The one e-mail rule, for ``backprop user add``, registration and sign-in alike (an account
#: the CLI creates must be able to sign in). An address is a sign-in name here, never mailed,
#: so nothing is looked up in DNS; but it must be a real, globally deliverable address:
#: special-use domains (``.test``, ``.local``, ``localhost``, …) are refused. Every option is
#: passed explicitly so that email_validator's module-level defaults cannot change the rule.
EMAIL_RULE = {
    "check_deliverability": False,
    "test_environment": False,
    "globally_deliverable": True,
    "allow_smtputf8": True,
    "allow_quoted_local": False,
    "allow_domain_literal": False,
    "allow_empty_local": False,
}


class AccountError(ValueError):
    """A user-facing problem with an account request (clear message, nothing stored)."""


def normalize_email(text: str) -> str:
    """Return the stored form of an e-mail address, or raise AccountError saying why not.

    The single validation rule of the CLI and the web forms (see :data:`EMAIL_RULE`), so any
    address one accepts the other accepts. The stored form is email_validator's normalized
    address (domain in Unicode, NFC), lower-cased as addresses always were here.
    """
    from email_validator import EmailNotValidError, validate_email

    address = (text or "").strip()
    if not address:
        raise AccountError("enter an e-mail address")
    if len(address) > 1024:  # far over the 254 allowed; spares parsing a megabyte of input
        raise AccountError("that is not a usable e-mail address: it is too long")
    try:
        info = validate_email(address, **EMAIL_RULE)
    except EmailNotValidError as exc:
        raise AccountError(visible(f"{address} is not a usable e-mail address: {exc}")) \
            from None
    return info.normalized.lower()


def hash_token(token: str) -> str:
    """Return the stored form of an API token."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(email: str, role: str = "student", password: str | None = None,
                course_code: str | None = None, name: str = "") -> Users:
    """Create a user (enrolled in ``course_code``, created if needed) and commit."""
    email = normalize_email(email)
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


def course_for_join_code(code: str) -> Courses | None:
    """Return the open (not archived) course whose join code is ``code``, else None."""
    code = (code or "").strip()
    if not code or len(code) > 40:
        return None
    return db.session.scalar(select(Courses).where(Courses.join_code == code,
                                                   Courses.archived_at.is_(None)))


def register(email: str, password: str, join_code: str, name: str = "",
             student_id: str = "") -> tuple[Users, Courses]:
    """Create a student account with a course's join code, or claim an invited one.

    A roster import creates accounts without a password; registering with that address
    claims the account (setting the password). Nothing proves that the registrant owns the
    address (nothing is e-mailed), so a claim must match what the roster knows: the join code
    of the course that invited the address, and the roster's student id when it has one.
    Otherwise the answer is the one any taken address gets, so invitations are not revealed.
    """
    course = course_for_join_code(join_code)
    if course is None:
        raise AccountError("No course has this join code; check it with your instructor.")
    address = normalize_email(email)
    taken = AccountError(f"a user with e-mail {address} already exists; sign in instead")
    user = db.session.scalar(select(Users).where(Users.email == address))
    if user is not None and user.password_hash is not None:
        raise taken
    if user is None:
        user = Users(email=address, role="student", name=name or address.split("@")[0])
        db.session.add(user)
        db.session.add(Enrolments(user=user, course=course, role="student"))
    else:
        roles = dict(db.session.execute(select(Enrolments.course_id, Enrolments.role).where(
            Enrolments.user_id == user.id)).all())
        invited = db.session.scalar(select(Enrolments).where(
            Enrolments.user_id == user.id, Enrolments.course_id == course.id,
            Enrolments.role == "student"))
        expected = (invited.student_number or "").strip().casefold() if invited else ""
        if invited is None or any(r != "student" for r in roles.values()) or \
                (expected and (student_id or "").strip().casefold() != expected):
            raise taken
        if name:
            user.name = name
    user.password_hash = generate_password_hash(password)
    db.session.commit()
    return user, course


def join(user: Users, join_code: str) -> tuple[Courses, bool]:
    """Enrol ``user`` in the course with this join code; return (course, newly joined)."""
    course = course_for_join_code(join_code)
    if course is None:
        raise AccountError("No course has this join code.")
    if db.session.scalar(select(Enrolments.id).where(
            Enrolments.user_id == user.id, Enrolments.course_id == course.id)) is not None:
        return course, False
    db.session.add(Enrolments(user=user, course=course, role="student"))
    db.session.commit()
    return course, True


def enrol(user: Users, course_code: str, role: str = "student") -> Enrolments:
    """Enrol ``user`` in the course with this join code, creating the course if needed."""
    code = course_code.strip()
    if not code or len(code) > 40:
        raise AccountError("a course code is 1 to 40 characters")
    course = db.session.scalar(select(Courses).where(Courses.code == code))
    if course is None:
        course = Courses(code=code, title=code, join_code=code)
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
                                   max_score=get_exercise(exercise_id).max_score,
                                   min_interval_seconds=10))


def user_for_token(token: str) -> Users | None:
    """Return the user an API token belongs to (and note its use), or None."""
    token = (token or "").strip()
    if not token or len(token) > 200:
        return None
    row = db.session.scalar(select(ApiTokens).where(ApiTokens.token_hash == hash_token(token)))
    if row is None:
        return None
    row.last_used_at = utcnow()
    db.session.commit()
    return row.user


def bearer_token(header: str | None) -> str | None:
    """Return the token of an ``Authorization: Bearer TOKEN`` header, else None."""
    scheme, _, token = (header or "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def issue_token(email: str, name: str = "cli") -> str:
    """Create and return a new API token for a user (only its hash is stored)."""
    user = db.session.scalar(select(Users).where(Users.email == _lookup_key(email)))
    if user is None:
        raise AccountError(visible(f"no user with e-mail {email}"))
    token = secrets.token_urlsafe(32)
    db.session.add(ApiTokens(user=user, token_hash=hash_token(token), name=name,
                             created_at=utcnow()))
    db.session.commit()
    return token


def _lookup_key(email: str) -> str:
    """Return the form an address is stored in; as before the rule for an older account's
    address that it refuses, so such an account can still be found (and get a token)."""
    try:
        return normalize_email(email)
    except AccountError:
        return email.strip().lower()
