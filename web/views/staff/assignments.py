"""Staff pages: a course's assignments (add, edit, remove) and their extensions."""

from __future__ import annotations

from decimal import Decimal

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import login_required
from wtforms.fields.choices import SelectChoice

from web import access, times
from web.forms import AssignmentForm, ConfirmForm, ExtensionForm
from web.models import Assignments
from web.services import courses as svc
from web.views.staff import bp


def _exercise_choices() -> list[tuple[str, str]]:
    from grader.registry import catalog

    return [SelectChoice(i, f"{i} — {e.title}") for i, e in sorted(catalog().items())]


def _spec(form: AssignmentForm) -> tuple[svc.AssignmentSpec, tuple[str, ...]]:
    """Read the form into a spec; raise AdminError (or TimeError) with a clear message."""
    tz = form.tz.data
    opens, deadline = times.parse(form.opens_at.data, tz), times.parse(form.deadline.data, tz)
    penalty = form.late_penalty.data
    spec = svc.AssignmentSpec(
        title=form.title.data or "", opens_at=opens, deadline=deadline,
        late_policy=form.late_policy.data,
        late_penalty=float(penalty / Decimal(100)) if penalty is not None else 0.0,
        cutoff_days=form.cutoff_days.data, max_submissions=form.max_submissions.data,
        min_interval_seconds=form.min_interval_seconds.data or 0, scoring=form.scoring.data,
        shape_rule=form.shape_rule.data, counted=form.counted.data)
    clear = tuple(name for name in svc.CLEARABLE if getattr(spec, name) is None)
    return spec, clear


def _fill(form: AssignmentForm, a: Assignments) -> None:
    form.exercise.data = a.exercise_id
    form.title.data = a.title
    form.late_policy.data = a.late_policy
    form.late_penalty.data = Decimal(str(round((a.late_penalty or 0) * 100, 4)))
    form.cutoff_days.data = a.cutoff_days
    form.max_submissions.data = a.max_submissions
    form.min_interval_seconds.data = a.min_interval_seconds
    form.scoring.data, form.shape_rule.data, form.counted.data = (a.scoring, a.shape_rule,
                                                                  a.counted)


@bp.get("/courses/<code>/assignments")
@login_required
def assignments(code: str):
    """List the course's assignments with their rules."""
    c = access.get_staff_course(code)
    rows = sorted(c.assignments, key=lambda a: (a.deadline is None, a.deadline or 0, a.id))
    return render_template("staff/assignments.html", course=c, tab="assignments", rows=rows,
                           instructor=access.is_instructor(access.user(), c.id))


@bp.route("/courses/<code>/assignments/new", methods=["GET", "POST"])
@bp.route("/courses/<code>/assignments/<int:assignment_id>/edit", methods=["GET", "POST"])
@login_required
def assignment_edit(code: str, assignment_id: int | None = None):
    """Add an assignment, or edit one."""
    c = access.get_staff_course(code, change=True)
    a = access.get_course_assignment(c, assignment_id) if assignment_id is not None else None
    form = AssignmentForm()
    form.exercise.choices = _exercise_choices()
    if a is not None:
        form.exercise.choices = [SelectChoice(a.exercise_id, a.exercise_id)]  # fixed once made
    if request.method == "GET" and a is not None:
        _fill(form, a)
    if form.validate_on_submit():
        try:
            spec, clear = _spec(form)
            if a is None:
                a = svc.add_assignment(c, form.exercise.data, spec)
                flash(f"Assignment {a.label} added.", "ok")
            else:
                svc.update_assignment(a, spec, clear)
                flash(f"Assignment {a.label} saved.", "ok")
        except (svc.AdminError, times.TimeError) as exc:
            form.deadline.errors.append(str(exc))
        else:
            return redirect(url_for("staff.assignments", code=c.code))
    return render_template("staff/assignment_form.html", course=c, tab="assignments", form=form,
                           assignment=a, times=times)


@bp.route("/courses/<code>/assignments/<int:assignment_id>/remove", methods=["GET", "POST"])
@login_required
def assignment_remove(code: str, assignment_id: int):
    """Remove an assignment after a confirmation that says what goes with it."""
    c = access.get_staff_course(code, change=True)
    a = access.get_course_assignment(c, assignment_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        label = a.label
        n = svc.remove_assignment(a)
        flash(f"Assignment {label} removed with its {n} submissions.", "ok")
        return redirect(url_for("staff.assignments", code=c.code))
    n = svc.count_submissions(a)
    return render_template("staff/assignment_remove.html", course=c, tab="assignments",
                           assignment=a, submissions=n, form=form)


@bp.route("/courses/<code>/assignments/<int:assignment_id>/extensions",
          methods=["GET", "POST"])
@login_required
def extensions(code: str, assignment_id: int):
    """List, grant and withdraw personal deadlines (instructors and TAs)."""
    c = access.get_staff_course(code)
    a = access.get_course_assignment(c, assignment_id)
    form = ExtensionForm()
    if form.validate_on_submit():
        try:
            user = svc.find_user(form.email.data)
            deadline = times.parse(form.deadline.data, form.tz.data)
            ext = svc.set_extension(a, user, deadline)
        except (svc.AdminError, times.TimeError) as exc:
            form.email.errors.append(str(exc))
        else:
            flash(f"{user.email} now has until {ext.deadline:%Y-%m-%d %H:%M} UTC.", "ok")
            return redirect(url_for("staff.extensions", code=c.code, assignment_id=a.id))
    return render_template("staff/extensions.html", course=c, tab="assignments", assignment=a,
                           rows=svc.extensions(a), form=form, confirm=ConfirmForm())


@bp.post("/courses/<code>/assignments/<int:assignment_id>/extensions/<int:user_id>/remove")
@login_required
def extension_remove(code: str, assignment_id: int, user_id: int):
    """Withdraw a personal deadline."""
    c = access.get_staff_course(code)
    a = access.get_course_assignment(c, assignment_id)
    if not access.valid_id(user_id):
        abort(404)
    if ConfirmForm().validate_on_submit():
        try:
            if svc.remove_extension(a, user_id):
                flash("Extension withdrawn.", "ok")
        except svc.AdminError as exc:
            flash(str(exc), "error")
    return redirect(url_for("staff.extensions", code=c.code, assignment_id=a.id))
