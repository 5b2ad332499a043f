"""Staff pages: the course list, creating a course, a course's overview (title, join code,
archive, staff, queue health)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import login_required

from web import access
from web.forms import ConfirmForm, CourseForm, CourseTitleForm
from web.services import courses as svc
from web.services import queue_health
from web.views.staff import bp


@bp.route("/", methods=["GET", "POST"])
@login_required
def index():
    """List the courses the user is staff of; instructors and admins create courses here."""
    user = access.user()
    can_create = user.role in ("instructor", "admin")
    form = CourseForm()
    if request.method == "POST":
        if not can_create:
            abort(403, "only instructors create courses")
        if form.validate_on_submit():
            try:
                course = svc.create_course(form.code.data, form.title.data or "", user)
            except svc.AdminError as exc:
                form.code.errors.append(str(exc))
            else:
                flash(f"Course {course.code} created; its join code is {course.join_code}.",
                      "ok")
                return redirect(url_for("staff.course", code=course.code))
    show_archived = request.args.get("archived") == "1"
    courses = access.staff_courses(user, include_archived=show_archived)
    if not courses and not can_create:
        abort(404)
    return render_template("staff/index.html", courses=courses, form=form,
                           can_create=can_create, show_archived=show_archived)


@bp.get("/courses/<code>")
@login_required
def course(code: str):
    """A course's overview: settings, join code, staff, queue health."""
    c = access.get_staff_course(code)
    from web.services import roster

    staff = [m for m in roster.members(c) if m.role != "student"]
    return render_template(
        "staff/course.html", course=c, tab="overview", staff=staff,
        instructor=access.is_instructor(access.user(), c.id),
        title_form=CourseTitleForm(formdata=None, title=c.title), confirm=ConfirmForm(),
        health=queue_health.health(c.id, ask_workers=False))


@bp.post("/courses/<code>/title")
@login_required
def course_title(code: str):
    """Rename a course."""
    c = access.get_staff_course(code, change=True)
    form = CourseTitleForm()
    if form.validate_on_submit():
        try:
            svc.update_course(c, title=form.title.data)
            flash("Title saved.", "ok")
        except svc.AdminError as exc:
            flash(str(exc), "error")
    else:
        flash("Enter a title of at most 200 characters.", "error")
    return redirect(url_for("staff.course", code=c.code))


@bp.post("/courses/<code>/join-code")
@login_required
def join_code(code: str):
    """Regenerate the join code (the old one stops working)."""
    c = access.get_staff_course(code, change=True)
    if ConfirmForm().validate_on_submit():
        flash(f"New join code: {svc.regenerate_join_code(c)}. The old one no longer works.",
              "ok")
    return redirect(url_for("staff.course", code=c.code))


@bp.post("/courses/<code>/archive")
@login_required
def archive(code: str):
    """Archive or restore the course."""
    c = access.get_staff_course(code, change=True, archived_ok=True)
    if ConfirmForm().validate_on_submit():
        restore = request.form.get("restore") == "1"
        svc.set_archived(c, not restore)
        flash(f"{c.code} {'restored' if restore else 'archived: it is read-only now'}.", "ok")
    return redirect(url_for("staff.course", code=c.code))


@bp.get("/queue")
@login_required
def queue():
    """Queue health across the service: counts, the oldest waiting, the live workers."""
    user = access.user()
    if user.role != "admin" and not access.staff_courses(user, include_archived=True):
        abort(404)
    return render_template("staff/queue.html", health=queue_health.health())
