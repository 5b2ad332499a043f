"""Regrades: grade submissions again with the current exercise, show what changed, then
make the new gradings current (apply) or keep the old ones (discard).

Nothing a student sees changes until an instructor applies: the new gradings run on the bulk
queue beside the current ones, which stay current. Both are kept either way (history).
Shared by the staff pages and ``backprop regrade``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from web.db import db
from web.models import (
    APPLIED,
    DISCARDED,
    DONE,
    PENDING,
    REGRADE,
    Assignments,
    Gradings,
    Regrades,
    Submissions,
    Users,
    rule_score,
    utcnow,
)
from web.services import gradings

#: Below this a score did not change (float noise between runs).
EPS = 1e-9


class RegradeError(ValueError):
    """The regrade cannot be started or decided (message says why)."""


def start(assignment: Assignments, *, created_by: int | None, student: Users | None = None,
          submission: Submissions | None = None) -> Regrades:
    """Queue new gradings of an assignment's graded submissions (or one student's, or one).

    Submissions still queued or running are left alone: they are being graded with the
    current exercise already. One pending regrade per assignment at a time, so what the
    instructor compares is never ambiguous.
    """
    if assignment.course.archived_at is not None:
        raise RegradeError("the course is archived: restore it to regrade")
    gradings.lock(assignment)  # two regrades started at once: the second sees the first
    pending = db.session.scalar(select(Regrades.id).where(
        Regrades.assignment_id == assignment.id, Regrades.state == PENDING))
    if pending is not None:
        raise RegradeError(f"regrade #{pending} of this assignment is waiting for a decision: "
                           "apply or discard it first")
    q = select(Submissions).where(Submissions.assignment_id == assignment.id,
                                  Submissions.status == DONE)
    if submission is not None:
        if submission.assignment_id != assignment.id:
            raise RegradeError("that submission is not of this assignment")
        q, scope = q.where(Submissions.id == submission.id), f"submission:{submission.id}"
    elif student is not None:
        q, scope = q.where(Submissions.user_id == student.id), f"student:{student.email}"
    else:
        scope = "assignment"
    subs = list(db.session.scalars(q.order_by(Submissions.id)))
    if not subs:
        raise RegradeError("nothing to regrade: no graded submission in "
                           + ("this assignment" if scope == "assignment" else scope))
    regrade = Regrades(assignment_id=assignment.id, created_by=created_by, scope=scope,
                       state=PENDING)
    db.session.add(regrade)
    db.session.flush()
    new = [gradings.add(s, REGRADE, regrade_id=regrade.id) for s in subs]
    db.session.commit()
    gradings.send_all(new)
    return regrade


@dataclass(frozen=True)
class Change:
    """One submission's score before and after, under the assignment's rules."""

    submission_id: int
    email: str
    old: float | None
    new: float | None
    max_score: float | None
    status: str  # the new grading's result status

    @property
    def delta(self) -> float:
        return (self.new or 0.0) - (self.old or 0.0)


@dataclass
class Report:
    """What a regrade changed: counts, sizes, and the per-student rows."""

    regrade: Regrades
    total: int
    done: int
    changes: list[Change] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.done == self.total

    @property
    def up(self) -> list[Change]:
        return [c for c in self.changes if c.delta > EPS]

    @property
    def down(self) -> list[Change]:
        return [c for c in self.changes if c.delta < -EPS]

    @property
    def unchanged(self) -> int:
        return len(self.changes) - len(self.up) - len(self.down)

    @property
    def students_changed(self) -> int:
        return len({c.email for c in self.up + self.down})


def report(regrade: Regrades) -> Report:
    """Compare each new grading with its submission's current one (two queries)."""
    a = regrade.assignment
    new = list(db.session.scalars(
        select(Gradings).where(Gradings.regrade_id == regrade.id)
        .options(selectinload(Gradings.submission).selectinload(Submissions.current_grading),
                 selectinload(Gradings.submission).selectinload(Submissions.gradings))
        .order_by(Gradings.submission_id)))
    emails = dict(db.session.execute(select(Users.id, Users.email).where(
        Users.id.in_({g.submission.user_id for g in new if g.submission.user_id}))).all())
    out = Report(regrade, total=len(new), done=sum(1 for g in new if g.status == DONE))

    def counted(g: Gradings | None) -> float | None:
        if g is None:
            return None
        return rule_score(g.score, g.carry_forward_score, g.values_score,
                          g.values_carry_forward_score, a.scoring, a.shape_rule)

    for g in new:
        if g.status != DONE:
            continue
        sub = g.submission
        # pending: against what counts now; decided: against the grading before it (what
        # counted then), so the page does not drift when a later regrade is applied
        before = sub.current_grading if regrade.state == PENDING else _previous(sub, g)
        out.changes.append(Change(sub.id, emails.get(sub.user_id, "—"), counted(before),
                                  counted(g), g.max_score, g.result_status or ""))
    out.changes.sort(key=lambda c: (c.email, c.submission_id))
    return out


def _previous(sub: Submissions, g: Gradings) -> Gradings | None:
    earlier = [x for x in sub.gradings if x.id < g.id and x.status == DONE]
    return earlier[-1] if earlier else None


def progress(regrade: Regrades) -> tuple[int, int]:
    """Return (done, total) of a regrade's gradings in one query: what the live bar and the
    CLI's wait poll, without building the whole report each time."""
    done, total = db.session.execute(
        select(func.count().filter(Gradings.status == DONE), func.count())
        .where(Gradings.regrade_id == regrade.id)).one()
    return done, total


def apply(regrade: Regrades) -> int:
    """Make every new grading current; return how many. Refused until all are done."""
    if regrade.state != PENDING:
        raise RegradeError(f"regrade #{regrade.id} was already {regrade.state}")
    waiting = db.session.scalar(select(func.count()).select_from(Gradings).where(
        Gradings.regrade_id == regrade.id, Gradings.status != DONE))
    if waiting:
        raise RegradeError(f"{waiting} gradings of regrade #{regrade.id} are still running: "
                           "apply when they are done")
    new = list(db.session.scalars(select(Gradings).where(Gradings.regrade_id == regrade.id)
                                  .options(selectinload(Gradings.submission))))
    for g in new:
        gradings.make_current(g)
    regrade.state, regrade.decided_at = APPLIED, utcnow()
    db.session.commit()
    return len(new)


def discard(regrade: Regrades) -> None:
    """Keep the current gradings; the new ones stay as history, never current."""
    if regrade.state != PENDING:
        raise RegradeError(f"regrade #{regrade.id} was already {regrade.state}")
    regrade.state, regrade.decided_at = DISCARDED, utcnow()
    db.session.commit()


def of_assignment(assignment: Assignments) -> list[Regrades]:
    """Return an assignment's regrades, newest first."""
    return list(db.session.scalars(select(Regrades).where(
        Regrades.assignment_id == assignment.id).order_by(Regrades.id.desc())))
