"""The account page (API tokens, how to use the CLI and a notebook) and password-reset links.

There is no mail server: a forgotten password is reset with a one-time link that a course's
instructor makes on the roster (or an admin with ``backprop user reset-password``) and hands
over. Tokens and links are shown once, never stored in clear (see web.services.accounts), and
the pages that show them are not cached.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from web import access
from web.extensions import limiter
from web.forms import ConfirmForm
from web.services import accounts
from web.services.accounts import AccountError

bp = Blueprint("account", __name__)

#: What the account page tells students to run to install the CLI; an instance may name its
#: own (a wheel URL, a git URL) with ``INSTALL_COMMAND`` in ``BACKPROP_HOME/config.py``.
DEFAULT_INSTALL = "pip install backprop-grader"
#: The exercise the examples use (the first of the lecture's pack).
EXAMPLE_EXERCISE = "makemore4/ex1"


class TokenForm(FlaskForm):
    name = StringField("Name (where you will use it)", validators=[Optional(), Length(max=80)],
                       render_kw={"placeholder": "laptop, Colab, …"})


class ResetForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(), Length(min=8, max=200)])
    confirm = PasswordField("Repeat new password",
                            validators=[EqualTo("password", "The passwords differ.")])


def _no_store(body: str, status: int = 200):
    """Answer a page that holds a secret (a new token, a reset link): never cached."""
    response = make_response(body, status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _server_url() -> str:
    """Return this server's URL as the browser reached it (for the copy-paste examples)."""
    return request.host_url.rstrip("/")


@bp.get("/account")
@login_required
def index():
    """The account page: tokens, and how to check and submit from a terminal or a notebook."""
    return _page(TokenForm(formdata=None))


def _page(form: TokenForm, new_token: str | None = None, status: int = 200):
    return _no_store(render_template(
        "account/index.html", form=form, new_token=new_token, confirm=ConfirmForm(),
        tokens=accounts.tokens_of(current_user), server=_server_url(),
        install=current_app.config.get("INSTALL_COMMAND") or DEFAULT_INSTALL,
        exercise=EXAMPLE_EXERCISE), status)


@bp.post("/account/tokens")
@login_required
@limiter.limit("30 per hour", error_message="Too many new tokens; wait a little.")
def create_token():
    """Create an API token and show it on the page, once (it is not kept in clear)."""
    form = TokenForm()
    if not form.validate_on_submit():
        return _page(form, status=400)
    try:
        token = accounts.create_token(current_user, form.name.data or "")
    except AccountError as exc:
        form.name.errors.append(str(exc))
        return _page(form, status=400)
    return _page(TokenForm(formdata=None), new_token=token, status=201)


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    """Revoke one of one's tokens: it stops working at once."""
    if not ConfirmForm().validate_on_submit():
        abort(400, "the form expired; reload the page and try again")
    row = accounts.revoke_token(current_user, token_id) if access.valid_id(token_id) else None
    if row is None:
        abort(404)
    flash(f"Token “{row.name}” revoked: it no longer works.", "ok")
    return redirect(url_for("account.index"))


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limiter.limit("20 per 10 minutes",
               error_message="Too many tries with reset links; wait a few minutes.")
def reset(token: str):
    """Set a new password with a one-time link an instructor made (no sign-in needed)."""
    user = accounts.reset_user(token)
    if user is None:
        return _no_store(render_template("auth/reset.html", form=None,
                                         expired=accounts.EXPIRED), 410)
    form = ResetForm()
    if form.validate_on_submit():
        try:
            accounts.redeem_reset(token, form.password.data)
        except AccountError as exc:
            return _no_store(render_template("auth/reset.html", form=None,
                                             expired=str(exc)), 410)
        flash("Your new password is set: sign in with it.", "ok")
        return redirect(url_for("auth.login"))
    return _no_store(render_template("auth/reset.html", form=form, email=user.email,
                                     expired=None))


@bp.post("/staff/courses/<code>/students/<int:user_id>/reset-link")
@login_required
def reset_link(code: str, user_id: int):
    """Let a course's instructor make a one-time reset link for one of its students."""
    course = access.get_staff_course(code, change=True, archived_ok=True)
    member = access.get_member(course, user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400, "the form expired; reload the page and try again")
    if member.role != "student" or not accounts.may_reset(member.user):
        abort(403, "reset links are for students only; an admin resets a staff account "
                   "with `backprop user reset-password EMAIL`")
    token, expires = accounts.issue_reset(member.user, created_by=access.user())
    return _no_store(render_template(
        "account/reset_link.html", course=course, tab="roster", member=member,
        link=url_for("account.reset", token=token, _external=True), expires=expires))


@bp.app_context_processor
def _may_reset_links() -> dict:
    """``may_make_reset_links(course)`` for the roster and student pages' button."""
    def may(course) -> bool:
        return current_user.is_authenticated and access.is_instructor(current_user, course.id)
    return {"may_make_reset_links": may}
