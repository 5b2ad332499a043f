"""The class gradebook: every student's counted score in every assignment (deadline,
extensions and late policy applied), for the dashboard grid, the CSV exports and the CLI.

A course of 500 students × 4 assignments × 10 submissions is read in a constant number of
queries (assignments, students, submissions, extensions; plus tensor rows for the tensors
export), whatever the class size; sorting, searching and paging happen on those rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from grader.text import csv_text
from web.db import db
from web.models import (
    STUDENT,
    Assignments,
    Courses,
    Enrolments,
    Submissions,
    TensorResults,
    Users,
)
from web.services.policy import Counted, counted_scores

#: Export formats of ``backprop gradebook`` and the dashboard (SPEC §7).
FORMATS = ("canvas", "moodle", "tensors")
#: The grid's sortable columns besides one per assignment ("a<ID>").
SORT_KEYS = ("name", "email", "student_id", "section", "total")


@dataclass(frozen=True)
class Student:
    """A student of the course as the roster knows them."""

    user_id: int
    email: str
    name: str
    student_number: str | None
    section: str | None
    claimed: bool


@dataclass
class Gradebook:
    """A course's assignments, students and counted results."""

    course: Courses
    assignments: list[Assignments]
    students: list[Student]
    cells: dict[tuple[int, int], Counted] = field(default_factory=dict)

    def total(self, user_id: int) -> float:
        """Return the sum of the student's counted scores."""
        return round(sum((self.cells[(a.id, user_id)].score or 0.0)
                         for a in self.assignments if (a.id, user_id) in self.cells), 6)

    def max_total(self) -> float:
        """Return the sum of the assignments' maximum scores."""
        return sum(max_score(a) for a in self.assignments)

    def sections(self) -> list[str]:
        """Return the sections present in the roster, sorted."""
        return sorted({s.section for s in self.students if s.section})


def max_score(a: Assignments) -> float:
    """Return an assignment's maximum score (its exercise's; 0 when the pack is gone)."""
    if a.max_score is not None:
        return a.max_score
    from grader.registry import UnknownExercise, exercise_info

    try:
        return exercise_info(a.exercise_id).max_score
    except UnknownExercise:
        return 0.0


def students(course: Courses) -> list[Student]:
    """Return the course's students (not staff), by name: one query."""
    rows = db.session.execute(
        select(Users.id, Users.email, Users.name, Users.password_hash.is_not(None),
               Enrolments.student_number, Enrolments.section)
        .join(Enrolments, Enrolments.user_id == Users.id)
        .where(Enrolments.course_id == course.id, Enrolments.role == STUDENT))
    out = [Student(uid, email, name or "", number, section, bool(claimed))
           for uid, email, name, claimed, number, section in rows]
    return sorted(out, key=lambda s: (s.name.lower(), s.email))


def load(course: Courses, user_ids: list[int] | None = None, *, scores: bool = True) \
        -> Gradebook:
    """Return the course's gradebook (all students, or only ``user_ids``); without
    ``scores``, only its assignments and roster (see :func:`page_of`)."""
    assignments = list(db.session.scalars(
        select(Assignments).where(Assignments.course_id == course.id)
        .order_by(Assignments.deadline.is_(None), Assignments.deadline, Assignments.id)))
    roster = students(course)
    if user_ids is not None:
        wanted = set(user_ids)
        roster = [s for s in roster if s.user_id in wanted]
    # The whole class in one query is faster than an IN list of 500 ids.
    cells = counted_scores(assignments, user_ids) if scores else {}
    return Gradebook(course, assignments, roster, cells)


#: Sort keys that need no score: the grid then computes scores for the shown page only.
ROSTER_KEYS = ("name", "email", "student_id", "section")


def page_of(course: Courses, *, q: str = "", section: str = "", sort: str = "name",
            desc: bool = False, page: int = 1, per_page: int = 50) -> GridPage:
    """Return one page of the class grid.

    Sorted by a roster column (the default), only the page's students get their counted
    scores computed (two small queries); sorted by a score, the whole class is needed.
    """
    by_roster = sort in ROSTER_KEYS or not (sort == "total" or sort.startswith("a"))
    book = load(course, scores=not by_roster)
    result = grid(book, q=q, section=section, sort=sort, desc=desc, page=page,
                  per_page=per_page)
    if by_roster:
        book.cells = counted_scores(book.assignments, [s.user_id for s in result.rows]) \
            if result.rows else {}
    return result


@dataclass
class GridPage:
    """One page of the dashboard grid."""

    book: Gradebook
    rows: list[Student]
    total_rows: int
    page: int
    pages: int
    sort: str
    desc: bool


def grid(book: Gradebook, *, q: str = "", section: str = "", sort: str = "name",
         desc: bool = False, page: int = 1, per_page: int = 50) -> GridPage:
    """Search, filter, sort and page the gradebook's students."""
    rows = book.students
    needle = (q or "").strip().lower()
    if needle:
        rows = [s for s in rows if needle in s.name.lower() or needle in s.email.lower()
                or needle in (s.student_number or "").lower()]
    if section:
        rows = [s for s in rows if s.section == section]
    ids = {f"a{a.id}": a.id for a in book.assignments}
    if sort not in SORT_KEYS and sort not in ids:
        sort = "name"

    def key(s: Student):
        if sort in ids:
            c = book.cells.get((ids[sort], s.user_id))
            score = c.score if c is not None else None
            return (score is None, score if score is not None else 0.0, s.name.lower())
        if sort == "total":
            return (False, book.total(s.user_id), s.name.lower())
        value = {"name": s.name, "email": s.email, "student_id": s.student_number,
                 "section": s.section}[sort]
        return (not value, (value or "").lower(), s.email)

    rows = sorted(rows, key=key, reverse=desc)
    if desc:  # blanks stay last either way
        rows = [r for r in rows if not key(r)[0]] + [r for r in rows if key(r)[0]]
    per_page = max(1, min(per_page, 500))
    pages = max(1, -(-len(rows) // per_page))
    page = max(1, min(page, pages))
    return GridPage(book, rows[(page - 1) * per_page: page * per_page], len(rows), page, pages,
                    sort, desc)


# --- exports ----------------------------------------------------------------------------

def _fmt(value: float | None) -> str | float:
    return "" if value is None else round(value, 4)


def export(course: Courses, fmt: str) -> str:
    """Return the course's gradebook as CSV text in one of :data:`FORMATS` (SPEC §7).

    Every cell goes through the formula-injection escape.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    book = load(course)
    if fmt == "tensors":
        return csv_text(_tensor_rows(book))
    rows: list[list[object]] = []
    if fmt == "canvas":
        rows.append(["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                     *[f"{a.label} ({a.id})" for a in book.assignments]])
        rows.append(["Points Possible", "", "", "", "",
                     *[max_score(a) for a in book.assignments]])
        for s in book.students:
            rows.append([s.name, s.student_number or "", s.student_number or "", s.email,
                         s.section or "", *[_score(book, a, s) for a in book.assignments]])
    else:  # moodle
        rows.append(["email", *[a.label for a in book.assignments]])
        for s in book.students:
            rows.append([s.email, *[_score(book, a, s) for a in book.assignments]])
    return csv_text(rows)


def _score(book: Gradebook, a: Assignments, s: Student) -> str | float:
    c = book.cells.get((a.id, s.user_id))
    return _fmt(c.score) if c is not None and c.submission_id is not None else ""


def _tensor_rows(book: Gradebook) -> Iterable[list[object]]:
    """One row per student × graded tensor of the counted submission."""
    yield ["email", "assignment", "tensor", "status", "points", "max_points", "fingerprint",
           "root_cause"]
    counted = {c.submission_id: key for key, c in book.cells.items()
               if c.submission_id is not None}
    by_sub: dict[int, list[tuple]] = {}
    ids = list(counted)
    for start in range(0, len(ids), 1000):
        for r in db.session.execute(
                select(Submissions.id, TensorResults.name, TensorResults.status,
                       TensorResults.points, TensorResults.max_points,
                       TensorResults.fingerprint, TensorResults.root_cause)
                .join(TensorResults, TensorResults.grading_id == Submissions.current_grading_id)
                .where(Submissions.id.in_(ids[start:start + 1000]))
                .order_by(Submissions.id, TensorResults.position)):
            by_sub.setdefault(r[0], []).append(r[1:])
    labels = {a.id: a.label for a in book.assignments}
    emails = {s.user_id: s.email for s in book.students}
    for sub_id, (assignment_id, user_id) in sorted(counted.items(),
                                                   key=lambda kv: (emails.get(kv[1][1], ""),
                                                                   kv[1][0])):
        if user_id not in emails:
            continue
        for name, status, points, max_points, fingerprint, root in by_sub.get(sub_id, []):
            yield [emails[user_id], labels[assignment_id], name, status, points, max_points,
                   fingerprint or "", "yes" if root else ""]


def submissions_of(course: Courses, user_id: int) -> list[Submissions]:
    """Return a student's submissions in a course, newest first (the drill-down)."""
    return list(db.session.scalars(
        select(Submissions).join(Assignments, Assignments.id == Submissions.assignment_id)
        .where(Assignments.course_id == course.id, Submissions.user_id == user_id)
        .options(selectinload(Submissions.results).load_only(TensorResults.name,
                                                             TensorResults.root_cause),
                 selectinload(Submissions.assignment))
        .order_by(Submissions.id.desc())))


def course_submissions(course: Courses, *, exercise: str | None = None, after: int = 0,
                       limit: int = 500) -> list[dict[str, object]]:
    """Return a page of a course's submissions as API rows (one query)."""
    q = (select(Submissions, Users.email)
         .join(Assignments, Assignments.id == Submissions.assignment_id)
         .join(Users, Users.id == Submissions.user_id)
         .where(Assignments.course_id == course.id, Submissions.id > after)
         .options(selectinload(Submissions.assignment).load_only(
             Assignments.scoring, Assignments.shape_rule))
         .order_by(Submissions.id).limit(limit))
    if exercise:
        q = q.where(Submissions.exercise_id == exercise)
    return [{"id": s.id, "student": email, "exercise": s.exercise_id,
             "assignment": s.assignment_id, "status": s.status,
             "counted_score": s.counted_score, "max_score": s.max_score,
             "created_at": s.created_at.isoformat() + "Z"}
            for s, email in db.session.execute(q)]
