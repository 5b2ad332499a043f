"""Staff pages: a course's roster — the member list (staff), adding, removing and importing
members (instructors).

An import is two requests: the file (uploaded or pasted) is parsed and planned into a preview
page, whose form carries the file itself (zlib-compressed, URL-safe base64, with its SHA-256)
so that "Apply" parses and plans exactly that file again against the database as it is then
(``web.services.roster.apply``); nothing is kept on the server in between.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import zlib

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from werkzeug.datastructures import FileStorage
from wtforms import EmailField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from web.access import get_member, get_staff_course, is_instructor, user
from web.models import STUDENT, Courses
from web.services import roster as service
from web.services.accounts import AccountError
from web.views.staff import bp

#: Rows of the preview's tables shown at most (every error is always shown).
PREVIEW_ROWS = 1000


class AddMemberForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    name = StringField("Name", validators=[Optional(), Length(max=service.MAX_LENGTH["name"])])
    student_id = StringField("Student id", validators=[
        Optional(), Length(max=service.MAX_LENGTH["student_id"])])
    section = StringField("Section", validators=[
        Optional(), Length(max=service.MAX_LENGTH["section"])])
    role = SelectField("Role", choices=[SelectChoice(STUDENT, "student"), SelectChoice("ta", "TA"),
                                        SelectChoice("instructor", "instructor")],
                       default=STUDENT)


class ImportForm(FlaskForm):
    upload = FileField("Roster file (.csv)")
    text = TextAreaField("…or paste the CSV", validators=[Optional()])


class ApplyForm(FlaskForm):
    content = HiddenField(validators=[DataRequired()])
    sha256 = HiddenField(validators=[DataRequired(), Length(min=64, max=64)])


class RemoveForm(FlaskForm):
    confirm = HiddenField()


def encode(data: bytes) -> str:
    """Return a file as the preview form carries it: zlib-compressed, URL-safe base64."""
    return base64.urlsafe_b64encode(zlib.compress(data, 6)).decode("ascii")


def decode(text: str) -> bytes | None:
    """Return the file a preview form carried, or None when it is not one (at most
    ``MAX_BYTES`` are inflated, so a crafted field cannot fill the memory)."""
    try:
        blob = base64.b64decode(text.encode("ascii"), altchars=b"-_", validate=True)
        inflate = zlib.decompressobj()
        data = inflate.decompress(blob, service.MAX_BYTES + 1)
    except (ValueError, binascii.Error, zlib.error):
        return None
    if len(data) > service.MAX_BYTES or inflate.unconsumed_tail or not inflate.eof:
        return None
    return data


def _page(course: Courses, form: AddMemberForm | None = None,
          import_form: ImportForm | None = None, status: int = 200):
    """Render the roster page (the add and import forms only for instructors)."""
    q = request.args.get("q", "")[:200]
    section = request.args.get("section", "")[:64] or None
    can_change = is_instructor(user(), course.id)
    return render_template(
        "staff/roster.html", tab="roster", course=course, q=q, section=section,
        members=service.members(course, q, section), sections=service.sections(course),
        can_change=can_change, form=form or AddMemberForm(formdata=None),
        import_form=import_form or ImportForm(formdata=None), max_rows=service.MAX_ROWS,
        max_mib=service.MAX_BYTES // 1024 // 1024, aliases=service.ALIASES), status


@bp.route("/courses/<code>/roster")
@login_required
def roster(code: str):
    """The course's members, searched and filtered; forms to change it for instructors."""
    return _page(get_staff_course(code))


@bp.route("/courses/<code>/roster/add", methods=["POST"])
@login_required
def roster_add(code: str):
    """Add one person (invited when they have no account yet), in any course role."""
    course = get_staff_course(code, change=True)
    form = AddMemberForm()
    if form.validate_on_submit():
        try:
            enrolment, invited = service.add_member(
                course, form.email.data, form.name.data or "", form.student_id.data or "",
                form.section.data or "", form.role.data)
        except (AccountError, service.RosterError) as exc:
            form.email.errors.append(str(exc))
        else:
            flash(f"{enrolment.user.email} added as {enrolment.role}"
                  + (" (invited: they claim the account by registering with this address)"
                     if invited else "") + ".", "ok")
            return redirect(url_for("staff.roster", code=course.code))
    return _page(course, form=form, status=400)


@bp.route("/courses/<code>/roster/<int:user_id>/remove", methods=["POST"])
@login_required
def roster_remove(code: str, user_id: int):
    """Remove a member: the first POST asks to confirm, the second (``confirm=yes``) removes."""
    course = get_staff_course(code, change=True)
    member = get_member(course, user_id)
    form = RemoveForm()
    if form.validate_on_submit() and form.confirm.data == "yes":
        email = member.user.email
        try:
            service.remove_member(course, user_id)
        except service.RosterError as exc:
            flash(str(exc), "error")
        else:
            flash(f"{email} was removed from {course.code}; their submissions are kept.", "ok")
        return redirect(url_for("staff.roster", code=course.code))
    return render_template("staff/roster_remove.html", tab="roster", course=course,
                           member=member, form=RemoveForm(formdata=None))


def _upload(form: ImportForm) -> tuple[bytes | None, str]:
    """Return the uploaded or pasted file (at most one byte over the limit) and its name."""
    upload = form.upload.data
    if isinstance(upload, FileStorage) and upload.filename:
        return upload.stream.read(service.MAX_BYTES + 1), upload.filename
    if form.text.data and form.text.data.strip():
        return form.text.data.encode("utf-8", "replace"), "pasted text"
    return None, ""


def _fits(encoded: str) -> bool:
    """Return whether the apply form with this content fits in a request."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    return limit is None or len(encoded) + 4096 <= limit


def _preview(course: Courses, data: bytes, filename: str, status: int = 200):
    parsed = service.parse(data)
    planned = service.plan(course, parsed)
    encoded = encode(data)
    fits = _fits(encoded)
    form = ApplyForm(formdata=None, content=encoded, sha256=parsed.sha256)
    shown = [c for c in planned.changes if c.kind != service.UNCHANGED]
    return render_template(
        "staff/roster_preview.html", tab="roster", course=course, plan=planned,
        parsed=parsed, counts=planned.counts, filename=filename, form=form, fits=fits,
        changes=shown[:PREVIEW_ROWS], more_changes=max(0, len(shown) - PREVIEW_ROWS),
        absent=planned.absent[:PREVIEW_ROWS],
        more_absent=max(0, len(planned.absent) - PREVIEW_ROWS),
        labels=service.LABELS), status


@bp.route("/courses/<code>/roster/import", methods=["POST"])
@login_required
def roster_import(code: str):
    """Preview importing a roster file: what would change, and every error by line."""
    course = get_staff_course(code, change=True)
    form = ImportForm()
    if not form.validate_on_submit():
        return _page(course, import_form=form, status=400)
    data, filename = _upload(form)
    if data is None:
        form.upload.errors = [*form.upload.errors, "Choose a CSV file or paste its text."]
        return _page(course, import_form=form, status=400)
    if len(data) > service.MAX_BYTES:
        form.upload.errors = [*form.upload.errors, (
            f"That file is larger than {service.MAX_BYTES // 1024 // 1024} MiB: split it "
            "into smaller files.")]
        return _page(course, import_form=form, status=400)
    return _preview(course, data, filename)


@bp.route("/courses/<code>/roster/apply", methods=["POST"])
@login_required
def roster_apply(code: str):
    """Apply the previewed file: all of it, or nothing when there is any error."""
    course = get_staff_course(code, change=True)
    form = ApplyForm()
    data = decode(form.content.data or "") if form.validate_on_submit() else None
    if data is None or not hmac.compare_digest(hashlib.sha256(data).hexdigest(),
                                               (form.sha256.data or "").lower()):
        flash("The previewed file did not arrive intact; nothing was changed. "
              "Import it again.", "error")
        return redirect(url_for("staff.roster", code=course.code))
    parsed = service.parse(data)
    try:
        counts = service.apply(course, service.plan(course, parsed))
    except service.RosterError as exc:
        flash(f"Nothing was changed: {exc} (the course may have changed since the preview; "
              "see the errors below).", "error")
        return _preview(course, data, "the previewed file", status=409)
    flash(f"Roster imported: {service.summary(counts)}.", "ok")
    return redirect(url_for("staff.roster", code=course.code))
