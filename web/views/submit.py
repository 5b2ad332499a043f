"""The exercise page: description, editor (or upload), quota; submitting queues the grading."""

from __future__ import annotations

import markdown
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from markupsafe import Markup
from sqlalchemy import select

from grader import get_exercise
from grader.result import MAX_SOURCE_BYTES
from web.access import get_assignment, get_submission
from web.db import db
from web.forms import SubmitForm
from web.models import Submissions
from web.services.policy import quota
from web.services.submissions import QuotaExceeded, SubmissionRejected, submit_for

bp = Blueprint("submit", __name__)


@bp.route("/assignments/<int:assignment_id>", methods=["GET", "POST"])
@login_required
def exercise(assignment_id: int):
    """Show the exercise and take a submission (typed or uploaded)."""
    assignment = get_assignment(assignment_id)
    ex = get_exercise(assignment.exercise_id)
    form = SubmitForm()
    if form.validate_on_submit():
        code = form.code.data or ""
        upload = form.upload.data
        if upload and getattr(upload, "filename", ""):
            if not upload.filename.endswith(".py"):
                form.upload.errors.append("Upload a Python file (.py).")
            raw = upload.read(MAX_SOURCE_BYTES + 1)
            if len(raw) > MAX_SOURCE_BYTES:
                abort(413, f"the file is larger than {MAX_SOURCE_BYTES // 1024} KiB")
            try:
                code = raw.decode("utf-8")
            except UnicodeDecodeError:
                form.upload.errors.append("The file is not UTF-8 text.")
        if not code.strip() and not form.upload.errors:
            form.code.errors.append("Write or upload your backward pass first.")
        if not form.errors:
            try:
                sub = submit_for(current_user, assignment, code)
            except QuotaExceeded as exc:
                flash(f"Not submitted: {exc}", "error")
            except SubmissionRejected as exc:
                form.code.errors.append(str(exc))
            else:
                return redirect(url_for("results.submission", submission_id=sub.id))
    last = db.session.scalar(
        select(Submissions).where(Submissions.user_id == current_user.id,
                                  Submissions.assignment_id == assignment.id)
        .order_by(Submissions.id.desc()).limit(1))
    loaded = _loaded_submission(assignment.id) if request.method == "GET" else None
    if loaded is not None:
        form.code.data = loaded.code
    elif not form.code.data:
        form.code.data = last.code if last else ex.starter
    description = Markup(markdown.markdown(ex.description, extensions=["fenced_code"]))
    return render_template("submit/exercise.html", assignment=assignment, exercise=ex,
                           description=description, form=form, last=last,
                           quota=quota(current_user, assignment), loaded=loaded,
                           max_kib=current_app.config["MAX_CONTENT_LENGTH"] // 1024)


def _loaded_submission(assignment_id: int) -> Submissions | None:
    """Return the submission named by ``?from=ID`` ("Edit this code" on a result page):
    one's own, of this assignment; another's answers 404 as on every road to a row)."""
    wanted = request.args.get("from", type=int)
    if wanted is None:
        return None
    sub = get_submission(wanted)
    if sub.user_id != current_user.id or sub.assignment_id != assignment_id:
        return None
    return sub


@bp.get("/assignments/<int:assignment_id>/starter.py")
@login_required
def starter(assignment_id: int):
    """Download the exercise's starter file (also what "Reset to the starter" loads)."""
    assignment = get_assignment(assignment_id)
    ex = get_exercise(assignment.exercise_id)
    name = assignment.exercise_id.replace("/", "-")
    response = Response(ex.starter, mimetype="text/plain")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}-starter.py"'
    return response
