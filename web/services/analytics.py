"""Per-assignment analytics: where a class's understanding of backprop breaks.

:func:`assignment_analytics` returns an :class:`Analytics` of plain values, shared by the
staff page, its CSV downloads (:func:`table`) and any future CLI. Who and what counts:

- only the course's **students** (enrolment role ``student``; staff trying the exercise are
  left out), optionally one section;
- only **graded** submissions (status ``done``), each scored under the assignment's scoring
  and shape rule, *before* lateness (the page is about understanding, not the gradebook);
- each student's **best** submission (highest score, the earliest of equal ones) for the
  score histogram, the per-tensor statistics and the mistakes; *every* graded submission for
  the timeline and the attempts until full marks.

The item score of a tensor is ``points / max_points`` in the student's best submission
(``carry_forward_points`` under carry-forward scoring; under the "values" shape rule a wrong
shape with the right values earns full points); the exercise score is the best submission's
score over its max score. Queries do not grow with the class: one for the roster, one for
the attempts (:func:`web.services.policy.attempts_for`), one for the tensor rows of the best
submissions (one per :data:`CHUNK` of them).

The statistics below the query are pure functions with doctests, so they are checked by
hand-computable examples without a database.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import func, select

from web.db import db
from web.models import (
    CARRY_FORWARD,
    SHAPE_VALUES,
    STUDENT,
    Assignments,
    Enrolments,
    Submissions,
    TensorResults,
)
from web.services.policy import Attempt, attempts_for

#: A tensor whose mean item score is below this is labelled "hard" …
HARD = 0.4
#: … above this "easy" (PrairieLearn-like thresholds).
EASY = 0.9
#: An item-total correlation below this is "low discrimination": strong and weak students
#: do about equally well on the tensor, so it says little about who understands backprop.
LOW_DISCRIMINATION = 0.2
#: Bins of the score histogram, over [0, max score].
HISTOGRAM_BINS = 10
#: The timeline counts per hour when the submissions (and deadline) span less than this.
HOURLY_SPAN = dt.timedelta(days=3)
#: More buckets than this and the deadline is left out of the timeline's range.
MAX_BUCKETS = 366
#: Submission ids per ``IN (...)`` of the tensor-row query.
CHUNK = 1000
#: Examples of a mistake linked from the table.
EXAMPLES = 3
#: Statuses of a right tensor (plus a wrong shape with the right values, under "values").
RIGHT = frozenset({"exact", "close"})
SHAPE_MISMATCH = "shape_mismatch"
#: The downloadable tables (``/analytics/<table>.csv``).
TABLES = ("tensors", "mistakes", "histogram", "timeline", "attempts")
#: Floating-point slack when comparing a score with the max score.
EPS = 1e-9


# --- the result -------------------------------------------------------------------------

@dataclass(frozen=True)
class TensorStat:
    """Item statistics of one graded tensor over the students' best submissions."""

    position: int
    name: str
    max_points: float
    #: Students whose best submission has this tensor (the denominator of everything below).
    students: int
    #: Students whose best submission gets it right.
    right: int
    share_right: float | None
    #: Mean item score (points / max points).
    mean: float | None
    #: Pearson correlation of the item score with the exercise score (item-total).
    discrimination: float | None
    #: Pearson correlation of the item score with the score on the *other* tensors.
    item_rest: float | None
    #: Mean item score of each fifth of the students by exercise score, lowest first.
    quintiles: tuple[float | None, ...]
    labels: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """Return the gradient's name as students write it (``dlogprobs``)."""
        return f"d{self.name}"


@dataclass(frozen=True)
class Mistake:
    """One fingerprint code on one tensor, counted in students' best submissions."""

    position: int
    name: str
    #: The fingerprint code; None for an inherited error with no pattern of its own.
    code: str | None
    description: str
    #: Students whose tensor is wrong on its own line with this code (root cause) …
    root: int
    #: … and students whose tensor only inherited an upstream error.
    inherited: int
    #: Up to :data:`EXAMPLES` submission ids, root causes first.
    examples: tuple[int, ...]

    @property
    def label(self) -> str:
        return f"d{self.name}"


@dataclass(frozen=True)
class Bin:
    """One bar of the score histogram: ``low <= score < high`` (the last bar includes
    ``high``)."""

    low: float
    high: float
    count: int


@dataclass(frozen=True)
class Timeline:
    """Graded submissions per hour or day, with the deadline's place on that axis."""

    unit: str  # "hour" or "day"
    #: (bucket start, submissions in it), consecutive buckets, empty ones included.
    buckets: tuple[tuple[dt.datetime, int], ...] = ()
    deadline: dt.datetime | None = None
    #: The deadline in buckets from the first bucket's start (None: no deadline, or outside).
    deadline_at: float | None = None

    @property
    def step(self) -> dt.timedelta:
        return dt.timedelta(hours=1) if self.unit == "hour" else dt.timedelta(days=1)


@dataclass(frozen=True)
class AttemptsToFull:
    """How many graded submissions students needed for full marks."""

    #: (k, students whose k-th submission was their first with full marks), k = 1 … max.
    distribution: tuple[tuple[int, int], ...] = ()
    #: Students who submitted but never reached full marks.
    never: int = 0

    @property
    def reached(self) -> int:
        return sum(c for _, c in self.distribution)


@dataclass(frozen=True)
class Analytics:
    """Everything the analytics page shows, as plain values (no session needed)."""

    assignment_id: int
    title: str
    exercise_id: str
    scoring: str
    shape_rule: str
    deadline: dt.datetime | None
    #: The max score (the most common one among the best submissions; 0 when none).
    max_score: float
    section: str | None
    sections: tuple[str, ...]
    #: Students enrolled (in the section), who submitted, and graded submissions in all.
    students: int
    submitted: int
    submissions: int
    full_marks: int
    #: Best scores, in points.
    mean_score: float | None
    median_score: float | None
    tensors: tuple[TensorStat, ...] = ()
    mistakes: tuple[Mistake, ...] = ()
    histogram: tuple[Bin, ...] = ()
    timeline: Timeline = field(default_factory=lambda: Timeline("day"))
    attempts: AttemptsToFull = field(default_factory=AttemptsToFull)

    @property
    def empty(self) -> bool:
        """Return whether no student has a graded submission."""
        return self.submitted == 0


# --- pure statistics ----------------------------------------------------------------------

def mean(xs: Sequence[float]) -> float | None:
    """Return the arithmetic mean, or None for no values.

    >>> mean([0, 0.5, 1]), mean([])
    (0.5, None)
    """
    return math.fsum(xs) / len(xs) if xs else None


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Return Pearson's correlation of paired values, or None when it is undefined.

    ``r = Σ(x−x̄)(y−ȳ) / √(Σ(x−x̄)² · Σ(y−ȳ)²)``; None for fewer than two pairs or when
    either list is constant (variance 0: e.g. every student got the tensor right).

    >>> round(pearson([0, 1, 1], [1, 2, 3]), 6)  # = 1 / √(2/3 · 2) = √3 / 2
    0.866025
    >>> pearson([1, 2, 3], [2, 4, 6])
    1.0
    >>> pearson([1, 1, 1], [0, 1, 2]) is None, pearson([1], [2]) is None
    (True, True)
    """
    if len(xs) != len(ys):
        raise ValueError("pearson needs pairs: the two lists differ in length")
    n = len(xs)
    if n < 2 or min(xs) == max(xs) or min(ys) == max(ys):
        return None
    mx, my = math.fsum(xs) / n, math.fsum(ys) / n
    sxy = math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = math.fsum((x - mx) ** 2 for x in xs)
    syy = math.fsum((y - my) ** 2 for y in ys)
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


def item_rest(items: Sequence[float], totals: Sequence[float]) -> float | None:
    """Return the corrected item-total ("item-rest") correlation: each item score against
    the total *minus that item*, so the item does not correlate with itself.

    ``items`` and ``totals`` must be on the same scale (points).

    >>> round(item_rest([0, 1, 1], [1, 2, 3]), 6)  # rests 1, 1, 2: r = (1/3) / √(2/3 · 2/3)
    0.5
    >>> item_rest([1, 0], [1, 0]) is None  # the rest is constant
    True
    """
    return pearson(items, [t - i for i, t in zip(items, totals, strict=True)])


def quintile_means(items: Sequence[float], totals: Sequence[float]) \
        -> tuple[float | None, ...]:
    """Return the mean item score of each fifth of the students, by total score, lowest first.

    Students are sorted by total (a stable sort: ties keep their given order, which the
    service makes the student id) and the student of rank ``r`` (0-based) of ``n`` goes to
    group ``⌊5r / n⌋``: groups differ in size by at most one, the larger ones spread out.
    With fewer than five students some groups are empty: their mean is None.

    >>> quintile_means([0, 0, 1, 1, 1, 1], [0.1, 0.2, 0.5, 0.6, 0.9, 1.0])
    (0.0, 1.0, 1.0, 1.0, 1.0)
    >>> quintile_means([1, 0, 1], [3, 1, 2])  # ranks 0, 1, 2 → groups 0, 1, 3
    (0.0, 1.0, None, 1.0, None)
    """
    n = len(items)
    groups: list[list[float]] = [[] for _ in range(5)]
    for rank, i in enumerate(sorted(range(n), key=lambda i: totals[i])):
        groups[5 * rank // n].append(items[i])
    return tuple(mean(g) for g in groups)


def histogram(scores: Iterable[float], max_score: float, bins: int = HISTOGRAM_BINS) \
        -> tuple[Bin, ...]:
    """Return ``bins`` equal bins of scores over [0, max_score]; each bin holds
    ``low <= score < high``, the last one also ``max_score`` (scores outside are clamped).

    >>> [b.count for b in histogram([0, 0.5, 2.6, 9.99, 10], 10, bins=5)]
    [2, 1, 0, 0, 2]
    >>> histogram([1], 0)
    ()
    """
    if max_score <= 0:
        return ()
    counts = [0] * bins
    for s in scores:
        counts[max(0, min(bins - 1, math.floor(s / max_score * bins + EPS)))] += 1
    width = max_score / bins
    return tuple(Bin(i * width, (i + 1) * width, c) for i, c in enumerate(counts))


def _floor(t: dt.datetime, unit: str) -> dt.datetime:
    t = t.replace(minute=0, second=0, microsecond=0)
    return t if unit == "hour" else t.replace(hour=0)


def timeline(times: Iterable[dt.datetime], deadline: dt.datetime | None = None) -> Timeline:
    """Return submissions per day, or per hour when they (and the deadline) span less than
    three days; the range covers the deadline unless that makes over MAX_BUCKETS buckets.

    >>> d = dt.datetime(2026, 3, 2, 12)
    >>> t = timeline([d, d + dt.timedelta(minutes=30), d + dt.timedelta(hours=2)],
    ...              deadline=d + dt.timedelta(hours=1, minutes=30))
    >>> t.unit, [c for _, c in t.buckets], t.deadline_at
    ('hour', [2, 0, 1], 1.5)
    >>> t = timeline([d, d + dt.timedelta(days=3)], deadline=d + dt.timedelta(days=1))
    >>> t.unit, [c for _, c in t.buckets], t.deadline_at
    ('day', [1, 0, 0, 1], 1.5)
    """
    times = sorted(times)
    if not times:
        return Timeline("day", deadline=deadline)
    for with_deadline in (deadline is not None, False):
        lo, hi = times[0], times[-1]
        if with_deadline:
            lo, hi = min(lo, deadline), max(hi, deadline)
        unit = "hour" if hi - lo < HOURLY_SPAN else "day"
        step = dt.timedelta(hours=1) if unit == "hour" else dt.timedelta(days=1)
        start = _floor(lo, unit)
        n = (_floor(hi, unit) - start) // step + 1
        if n <= MAX_BUCKETS or not with_deadline:
            break
    counts = Counter((_floor(t, unit) - start) // step for t in times)
    buckets = tuple((start + i * step, counts.get(i, 0)) for i in range(n))
    at = None
    if deadline is not None and start <= deadline <= start + n * step:
        at = (deadline - start) / step
    return Timeline(unit, buckets, deadline, at)


def first_full(scores: Sequence[float | None], max_score: float) -> int | None:
    """Return the 1-based index of the first full-marks score, or None if there is none.

    >>> first_full([0.5, 1.0, 1.0], 1.0), first_full([0.2, None], 1.0), first_full([], 1.0)
    (2, None, None)
    """
    if max_score <= 0:
        return None
    for k, s in enumerate(scores, 1):
        if s is not None and s >= max_score - EPS:
            return k
    return None


def attempts_to_full(firsts: Iterable[int | None]) -> AttemptsToFull:
    """Return the distribution of attempts until full marks (one value per student who
    submitted; None: never reached), every k from 1 to the largest listed.

    >>> a = attempts_to_full([1, 3, None, 1])
    >>> a.distribution, a.never, a.reached
    (((1, 2), (2, 0), (3, 1)), 1, 3)
    """
    firsts = list(firsts)
    counts = Counter(k for k in firsts if k is not None)
    top = max(counts, default=0)
    return AttemptsToFull(tuple((k, counts.get(k, 0)) for k in range(1, top + 1)),
                          sum(1 for k in firsts if k is None))


def labels(mean_score: float | None, discrimination: float | None) -> tuple[str, ...]:
    """Return the difficulty and discrimination labels of a tensor.

    >>> labels(0.3, 0.1), labels(0.95, None), labels(0.6, 0.5)
    (('hard', 'low discrimination'), ('easy',), ())
    """
    out = []
    if mean_score is not None and mean_score < HARD:
        out.append("hard")
    elif mean_score is not None and mean_score > EASY:
        out.append("easy")
    if discrimination is not None and discrimination < LOW_DISCRIMINATION:
        out.append("low discrimination")
    return tuple(out)


def best_attempt(attempts: Iterable[Attempt]) -> Attempt:
    """Return the highest-scoring attempt, the earliest of equal ones (None scores last)."""
    return min(attempts, key=lambda a: (a.score is None, -(a.score or 0.0), a.created_at, a.id))


def describe(code: str | None) -> str:
    """Return the plain words of a fingerprint code."""
    if code is None:
        return "no fingerprint: inherited from an upstream gradient, or no known pattern"
    from grader.diagnosis.findings import CODES  # (imports torch: only when a page needs it)

    return CODES.get(code, "a code this version does not know")


# --- the query ----------------------------------------------------------------------------

class _Row(NamedTuple):
    """One tensor row (a tuple: a class's analytics reads ~13,000 of them)."""

    submission_id: int
    position: int
    name: str
    status: str
    points: float
    max_points: float
    carry_forward_points: float | None
    fingerprint: str | None
    diagnosis: str | None  # its first 20 characters
    root_cause: bool
    locally_correct: bool | None
    values_match: bool | None


def _tensor_rows(submission_ids: list[int]) -> list[_Row]:
    """Return the tensor rows of these submissions' current gradings: one query per CHUNK."""
    cols = (Submissions.id, TensorResults.position, TensorResults.name,
            TensorResults.status, TensorResults.points, TensorResults.max_points,
            TensorResults.carry_forward_points, TensorResults.fingerprint,
            # only the start of the diagnosis: is it "inherited: …"?
            func.substr(TensorResults.diagnosis, 1, 20), TensorResults.root_cause,
            TensorResults.locally_correct, TensorResults.values_match)
    out: list[_Row] = []
    ids = sorted(submission_ids)
    for i in range(0, len(ids), CHUNK):
        out.extend(map(_Row._make, db.session.execute(
            select(*cols).join(TensorResults,
                               TensorResults.grading_id == Submissions.current_grading_id)
            .where(Submissions.id.in_(ids[i:i + CHUNK])))))
    return out


def is_right(row: _Row, shape_rule: str) -> bool:
    """Return whether a tensor row is right under the shape rule."""
    return row.status in RIGHT or (shape_rule == SHAPE_VALUES and row.status == SHAPE_MISMATCH
                                   and bool(row.values_match))


def item_points(row: _Row, scoring: str, shape_rule: str) -> float:
    """Return the points a tensor row earns under the scoring and shape rule."""
    if shape_rule == SHAPE_VALUES and row.status == SHAPE_MISMATCH and row.values_match:
        return row.max_points
    if scoring == CARRY_FORWARD and row.carry_forward_points is not None:
        return row.carry_forward_points
    return row.points or 0.0


def assignment_analytics(assignment: Assignments, section: str | None = None) -> Analytics:
    """Return the analytics of an assignment over its students (of one section, if given)."""
    roster = db.session.execute(select(Enrolments.user_id, Enrolments.section).where(
        Enrolments.course_id == assignment.course_id, Enrolments.role == STUDENT)).all()
    sections = tuple(sorted({s for _, s in roster if s}))
    students = sorted(u for u, s in roster if section is None or s == section)
    wanted = set(students)
    attempts = {u: sorted(v, key=lambda a: (a.created_at, a.id))
                for (_, u), v in attempts_for([assignment]).items() if u in wanted}
    users = sorted(attempts)
    best = {u: best_attempt(attempts[u]) for u in users}
    max_score = Counter(b.max_score for b in best.values() if b.max_score) \
        .most_common(1)[0][0] if any(b.max_score for b in best.values()) else 0.0
    scores = {u: best[u].score or 0.0 for u in users}
    tops = {u: best[u].max_score or max_score for u in users}
    base = dict(assignment_id=assignment.id, title=assignment.label,
                exercise_id=assignment.exercise_id, scoring=assignment.scoring,
                shape_rule=assignment.shape_rule, deadline=assignment.deadline,
                max_score=float(max_score), section=section, sections=sections,
                students=len(students), submitted=len(users),
                submissions=sum(len(v) for v in attempts.values()))
    if not users:
        return Analytics(**base, full_marks=0, mean_score=None, median_score=None)

    firsts = [first_full([a.score for a in attempts[u]], tops[u]) for u in users]
    owner = {best[u].id: u for u in users}
    rows = sorted(_tensor_rows(list(owner)), key=lambda r: (owner[r.submission_id],
                                                            r.position))
    tensors, mistakes = _tensor_stats(rows, owner, scores, tops, assignment)
    best_scores = [scores[u] for u in users]
    return Analytics(
        **base, full_marks=sum(1 for u in users if tops[u] and scores[u] >= tops[u] - EPS),
        mean_score=mean(best_scores), median_score=statistics.median(best_scores),
        tensors=tensors, mistakes=mistakes, histogram=histogram(best_scores, max_score),
        timeline=timeline((a.created_at for v in attempts.values() for a in v),
                          assignment.deadline),
        attempts=attempts_to_full(firsts))


def _tensor_stats(rows: list[_Row], owner: dict[int, int], scores: dict[int, float],
                  tops: dict[int, float], assignment: Assignments) \
        -> tuple[tuple[TensorStat, ...], tuple[Mistake, ...]]:
    """Return the per-tensor statistics and the mistakes of the best submissions' rows
    (sorted by student, so every per-tensor list is in student-id order)."""
    scoring, shape_rule = assignment.scoring, assignment.shape_rule
    where: dict[str, int] = {}
    top_points: dict[str, float] = {}
    items: dict[str, list[tuple[float, float, float, float, bool]]] = {}
    found: dict[tuple[str, str | None], tuple[set[int], set[int], list[int], list[int]]] = {}
    for r in rows:
        u = owner[r.submission_id]
        where[r.name] = min(where.get(r.name, r.position), r.position)
        top_points[r.name] = max(top_points.get(r.name, 0.0), r.max_points or 0.0)
        pts = item_points(r, scoring, shape_rule)
        right = is_right(r, shape_rule)
        if r.max_points and tops[u]:
            items.setdefault(r.name, []).append(
                (pts / r.max_points, scores[u] / tops[u], pts, scores[u], right))
        if r.status in RIGHT:
            continue
        inherited = not r.root_cause and (
            r.locally_correct is True or r.fingerprint is not None
            or (r.diagnosis or "").lower().startswith("inherited"))
        if not (r.root_cause or inherited):
            continue  # wrong without a diagnosis: only the per-tensor table shows it
        roots, inh, ex_root, ex_inh = found.setdefault((r.name, r.fingerprint),
                                                       (set(), set(), [], []))
        (roots if r.root_cause else inh).add(u)
        (ex_root if r.root_cause else ex_inh).append(r.submission_id)

    tensors = []
    for name in sorted(where, key=lambda n: (where[n], n)):
        data = items.get(name, [])
        frac, total, pts, total_pts, right = (list(c) for c in zip(*data, strict=True)) \
            if data else ([], [], [], [], [])
        m, disc = mean(frac), pearson(frac, total)
        tensors.append(TensorStat(
            where[name], name, top_points[name], len(data), sum(right),
            sum(right) / len(data) if data else None, m, disc, item_rest(pts, total_pts),
            quintile_means(frac, total) if data else (None,) * 5, labels(m, disc)))

    mistakes = [Mistake(where[name], name, code, describe(code), len(roots), len(inh),
                        tuple((sorted(ex_root) + sorted(ex_inh))[:EXAMPLES]))
                for (name, code), (roots, inh, ex_root, ex_inh) in found.items()]
    mistakes.sort(key=lambda m: (m.position, m.name, -m.root, -(m.root + m.inherited),
                                 m.code or "~"))
    return tuple(tensors), tuple(mistakes)


# --- tables (CSV) -------------------------------------------------------------------------

def _num(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def _iso(t: dt.datetime) -> str:
    return t.replace(microsecond=0).isoformat() + "Z"


def table(a: Analytics, name: str) -> tuple[list[str], list[list[object]]]:
    """Return one of the :data:`TABLES` as a header and rows of plain values (the caller
    escapes them for its format: :func:`grader.text.csv_cell` for CSV)."""
    if name == "tensors":
        return (["position", "tensor", "max_points", "students", "students_right",
                 "share_right", "mean", "discrimination_item_total", "item_rest",
                 "q1_mean", "q2_mean", "q3_mean", "q4_mean", "q5_mean", "labels"],
                [[t.position, t.label, t.max_points, t.students, t.right, _num(t.share_right),
                  _num(t.mean), _num(t.discrimination), _num(t.item_rest),
                  *(_num(q) for q in t.quintiles), "; ".join(t.labels)] for t in a.tensors])
    if name == "mistakes":
        return (["position", "tensor", "code", "plain_words", "students_root_cause",
                 "students_inherited", "example_submission_ids"],
                [[m.position, m.label, m.code or "", m.description, m.root, m.inherited,
                  " ".join(str(i) for i in m.examples)] for m in a.mistakes])
    if name == "histogram":
        return (["score_from", "score_to", "students"],
                [[_num(b.low), _num(b.high), b.count] for b in a.histogram])
    if name == "timeline":
        step = a.timeline.step
        return (["from_utc", "to_utc", "submissions"],
                [[_iso(t), _iso(t + step), c] for t, c in a.timeline.buckets])
    if name == "attempts":
        return (["attempts_until_full_marks", "students"],
                [[k, c] for k, c in a.attempts.distribution]
                + ([["never", a.attempts.never]] if a.submitted else []))
    raise KeyError(name)
