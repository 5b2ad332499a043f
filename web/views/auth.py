"""Sign-in, sign-out, self-registration with a course code, joining a course, password change."""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from web.db import db
from web.extensions import limiter, login_manager
from web.forms import JoinForm, LoginForm, PasswordForm, RegisterForm
from web.models import Users
from web.services import accounts
from web.services.accounts import (
    AccountError,
    bearer_token,
    user_for_token,
)

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def _load_user(session_id: str) -> Users | None:
    """Return the user of a session ``ID.KEY`` (``Users.get_id``) while KEY still matches
    their password: a new password ends the sessions the old one opened."""
    ident, _, key = session_id.partition(".")
    user = db.session.get(Users, int(ident)) if ident.isdigit() and len(ident) < 19 else None
    if user is None or not hmac.compare_digest(key, user.session_key()):
        return None
    return user


@login_manager.request_loader
def load_user_from_request(req) -> Users | None:
    """Sign in a request by its API token: the API's road, and the pages' too (a script can
    fetch a gradebook CSV with ``Authorization: Bearer TOKEN``). Either way the user lands in
    ``current_user``, so web.access applies one rule to both."""
    token = bearer_token(req.headers.get("Authorization"))
    return user_for_token(token) if token else None


def _safe_next(target: str | None) -> str:
    """Only follow same-site relative paths after sign-in (no open redirect, no bad header).

    Browsers drop tabs and newlines from URLs and read ``\\`` as ``/``, so ``/\t/evil`` would
    become ``//evil``: anything but plain printable characters is refused outright.
    """
    if (target and target.startswith("/") and target.isprintable()
            and not any(c.isspace() or c == "\\" for c in target)):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and not target.startswith("//"):
            return target
    return url_for("dashboard.index")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute; 50 per hour", methods=["POST"],
               error_message="Too many sign-in attempts; wait a minute and try again.")
def login():
    """Sign in with e-mail and password."""
    form = LoginForm()
    if form.validate_on_submit():
        user = db.session.scalar(select(Users).where(Users.email == form.email.data.lower()))
        if user and user.password_hash and check_password_hash(user.password_hash,
                                                               form.password.data):
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        flash("Wrong e-mail or password.", "error")
    return render_template("auth/login.html", form=form,
                           can_register=current_app.config["SELF_REGISTRATION"])


@bp.route("/logout", methods=["POST"])
def logout():
    """Sign out (POST with CSRF, so a link on another site cannot sign you out)."""
    logout_user()
    return redirect(url_for("auth.login"))


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def register():
    """Create a student account with the course's join code.

    The course page's join link is ``/register?course=CODE``: the code arrives filled in,
    and someone already signed in is sent on to join the course instead.
    """
    code = _code_arg()
    if code and current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("auth.join", course=code))
    if not current_app.config["SELF_REGISTRATION"]:
        flash("Accounts are created by your instructor.", "error")
        return redirect(url_for("auth.login"))
    form = RegisterForm()
    if request.method == "GET" and code:
        form.course.data = code
    if form.validate_on_submit():
        try:
            user, course = accounts.register(form.email.data, form.password.data,
                                             form.course.data, name=form.name.data or "",
                                             student_id=form.student_id.data or "")
        except AccountError as exc:
            target = form.course if "join code" in str(exc) else form.email
            target.errors.append(str(exc))
        else:
            login_user(user)
            flash(f"Welcome! You joined {course.code}.", "ok")
            return redirect(url_for("dashboard.index"))
    return render_template("auth/register.html", form=form)


@bp.route("/join", methods=["GET", "POST"])
@login_required
def join():
    """Join another course with its code (``?course=CODE`` fills it in)."""
    form = JoinForm()
    if request.method == "GET" and _code_arg():
        form.course.data = _code_arg()
    if form.validate_on_submit():
        try:
            course, joined = accounts.join(current_user, form.course.data)
        except AccountError as exc:
            form.course.errors.append(str(exc))
        else:
            flash(f"You joined {course.code}." if joined else f"You are already in "
                  f"{course.code}.", "ok")
            return redirect(url_for("dashboard.course", code=course.code))
    return render_template("auth/join.html", form=form)


def _code_arg() -> str:
    """Return the ``course`` query argument of a join link (trimmed, at most 40 chars)."""
    return request.args.get("course", "").strip()[:40]


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    """Change one's password."""
    form = PasswordForm()
    if form.validate_on_submit():
        if not (current_user.password_hash and
                check_password_hash(current_user.password_hash, form.current.data)):
            form.current.errors.append("That is not your current password.")
        else:
            current_user.password_hash = generate_password_hash(form.password.data)
            db.session.commit()
            # The session's key follows the password (Users.get_id): renew this browser's,
            # so only the other browsers are signed out.
            login_user(current_user._get_current_object())
            flash("Password changed.", "ok")
            return redirect(url_for("account.index"))
    return render_template("auth/password.html", form=form)


__all__ = ["AccountError", "bp"]
