"""Account service functions: users, course enrolment, API tokens and one-time password-reset
links (both stored hashed)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import func, select, update
from werkzeug.security import generate_password_hash

from grader.text import visible
from web.db import db
from web.models import (
    ROLES,
    STUDENT,
    ApiTokens,
    Assignments,
    Courses,
    Enrolments,
    PasswordResets,
    Users,
    utcnow,
)

#: How long a password-reset link works (it is handed over by hand, often the next day).
RESET_LIFETIME = dt.timedelta(hours=24)
#: At most this many live API tokens per user (each creation is a row; a loop cannot fill
#: the table).
MAX_TOKENS = 20

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
    """Return the open (not archived) course whose join code is ``code``, else None.

    Case does not matter (``ml101`` finds ``ML101``: people retype a code from a slide, and a
    phone capitalizes the first letter); codes stay stored as created. Should two open courses
    have codes that differ only in case (created before this rule), the exact spelling wins,
    and a code that stays ambiguous finds nothing rather than the wrong course.
    """
    code = (code or "").strip()
    if not code or len(code) > 40:
        return None
    found = db.session.scalars(select(Courses).where(
        func.lower(Courses.join_code) == code.lower(), Courses.archived_at.is_(None))
        .limit(10)).all()
    exact = [c for c in found if c.join_code == code]
    if exact:
        return exact[0]
    return found[0] if len(found) == 1 else None


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
    """Give a new course one assignment per exercise of the default packs (no deadline, 20
    tries): the lecture's pack unless ``BACKPROP_DEFAULT_PACKS`` says otherwise — with every
    installed pack (26 exercises and more) a new course would start cluttered."""
    from flask import current_app

    from grader.registry import catalog

    packs = set(current_app.config.get("DEFAULT_PACKS", ()))
    for exercise_id, info in sorted(catalog().items()):
        if exercise_id.split("/")[0] not in packs:
            continue
        db.session.add(Assignments(course=course, exercise_id=exercise_id,
                                   title=info.title, max_submissions=20,
                                   max_score=info.max_score, min_interval_seconds=10))


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


def tokens_of(user: Users) -> list[ApiTokens]:
    """Return a user's API tokens, newest first (for the account page)."""
    return list(db.session.scalars(select(ApiTokens).where(ApiTokens.user_id == user.id)
                                   .order_by(ApiTokens.id.desc())))


def create_token(user: Users, name: str = "") -> str:
    """Create an API token for ``user`` from the account page; return it (shown once)."""
    name = " ".join((name or "").split())[:80] or "web"
    if any(not c.isprintable() for c in name):
        raise AccountError("a token name cannot contain control characters")
    count = db.session.scalar(select(func.count()).select_from(ApiTokens)
                              .where(ApiTokens.user_id == user.id))
    if count >= MAX_TOKENS:
        raise AccountError(f"you have {count} tokens, the most allowed: revoke one you no "
                           "longer use first")
    token = secrets.token_urlsafe(32)
    db.session.add(ApiTokens(user_id=user.id, token_hash=hash_token(token), name=name,
                             created_at=utcnow()))
    db.session.commit()
    return token


def revoke_token(user: Users, token_id: int) -> ApiTokens | None:
    """Delete one of ``user``'s tokens (it stops working at once); None if not theirs."""
    row = db.session.scalar(select(ApiTokens).where(ApiTokens.id == token_id,
                                                    ApiTokens.user_id == user.id))
    if row is not None:
        db.session.delete(row)
        db.session.commit()
    return row


def may_reset(target: Users) -> bool:
    """Return whether an instructor may make a reset link for ``target``: a student only.

    A reset link is a way into the account, so an instructor of one course must not get one
    for a colleague, an admin, or a TA or instructor of another course.
    """
    if target.role != "student":
        return False
    return db.session.scalar(select(Enrolments.id).where(
        Enrolments.user_id == target.id, Enrolments.role != STUDENT).limit(1)) is None


def issue_reset(user: Users, created_by: Users | None = None,
                lifetime: dt.timedelta = RESET_LIFETIME) -> tuple[str, dt.datetime]:
    """Create a one-time reset link's token for ``user``; return it and its expiry.

    Only the token's hash is stored. Links made earlier for the same user stop working:
    only the newest link handed out opens the account.
    """
    now = utcnow()
    db.session.execute(update(PasswordResets).where(
        PasswordResets.user_id == user.id, PasswordResets.used_at.is_(None))
        .values(used_at=now))
    token = secrets.token_urlsafe(32)
    expires = now + lifetime
    db.session.add(PasswordResets(user_id=user.id, token_hash=hash_token(token),
                                  created_by=created_by.id if created_by else None,
                                  created_at=now, expires_at=expires))
    db.session.commit()
    return token, expires


def reset_for_email(email: str) -> tuple[Users, str, dt.datetime]:
    """Create a reset link's token for the user with this address (the CLI's road)."""
    user = db.session.scalar(select(Users).where(Users.email == _lookup_key(email)))
    if user is None:
        raise AccountError(visible(f"no user with e-mail {email}"))
    return (user, *issue_reset(user))


def reset_user(token: str) -> Users | None:
    """Return the user of a live (unused, unexpired) reset token, else None."""
    token = (token or "").strip()
    if not token or len(token) > 200:
        return None
    row = db.session.scalar(select(PasswordResets).where(
        PasswordResets.token_hash == hash_token(token)))
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        return None
    return row.user


def redeem_reset(token: str, password: str) -> Users:
    """Set a new password with a reset token, using the token up.

    The check and the use are one UPDATE (``used_at IS NULL`` in its WHERE): two requests
    racing with the same link cannot both set a password.
    """
    token = (token or "").strip()
    if not token or len(token) > 200:
        raise AccountError(EXPIRED)
    now = utcnow()
    used = db.session.execute(update(PasswordResets).where(
        PasswordResets.token_hash == hash_token(token), PasswordResets.used_at.is_(None),
        PasswordResets.expires_at > now).values(used_at=now)
        .returning(PasswordResets.user_id)).scalar()
    if used is None:
        db.session.rollback()
        raise AccountError(EXPIRED)
    user = db.session.get(Users, used)
    user.password_hash = generate_password_hash(password)
    db.session.commit()
    return user


#: What any unusable reset link answers (unknown, used and expired alike: nothing to probe).
EXPIRED = ("This reset link has expired or was already used. Ask your instructor for a new "
           "one.")


def _lookup_key(email: str) -> str:
    """Return the form an address is stored in; as before the rule for an older account's
    address that it refuses, so such an account can still be found (and get a token)."""
    try:
        return normalize_email(email)
    except AccountError:
        return email.strip().lower()
