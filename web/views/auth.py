"""Sign-in, sign-out, self-registration with a course code, joining a course, password change."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from web.accounts import AccountError, create_user, enrol
from web.db import db
from web.extensions import limiter, login_manager
from web.forms import JoinForm, LoginForm, PasswordForm, RegisterForm
from web.models import Courses, Enrolments, Users

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def _load_user(user_id: str) -> Users | None:
    return db.session.get(Users, int(user_id)) if user_id.isdigit() else None


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
    """Create a student account with the course's join code."""
    if not current_app.config["SELF_REGISTRATION"]:
        flash("Accounts are created by your instructor.", "error")
        return redirect(url_for("auth.login"))
    form = RegisterForm()
    if form.validate_on_submit():
        code = form.course.data.strip()
        if db.session.scalar(select(Courses).where(Courses.code == code)) is None:
            form.course.errors.append("No course has this code; check it with your instructor.")
        else:
            try:
                user = create_user(form.email.data, "student", form.password.data, code,
                                   name=form.name.data or "")
            except AccountError as exc:
                form.email.errors.append(str(exc))
            else:
                login_user(user)
                flash(f"Welcome! You joined {code}.", "ok")
                return redirect(url_for("dashboard.index"))
    return render_template("auth/register.html", form=form)


@bp.route("/join", methods=["GET", "POST"])
@login_required
def join():
    """Join another course with its code."""
    form = JoinForm()
    if form.validate_on_submit():
        code = form.course.data.strip()
        course = db.session.scalar(select(Courses).where(Courses.code == code))
        if course is None:
            form.course.errors.append("No course has this code.")
        elif db.session.scalar(select(Enrolments).where(
                Enrolments.user_id == current_user.id, Enrolments.course_id == course.id)):
            flash(f"You are already in {code}.", "ok")
            return redirect(url_for("dashboard.course", code=code))
        else:
            enrol(current_user, code)
            db.session.commit()
            flash(f"You joined {code}.", "ok")
            return redirect(url_for("dashboard.course", code=code))
    return render_template("auth/join.html", form=form)


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
            flash("Password changed.", "ok")
            return redirect(url_for("dashboard.index"))
    return render_template("auth/password.html", form=form)


__all__ = ["AccountError", "bp"]
