"""Staff pages of one assignment's grading: batch uploads (zip → submissions, live progress,
unmatched files to assign) and regrades (progress, what changed, apply or discard)."""

from __future__ import annotations

from flask import abort, flash, jsonify, redirect, render_template, url_for
from flask_login import login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import EmailField, HiddenField
from wtforms.validators import Optional

from web import access
from web.forms import ConfirmForm
from web.services import batches, regrades
from web.views.staff import bp, csv_response


class BatchForm(FlaskForm):
    upload = FileField("A zip of the students' files")


class RegradeForm(FlaskForm):
    email = EmailField("Only this student (optional)", validators=[Optional()])
    submission = HiddenField(validators=[Optional()])


class AssignForm(FlaskForm):
    email = EmailField("Student")


@bp.get("/courses/<code>/assignments/<int:assignment_id>")
@login_required
def assignment(code: str, assignment_id: int):
    """An assignment's grading: upload a batch, its batches and regrades."""
    c = access.get_staff_course(code)
    a = access.get_course_assignment(c, assignment_id)
    return render_template(
        "staff/assignment.html", course=c, tab="assignments", assignment=a,
        instructor=access.is_instructor(access.user(), c.id),
        batches=[(b, batches.progress(b)) for b in batches.of_assignment(a)],
        regrades=regrades.of_assignment(a), batch_form=BatchForm(formdata=None),
        regrade_form=RegradeForm(formdata=None), max_mib=batches.MAX_UPLOAD_BYTES // 2**20)


# ------------------------------------------------------------------------------ batches

@bp.post("/courses/<code>/assignments/<int:assignment_id>/batches")
@login_required
def batch_upload(code: str, assignment_id: int):
    """Take a zip, match its files to the roster and queue them (instructors)."""
    c = access.get_staff_course(code, change=True)
    a = access.get_course_assignment(c, assignment_id)
    form = BatchForm()
    if not form.validate_on_submit():
        abort(400, "the form expired: reload the page and upload again")
    upload = form.upload.data
    if not upload or not upload.filename:
        flash("Choose a zip file to upload.", "error")
        return redirect(url_for("staff.assignment", code=c.code, assignment_id=a.id))
    try:
        data = upload.stream.read(batches.MAX_UPLOAD_BYTES + 1)
        batch = batches.create(a, batches.read(data, upload.filename),
                               filename=upload.filename, created_by=access.user().id)
    except batches.BatchError as exc:
        flash(f"Nothing was stored: {exc}", "error")
        return redirect(url_for("staff.assignment", code=c.code, assignment_id=a.id))
    return redirect(url_for("staff.batch", code=c.code, batch_id=batch.id))


@bp.get("/courses/<code>/batches/<int:batch_id>")
@login_required
def batch(code: str, batch_id: int):
    """A batch: live progress, then every file with its student and score."""
    c = access.get_staff_course(code)
    b = access.get_course_batch(c, batch_id)
    return render_template("staff/batch.html", course=c, tab="assignments", batch=b,
                           assignment=b.assignment, progress=batches.progress(b),
                           rows=batches.files(b), students=batches.students(c.id),
                           instructor=access.is_instructor(access.user(), c.id),
                           assign_form=AssignForm(formdata=None),
                           confirm=ConfirmForm(formdata=None))


@bp.get("/courses/<code>/batches/<int:batch_id>/progress.json")
@login_required
def batch_progress(code: str, batch_id: int):
    """The batch's progress for the live bar."""
    c = access.get_staff_course(code)
    return jsonify(batches.progress(access.get_course_batch(c, batch_id)).to_json())


@bp.get("/courses/<code>/batches/<int:batch_id>/results.csv")
@login_required
def batch_csv(code: str, batch_id: int):
    """The batch's results as the CSV a local ``backprop batch`` writes."""
    c = access.get_staff_course(code)
    b = access.get_course_batch(c, batch_id)
    return csv_response(batches.csv_text(b), f"{c.code}-batch-{b.id}.csv")


@bp.post("/courses/<code>/batches/<int:batch_id>/files/<int:file_id>/assign")
@login_required
def batch_assign(code: str, batch_id: int, file_id: int):
    """Grade an unmatched or ambiguous file as the chosen student's (instructors)."""
    c = access.get_staff_course(code, change=True)
    b = access.get_course_batch(c, batch_id)
    row = access.get_batch_file(b, file_id)
    form = AssignForm()
    if not form.validate_on_submit():
        abort(400, "the form expired: reload the page and try again")
    try:
        user = batches.course_student(b.assignment, form.email.data or "") \
            if form.email.data else None  # no e-mail: confirm the proposed name match
        sub = batches.assign(row, user)
    except batches.BatchError as exc:
        flash(str(exc), "error")
    else:
        flash(f"{row.name} is graded as {row.user.email}'s." if sub is not None else
              f"{row.name} is the same file {row.user.email} already sent: not graded again.",
              "ok")
    return redirect(url_for("staff.batch", code=c.code, batch_id=b.id))


@bp.post("/courses/<code>/batches/<int:batch_id>/confirm")
@login_required
def batch_confirm_all(code: str, batch_id: int):
    """Confirm every name match of a batch (instructors, after reading the list)."""
    c = access.get_staff_course(code, change=True)
    b = access.get_course_batch(c, batch_id)
    if not ConfirmForm().validate_on_submit():
        abort(400, "the form expired: reload the page and try again")
    try:
        n = batches.confirm_all(b)
    except batches.BatchError as exc:
        flash(str(exc), "error")
    else:
        flash(f"{n} name matches confirmed and queued.", "ok")
    return redirect(url_for("staff.batch", code=c.code, batch_id=b.id))


# ------------------------------------------------------------------------------ regrades

@bp.post("/courses/<code>/assignments/<int:assignment_id>/regrade")
@login_required
def regrade_start(code: str, assignment_id: int):
    """Start a regrade of the assignment, one student or one submission (instructors)."""
    c = access.get_staff_course(code, change=True)
    a = access.get_course_assignment(c, assignment_id)
    form = RegradeForm()
    if not form.validate_on_submit():
        abort(400, "the form expired: reload the page and try again")
    try:
        student = batches.course_student(a, form.email.data) if form.email.data else None
        sub = None
        if form.submission.data:
            raw = form.submission.data
            if not (raw.isascii() and raw.isdigit() and len(raw) <= 10):
                abort(404)
            sub = access.get_submission(int(raw))
        r = regrades.start(a, created_by=access.user().id, student=student, submission=sub)
    except (batches.BatchError, regrades.RegradeError) as exc:
        flash(str(exc), "error")
        return redirect(url_for("staff.assignment", code=c.code, assignment_id=a.id))
    return redirect(url_for("staff.regrade", code=c.code, regrade_id=r.id))


@bp.get("/courses/<code>/regrades/<int:regrade_id>")
@login_required
def regrade(code: str, regrade_id: int):
    """A regrade: progress, then what changed, with apply and discard."""
    c = access.get_staff_course(code)
    r = access.get_course_regrade(c, regrade_id)
    return render_template("staff/regrade.html", course=c, tab="assignments", regrade=r,
                           assignment=r.assignment, report=regrades.report(r),
                           instructor=access.is_instructor(access.user(), c.id),
                           confirm=ConfirmForm(formdata=None))


@bp.get("/courses/<code>/regrades/<int:regrade_id>/progress.json")
@login_required
def regrade_progress(code: str, regrade_id: int):
    """The regrade's progress for the live bar."""
    c = access.get_staff_course(code)
    done, total = regrades.progress(access.get_course_regrade(c, regrade_id))
    return jsonify(total=total, done=done, finished=done == total)


@bp.post("/courses/<code>/regrades/<int:regrade_id>/<any(apply, discard):decision>")
@login_required
def regrade_decide(code: str, regrade_id: int, decision: str):
    """Apply (make the new gradings current) or discard a finished regrade (instructors)."""
    c = access.get_staff_course(code, change=True)
    r = access.get_course_regrade(c, regrade_id)
    if not ConfirmForm().validate_on_submit():
        abort(400, "the form expired: reload the page and try again")
    try:
        if decision == "apply":
            n = regrades.apply(r)
            flash(f"Regrade #{r.id} applied: {n} new gradings now count.", "ok")
        else:
            regrades.discard(r)
            flash(f"Regrade #{r.id} discarded: the previous grades stay.", "ok")
    except regrades.RegradeError as exc:
        flash(str(exc), "error")
    return redirect(url_for("staff.regrade", code=c.code, regrade_id=r.id))
