"""Deadlines, extensions and late policies: when a student may submit, and what counts.

One definition for every reader: the submit form and the API (``quota``), the student's
course page, the class dashboard, the gradebook exports and the CLI (``counted``). The
functions below the queries are pure, so the boundaries (a second before and after a
deadline) are tested without a database.

The rules, as the assignment form explains them:

- A submission is *late* when it was made after the student's deadline: their extension's,
  else the assignment's. At the deadline itself it is on time.
- ``refuse``: late submissions are refused (and one that exists anyway, e.g. from before an
  extension was withdrawn, does not count). ``accept``: late ones count in full, marked late.
  ``penalty``: a late one counts ``score × (1 − penalty × started days late)`` (never below
  0); after the cut-off (``cutoff_days`` after the deadline) submissions are refused.
- ``best`` counts the highest counted score among the submissions that count; ``last`` the
  most recent of them.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import case, func, select

from web.db import db
from web.models import (
    ACCEPT,
    DONE,
    LAST,
    PENALTY,
    REFUSE,
    Assignments,
    Extensions,
    Submissions,
    Users,
    rule_score_column,
    utcnow,
)

DAY = dt.timedelta(days=1)
#: The quota's closed reason for an archived course (the API answers 403 for it, not 429).
ARCHIVED = "the course is archived"


@dataclass(frozen=True)
class Rules:
    """The fields of an assignment the policy reads (a plain value: no session needed)."""

    deadline: dt.datetime | None
    late_policy: str = ACCEPT
    late_penalty: float = 0.0
    cutoff_days: int | None = None
    scoring: str = "strict"
    shape_rule: str = "strict"
    counted: str = "best"
    opens_at: dt.datetime | None = None

    @classmethod
    def of(cls, a: Assignments) -> Rules:
        """Return the rules of an assignment."""
        return cls(a.deadline, a.late_policy, a.late_penalty or 0.0, a.cutoff_days,
                   a.scoring, a.shape_rule, a.counted, a.opens_at)

    def closes_at(self, deadline: dt.datetime | None) -> dt.datetime | None:
        """Return when submissions stop being accepted for a student with this deadline."""
        if deadline is None or self.late_policy == ACCEPT:
            return None
        if self.late_policy == REFUSE:
            return deadline
        return None if self.cutoff_days is None else deadline + self.cutoff_days * DAY


class Attempt(NamedTuple):
    """One graded submission as the policy sees it (a tuple: a class of 500 students has
    20,000 of them per page view)."""

    id: int
    created_at: dt.datetime
    score: float | None  # already under the assignment's scoring and shape rule
    max_score: float | None


@dataclass(frozen=True)
class Counted:
    """What counts for one student in one assignment, and why."""

    score: float | None
    max_score: float | None
    submission_id: int | None = None
    #: The score before the late penalty.
    raw: float | None = None
    late: bool = False
    days_late: int = 0
    #: The fraction of the score taken (0.2 = 20 % off).
    penalty: float = 0.0
    #: Submissions that did not count because they came after the cut-off or refusal.
    refused: int = 0
    deadline: dt.datetime | None = None
    extended: bool = False

    @property
    def why(self) -> str:
        """Return the plain-words reason for the counted score (shown beside it)."""
        parts = []
        if self.submission_id is None:
            parts.append("nothing submitted" if not self.refused else "no submission counts")
        if self.late:
            day = "day" if self.days_late == 1 else "days"
            if self.penalty:
                parts.append(f"late by {self.days_late} started {day}: "
                             f"{self.raw:g} − {self.penalty:.0%} = {self.score:g}")
            else:
                parts.append(f"late by {self.days_late} started {day} (accepted)")
        if self.refused:
            parts.append(f"{self.refused} submission{'s' if self.refused > 1 else ''} after "
                         "the deadline did not count")
        if self.extended:
            parts.append(f"extension to {self.deadline:%Y-%m-%d %H:%M} UTC")
        return "; ".join(parts)


def days_late(created_at: dt.datetime, deadline: dt.datetime | None) -> int:
    """Return the started days after ``deadline`` (0 when on time, at the deadline included).

    Examples:
        >>> d = dt.datetime(2026, 1, 1, 12)
        >>> days_late(d, d), days_late(d + dt.timedelta(seconds=1), d)
        (0, 1)
        >>> one_day = dt.timedelta(days=1)
        >>> days_late(d + one_day, d), days_late(d + one_day + dt.timedelta(seconds=1), d)
        (1, 2)
    """
    if deadline is None or created_at <= deadline:
        return 0
    return math.ceil((created_at - deadline) / DAY)


def count(rules: Rules, attempts: Iterable[Attempt], extension: dt.datetime | None = None) \
        -> Counted:
    """Apply the deadline, the late policy and the counted rule to one student's attempts.

    The dashboard calls this once per student and assignment, so the loop stays plain: one
    pass, the winner kept as it goes (best: the highest counted score, the earliest of equals;
    last: the newest).
    """
    deadline = extension or rules.deadline
    closes = rules.closes_at(deadline)
    penalty = rules.late_penalty if rules.late_policy == PENALTY else 0.0
    last = rules.counted == LAST
    pick: tuple | None = None  # (key, attempt, score, days late, cut)
    refused = 0
    for a in attempts:
        created = a.created_at
        if closes is not None and created > closes:
            refused += 1
            continue
        late = days_late(created, deadline) if deadline is not None and created > deadline \
            else 0
        cut = min(1.0, penalty * late) if late and penalty else 0.0
        score = a.score if not cut or a.score is None else \
            round(max(0.0, a.score * (1 - cut)), 6)
        if last:
            key = (created, a.id)
        else:  # higher score first, then the earlier submission
            key = (score if score is not None else -1.0, -created.timestamp(), -a.id)
        if pick is None or key > pick[0]:
            pick = (key, a, score, late, cut)
    if pick is None:
        return Counted(None, None, refused=refused, deadline=deadline,
                       extended=extension is not None)
    _, a, score, late, cut = pick
    return Counted(score, a.max_score, a.id, a.score, late > 0, late, cut, refused, deadline,
                   extension is not None)


# --- queries ----------------------------------------------------------------------------

def extensions_for(assignment_ids: list[int], user_ids: list[int] | None = None) \
        -> dict[tuple[int, int], dt.datetime]:
    """Return ``{(assignment_id, user_id): personal deadline}`` in one query."""
    if not assignment_ids:
        return {}
    q = select(Extensions.assignment_id, Extensions.user_id, Extensions.deadline).where(
        Extensions.assignment_id.in_(assignment_ids))
    if user_ids is not None:
        q = q.where(Extensions.user_id.in_(user_ids))
    return {(a, u): d for a, u, d in db.session.execute(q)}


def attempts_for(assignments: list[Assignments], user_ids: list[int] | None = None) \
        -> dict[tuple[int, int], list[Attempt]]:
    """Return every graded submission of these assignments, by (assignment, student).

    One query whatever the class size; only the columns the policy reads are loaded. A
    submission that was not gradable (it did not compile) is no attempt: it never counts,
    not even as the ``last`` one.
    """
    if not assignments:
        return {}
    # The score each assignment counts is chosen in SQL (rule_score_column), one column
    # instead of four; rows come back positional and in time order.
    score = case({a.id: rule_score_column(a.scoring, a.shape_rule) for a in assignments},
                 value=Submissions.assignment_id, else_=Submissions.score)
    q = select(Submissions.assignment_id, Submissions.user_id, Submissions.id,
               Submissions.created_at, score, Submissions.max_score).where(
        Submissions.assignment_id.in_([a.id for a in assignments]),
        Submissions.status == DONE, Submissions.gradable.is_(True)
    ).order_by(Submissions.created_at, Submissions.id)
    if user_ids is not None:
        q = q.where(Submissions.user_id.in_(user_ids))
    out: dict[tuple[int, int], list[Attempt]] = {}
    make = Attempt._make
    for assignment_id, user_id, *rest in db.session.execute(q):
        key = (assignment_id, user_id)
        found = out.get(key)
        if found is None:
            out[key] = [make(rest)]
        else:
            found.append(make(rest))
    return out


def counted_scores(assignments: list[Assignments], user_ids: list[int] | None = None) \
        -> dict[tuple[int, int], Counted]:
    """Return the counted result of every (assignment, student) that has one: two queries."""
    attempts = attempts_for(assignments, user_ids)
    extensions = extensions_for([a.id for a in assignments], user_ids)
    rules = {a.id: Rules.of(a) for a in assignments}
    keys = set(attempts) | set(extensions)
    return {k: count(rules[k[0]], attempts.get(k, ()), extensions.get(k)) for k in keys}


def personal_deadline(user: Users, assignment: Assignments) -> dt.datetime | None:
    """Return the user's deadline for an assignment (their extension's, if any)."""
    ext = db.session.scalar(select(Extensions.deadline).where(
        Extensions.assignment_id == assignment.id, Extensions.user_id == user.id))
    return ext or assignment.deadline


@dataclass(frozen=True)
class Quota:
    """Where a student stands with an assignment's submission limits."""

    used: int
    limit: int | None
    wait_seconds: int
    closed_reason: str | None
    #: Submitting now is late (accepted, marked late, perhaps with a penalty).
    late_note: str | None = None

    @property
    def left(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.used)

    @property
    def allowed(self) -> bool:
        return self.closed_reason is None and self.wait_seconds == 0 and self.left != 0

    def describe(self) -> str:
        """Return e.g. ``3 of 20 submissions used; next in 30 s``."""
        text = (f"{self.used} of {self.limit} submissions used" if self.limit is not None
                else f"{self.used} submissions so far")
        if self.closed_reason:
            return f"{text}; {self.closed_reason}"
        if self.left == 0:
            return f"{text}; no submissions left"
        if self.wait_seconds:
            return f"{text}; next in {self.wait_seconds} s"
        if self.late_note:
            return f"{text}; {self.late_note}"
        return text


def quota(user: Users, assignment: Assignments, now: dt.datetime | None = None) -> Quota:
    """Return the user's submission quota for an assignment (cap, rate limit, window).

    Only gradable submissions are attempts: one that did not compile costs neither a
    submission of the cap nor a wait.
    """
    now = now or utcnow()
    used, last = db.session.execute(
        select(func.count(Submissions.id), func.max(Submissions.created_at)).where(
            Submissions.user_id == user.id, Submissions.assignment_id == assignment.id,
            Submissions.gradable.is_(True))).one()
    wait = 0
    if last is not None and assignment.min_interval_seconds:
        ready_at = last + dt.timedelta(seconds=assignment.min_interval_seconds)
        wait = max(0, math.ceil((ready_at - now).total_seconds()))
    rules = Rules.of(assignment)
    deadline = personal_deadline(user, assignment)
    closes = rules.closes_at(deadline)
    closed = late = None
    if assignment.course is not None and assignment.course.archived_at is not None:
        closed = ARCHIVED
    elif assignment.opens_at and now < assignment.opens_at:
        closed = f"opens {assignment.opens_at:%Y-%m-%d %H:%M} UTC"
    elif closes is not None and now > closes:
        closed = "the deadline has passed" if rules.late_policy == REFUSE else \
            "the late cut-off has passed"
    elif deadline is not None and now > deadline:
        started = days_late(now, deadline)
        late = ("late: accepted and marked late" if rules.late_policy == ACCEPT else
                f"late: −{min(1.0, rules.late_penalty * started):.0%} if submitted now")
    return Quota(used, assignment.max_submissions, wait, closed, late)
