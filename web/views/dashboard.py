"""Course home: the assignments with deadline, best score, submissions used and left."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from web.access import (
    get_course,
    get_course_assignment,
    get_staff_course,
    is_instructor,
    is_staff,
)
from web.db import db
from web.forms import ScoringForm
from web.models import CARRY_FORWARD, Assignments, Courses, Enrolments
from web.services.policy import counted_scores, quota

bp = Blueprint("dashboard", __name__)


@bp.get("/")
@login_required
def index():
    """List the user's courses (straight to the course when there is one)."""
    courses = db.session.scalars(
        select(Courses).join(Enrolments).where(Enrolments.user_id == current_user.id,
                                               Courses.archived_at.is_(None))
        .order_by(Courses.code)).all()
    if len(courses) == 1:
        return redirect(url_for("dashboard.course", code=courses[0].code))
    return render_template("dashboard/index.html", courses=courses)


@bp.get("/courses/<code>")
@login_required
def course(code: str):
    """Show a course's assignments with the student's standing in each."""
    c = get_course(code)
    assignments = db.session.scalars(
        select(Assignments).where(Assignments.course_id == c.id).order_by(Assignments.id)).all()
    counted = counted_scores(list(assignments), [current_user.id])
    rows = [(a, _exercise(a.exercise_id), counted.get((a.id, current_user.id)),
             quota(current_user, a)) for a in assignments]
    teacher = is_instructor(current_user, c.id)
    forms = {a.id: ScoringForm(formdata=None, scoring=a.scoring, prefix=f"a{a.id}")
             for a in assignments} if teacher else {}
    return render_template("dashboard/course.html", course=c, rows=rows, teacher=teacher,
                           forms=forms, staff=is_staff(current_user, c.id))


@bp.post("/courses/<code>/assignments/<int:assignment_id>/scoring")
@login_required
def scoring(code: str, assignment_id: int):
    """Let an instructor switch an assignment between strict and carry-forward scoring.

    Both scores are stored for every submission, so switching re-ranks past work at once.
    """
    c = get_staff_course(code, change=True)
    a = get_course_assignment(c, assignment_id)
    form = ScoringForm(prefix=f"a{a.id}")
    if not form.validate_on_submit():
        flash("Choose strict or error-carried-forward scoring.", "error")
    else:
        a.scoring = form.scoring.data
        db.session.commit()
        flash(f"{a.title or a.exercise_id} now uses "
              f"{'error-carried-forward' if a.scoring == CARRY_FORWARD else 'strict'} "
              "scoring.", "info")
    return redirect(url_for("dashboard.course", code=c.code))


def _exercise(exercise_id: str):
    from grader import get_exercise
    from grader.registry import UnknownExercise

    try:
        return get_exercise(exercise_id)
    except UnknownExercise:
        return None
