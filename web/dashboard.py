"""Course home: the assignments with deadline, best score, submissions used and left."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, select

from web.access import get_course, quota, teaches
from web.db import db
from web.models import Assignments, Courses, Enrolments, Submissions

bp = Blueprint("dashboard", __name__)


@bp.get("/")
@login_required
def index():
    """List the user's courses (straight to the course when there is one)."""
    courses = db.session.scalars(
        select(Courses).join(Enrolments).where(Enrolments.user_id == current_user.id)
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
    best = dict(db.session.execute(
        select(Submissions.assignment_id, func.max(Submissions.score))
        .where(Submissions.user_id == current_user.id,
               Submissions.assignment_id.in_([a.id for a in assignments]))
        .group_by(Submissions.assignment_id)).all())
    rows = [(a, _exercise(a.exercise_id), best.get(a.id),
             quota(current_user, a)) for a in assignments]
    return render_template("dashboard/course.html", course=c, rows=rows,
                           teacher=teaches(current_user, c.id))


def _exercise(exercise_id: str):
    from grader import get_exercise
    from grader.registry import UnknownExercise

    try:
        return get_exercise(exercise_id)
    except UnknownExercise:
        return None
