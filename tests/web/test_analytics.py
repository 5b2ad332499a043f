"""Per-assignment analytics: every number of a hand-built class checked against hand
arithmetic, the SVG charts' escaping, staff-only access, the CSV downloads and a query count
that does not grow with the class. No grading, no sandbox, no browser: the rows are written
with the ORM.
"""

from __future__ import annotations

import csv
import datetime as dt
import doctest
import functools
import io
import math
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, select

from tests.web.helpers import login, text, user
from web import charts
from web.db import db
from web.models import (
    CARRY_FORWARD,
    DONE,
    QUEUED,
    SHAPE_VALUES,
    TA,
    Assignments,
    Courses,
    Enrolments,
    Gradings,
    Submissions,
    TensorResults,
    Users,
)
from web.services import analytics as service
from web.services.analytics import assignment_analytics

DEADLINE = dt.datetime(2026, 3, 10, 12, 0)
#: The exercise of the hand-built class: three graded tensors in backward order; dC is worth
#: two points so that the totals tell dprobs and dC apart. Max score 4.
TENSORS = (("logprobs", 1.0), ("probs", 1.0), ("C", 2.0))
SIGN = "=HYPERLINK(\"http://evil.example\",\"x\")"


def close(a: float | None, b: float) -> bool:
    return a is not None and abs(a - b) < 1e-9


# --- building a class by hand ---------------------------------------------------------------

def course_id(code: str) -> int:
    return db.session.scalar(select(Courses.id).where(Courses.code == code))


def new_assignment(code: str = "COURSE-A", **values: Any) -> int:
    """Add an assignment of three tensors to a course; return its id."""
    a = Assignments(course_id=course_id(code), exercise_id="makemore4/ex1",
                    title="Three tensors", deadline=DEADLINE, **values)
    db.session.add(a)
    db.session.commit()
    return a.id


def student(code: str, n: int | str, section: str | None = None, role: str = "student") -> int:
    """Add a user enrolled in a course (no password: these never sign in); return the id."""
    u = Users(email=f"s{n}-{code.lower()}@example.org", name=f"student {n}", role="student")
    db.session.add(u)
    db.session.flush()
    db.session.add(Enrolments(user_id=u.id, course_id=course_id(code), role=role,
                              section=section))
    db.session.commit()
    return u.id


def sub(user_id: int, assignment_id: int, when: dt.datetime, tensors: dict[str, tuple],
        status: str = DONE, **scores: float) -> int:
    """Store a graded submission. ``tensors``: name → (status, points[, fingerprint, root,
    diagnosis, extra columns]); the score is the sum of the points, the max score 4."""
    score = sum(t[1] for t in tensors.values())
    s = Submissions(user_id=user_id, assignment_id=assignment_id, exercise_id="makemore4/ex1",
                    code="def backward(t): ...", code_sha256="0" * 64, status=status,
                    created_at=when, score=score,
                    max_score=sum(p for _, p in TENSORS), **scores)
    g = Gradings(submission=s, status=status, score=score, max_score=s.max_score, **scores)
    s.current_grading = g
    db.session.add(s)
    db.session.flush()
    for position, (name, max_points) in enumerate(TENSORS):
        spec = tensors[name]
        st, points, fp, root, diagnosis, extra = (*spec, *(None, False, None, {})[len(spec) - 2:])
        db.session.add(TensorResults(grading_id=g.id, position=position, name=name,
                                     status=st, points=points, max_points=max_points,
                                     fingerprint=fp, root_cause=root, diagnosis=diagnosis,
                                     **extra))
    db.session.commit()
    return s.id


RIGHT = {"logprobs": ("exact", 1.0), "probs": ("exact", 1.0), "C": ("close", 2.0)}
INHERITED = "inherited: dC is right given your dprobs — the mistake is further up"


def build_class(app: Flask) -> dict[str, Any]:
    """Six students who submitted (s1 … s6), one who did not (s7), a TA and a queued
    submission that must not count. Best submissions (L = dlogprobs, P = dprobs, C = dC):

    ===== ===== ===== ===== ===== ==============================================
    who   L     P     C     total notes
    ===== ===== ===== ===== ===== ==============================================
    s1    1     1     2     4     2nd submission; the 1st (score 1) had P sign
    s2    1     1     0     2     C root cause "transpose"
    s3    1     0     0     1     P root "sign", C inherited; two equal tries
    s4    0     0     0     0     L root "scale_1_over_n", P inherited with that
                                  code, C inherited (no code); submitted late
    s5    1     1     2     4     full marks at the 1st try
    s6    1     0     2     3     P root "sign"
    ===== ===== ===== ===== ===== ==============================================
    """
    with app.app_context():
        ids = {f"s{i}": student("COURSE-A", i, "A" if i <= 3 else "B") for i in range(1, 8)}
        ids["ta"] = student("COURSE-A", "ta", role=TA)
        aid = new_assignment()
        day = dt.datetime(2026, 3, 8)
        sign = ("wrong", 0.0, "sign", True, "dprobs has the wrong sign")
        inh = ("wrong", 0.0, None, False, INHERITED)
        subs = {
            "s1a": sub(ids["s1"], aid, day + dt.timedelta(hours=10),
                       {"logprobs": RIGHT["logprobs"], "probs": sign, "C": inh}),
            "s1b": sub(ids["s1"], aid, day + dt.timedelta(days=1, hours=9), RIGHT),
            "s2": sub(ids["s2"], aid, day + dt.timedelta(days=1, hours=15),
                      {**RIGHT, "C": ("wrong", 0.0, "transpose", True, "dC is transposed")}),
            "s3a": sub(ids["s3"], aid, day + dt.timedelta(days=2, hours=8),
                       {"logprobs": RIGHT["logprobs"], "probs": sign, "C": inh}),
            "s3b": sub(ids["s3"], aid, day + dt.timedelta(days=2, hours=11),
                       {"logprobs": RIGHT["logprobs"], "probs": sign, "C": inh}),
            "s4": sub(ids["s4"], aid, day + dt.timedelta(days=3, hours=14),
                      {"logprobs": ("wrong", 0.0, "scale_1_over_n", True, "a 1/n is missing"),
                       "probs": ("wrong", 0.0, "scale_1_over_n", False, INHERITED), "C": inh}),
            "s5": sub(ids["s5"], aid, day + dt.timedelta(hours=20), RIGHT),
            "s6": sub(ids["s6"], aid, day + dt.timedelta(days=2, hours=13),
                      {**RIGHT, "probs": sign}),
            # not counted: staff, and a submission that is not graded yet
            "ta": sub(ids["ta"], aid, day + dt.timedelta(days=5), RIGHT),
            "queued": sub(ids["s2"], aid, day + dt.timedelta(days=5), RIGHT, status=QUEUED),
        }
    return {"ids": ids, "aid": aid, "subs": subs}


@pytest.fixture
def klass(app: Flask) -> dict[str, Any]:
    user(app, "teach-a@example.org", "instructor", "COURSE-A")
    return build_class(app)


def analytics_of(app: Flask, aid: int, section: str | None = None) -> service.Analytics:
    with app.app_context():
        return assignment_analytics(db.session.get(Assignments, aid), section)


# --- the numbers ----------------------------------------------------------------------------

def test_headline_numbers_and_histogram(app: Flask, klass) -> None:
    a = analytics_of(app, klass["aid"])
    # s1 … s7 (not the TA); s7 did not submit; 8 graded submissions (not the TA's or the queued)
    assert (a.students, a.submitted, a.submissions) == (7, 6, 8)
    assert a.max_score == 4.0
    # best scores 4, 2, 1, 0, 4, 3: mean 14/6, median of 0 1 2 3 4 4 = (2 + 3) / 2
    assert close(a.mean_score, 14 / 6) and a.median_score == 2.5
    assert a.full_marks == 2
    # 10 bins of 0.4 points: 0 → bin 0, 1 → 2 (2.5), 2 → 5, 3 → 7 (7.5), 4, 4 → 9 (the last)
    assert [b.count for b in a.histogram] == [1, 0, 1, 0, 0, 1, 0, 1, 0, 2]
    assert close(a.histogram[1].low, 0.4) and close(a.histogram[-1].high, 4.0)


def test_per_tensor_share_mean_discrimination_item_rest_and_quintiles(app: Flask,
                                                                       klass) -> None:
    t = {s.name: s for s in analytics_of(app, klass["aid"]).tensors}
    assert [s.name for s in analytics_of(app, klass["aid"]).tensors] == ["logprobs", "probs",
                                                                         "C"]
    # item scores (s1 … s6): L = 1 1 1 0 1 1, P = 1 1 0 0 1 0, C = 1 0 0 0 1 1
    assert (t["logprobs"].right, t["probs"].right, t["C"].right) == (5, 3, 3)
    assert all(s.students == 6 for s in t.values())
    assert close(t["logprobs"].share_right, 5 / 6) and close(t["logprobs"].mean, 5 / 6)
    assert close(t["probs"].mean, 0.5) and close(t["C"].mean, 0.5)

    # r = Σ(x−x̄)(y−ȳ) / √(Σ(x−x̄)² Σ(y−ȳ)²); Pearson does not mind the scale, so take the
    # totals in points: T = 4 2 1 0 4 3, T̄ = 7/3, T−T̄ = 5/3 −1/3 −4/3 −7/3 5/3 2/3,
    # Σ(T−T̄)² = (25 + 1 + 16 + 49 + 25 + 4)/9 = 40/3.
    # L: x−x̄ = 1/6 (×5) and −5/6 (s4): Σxy = (1/6)(5−1−4+5+2)/3 + (5/6)(7/3) = 7/3,
    #    Σx² = 5/36 + 25/36 = 5/6 → r = (7/3) / √(5/6 · 40/3) = (7/3) / (10/3) = 0.7
    assert close(t["logprobs"].discrimination, 0.7)
    # P: x−x̄ = ±1/2 (+ + − − + −): Σxy = (5+1+4+7+5−2)/6 = 3, Σx² = 3/2 → 3/√20
    assert close(t["probs"].discrimination, 3 / math.sqrt(20))
    # C: ±1/2 (+ − − − + +): Σxy = (5−(−1)+4+7+5+2)/6 = 4 → 4/√20
    assert close(t["C"].discrimination, 4 / math.sqrt(20))

    # item-rest: the item (in points) against the total minus that item.
    # L: rest = 3 1 0 0 3 2, mean 3/2, r−r̄ = 3/2 −1/2 −3/2 −3/2 3/2 1/2, Σr² = 38/4;
    #    Σxy = (1/6)(3−1−3+3+1)/2 + (5/6)(3/2) = 1/4 + 5/4 = 3/2 → (3/2)/√(5/6 · 19/2) = √(27/95)
    assert close(t["logprobs"].item_rest, math.sqrt(27 / 95))
    # P: rest = 3 1 1 0 3 3, mean 11/6, r−r̄ = (7 −5 −5 −11 7 7)/6, Σr² = 318/36 = 53/6;
    #    Σxy = (1/2)(7−5+5+11+7−7)/6 = 3/2 → (3/2)/√(3/2 · 53/6) = 3/√53
    assert close(t["probs"].item_rest, 3 / math.sqrt(53))
    # C in points: 2 0 0 0 2 2 (x−x̄ = ±1, Σx² = 6); rest = 2 2 1 0 2 1, mean 4/3,
    #    r−r̄ = (2 2 −1 −4 2 −1)/3, Σr² = 30/9; Σxy = (2−2+1+4+2−1)/3 = 2 → 2/√(6 · 10/3) = 1/√5
    assert close(t["C"].item_rest, 1 / math.sqrt(5))

    # quintiles: sorted by total (ties by student id): s4 0, s3 1, s2 2, s6 3, s1 4, s5 4;
    # rank r → group ⌊5r/6⌋ = 0 0 1 2 3 4: Q1 = {s4, s3}, Q2 = {s2}, Q3 = {s6}, Q4 = {s1}, Q5 = {s5}
    assert t["logprobs"].quintiles == (0.5, 1.0, 1.0, 1.0, 1.0)
    assert t["probs"].quintiles == (0.0, 1.0, 0.0, 1.0, 1.0)
    assert t["C"].quintiles == (0.0, 0.0, 1.0, 1.0, 1.0)
    # means 5/6 and 1/2 are neither hard (< 0.4) nor easy (> 0.9); discriminations ≥ 0.2
    assert all(s.labels == () for s in t.values())


def test_attempts_timeline_and_mistakes(app: Flask, klass) -> None:
    a = analytics_of(app, klass["aid"])
    subs = klass["subs"]
    # s5 full marks at the 1st try, s1 at the 2nd; s2, s3, s4, s6 never
    assert a.attempts.distribution == ((1, 1), (2, 1)) and a.attempts.never == 4
    # 8 submissions from 8 Mar 10:00 to 11 Mar 14:00 (≥ 3 days: per day): 8th: s1a, s5;
    # 9th: s1b, s2; 10th: s3a, s3b, s6; 11th: s4. Deadline 10 Mar 12:00 = 2.5 days in.
    assert a.timeline.unit == "day"
    assert [c for _, c in a.timeline.buckets] == [2, 2, 3, 1]
    assert a.timeline.buckets[0][0] == dt.datetime(2026, 3, 8) and a.timeline.deadline_at == 2.5

    got = {(m.name, m.code): (m.root, m.inherited, m.examples) for m in a.mistakes}
    assert got == {
        ("logprobs", "scale_1_over_n"): (1, 0, (subs["s4"],)),
        # s3 twice and s1's earlier submission do not add: students, in best submissions
        ("probs", "sign"): (2, 0, (subs["s3a"], subs["s6"])),
        ("probs", "scale_1_over_n"): (0, 1, (subs["s4"],)),
        ("C", "transpose"): (1, 0, (subs["s2"],)),
        ("C", None): (0, 2, (subs["s3a"], subs["s4"])),
    }
    # backward order, root causes first within a tensor, with the plain words of each code
    assert [(m.name, m.code) for m in a.mistakes] == [
        ("logprobs", "scale_1_over_n"), ("probs", "sign"), ("probs", "scale_1_over_n"),
        ("C", "transpose"), ("C", None)]
    assert a.mistakes[1].description == "the sign is flipped (×−1)"


def test_chunked_tensor_rows_give_the_same_numbers(app: Flask, klass,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    whole = analytics_of(app, klass["aid"])
    monkeypatch.setattr(service, "CHUNK", 4)  # 6 best submissions: two IN (...) queries
    assert analytics_of(app, klass["aid"]) == whole


def test_section_filter(app: Flask, klass) -> None:
    a = analytics_of(app, klass["aid"], "A")  # s1, s2, s3: best 4, 2, 1
    assert (a.students, a.submitted, a.submissions, a.full_marks) == (3, 3, 5, 1)
    assert a.sections == ("A", "B") and close(a.mean_score, 7 / 3)


def test_carry_forward_and_values_shape_rule(app: Flask) -> None:
    """Item scores follow the assignment's rules: carry-forward points, and a wrong shape
    with the right values counts as right under the "values" shape rule."""
    user(app, "teach-a@example.org", "instructor", "COURSE-A")
    with app.app_context():
        aid = new_assignment(scoring=CARRY_FORWARD, shape_rule=SHAPE_VALUES)
        s1, s2 = student("COURSE-A", 1), student("COURSE-A", 2)
        misshaped = ("shape_mismatch", 0.0, "shape", True, "dlogprobs has shape (32,)",
                     {"values_match": True, "carry_forward_points": 0.0})
        carried = ("wrong", 0.0, None, False, INHERITED, {"carry_forward_points": 1.0})
        sub(s1, aid, DEADLINE, {**RIGHT, "logprobs": misshaped, "probs": carried},
            values_carry_forward_score=4.0)
        sub(s2, aid, DEADLINE, {**RIGHT, "probs": ("wrong", 0.0, "sign", True, "sign",
                                                   {"carry_forward_points": 0.0})},
            values_carry_forward_score=3.0)
        a = assignment_analytics(db.session.get(Assignments, aid))
    t = {s.name: s for s in a.tensors}
    assert t["logprobs"].right == 2 and t["logprobs"].mean == 1.0  # values match: right
    assert t["probs"].right == 0 and t["probs"].mean == 0.5  # carried forward: 1 and 0
    assert a.full_marks == 1 and a.mean_score == 3.5
    # the shape mistake is still listed (it is shown as a warning to the student)
    assert {(m.name, m.code) for m in a.mistakes} == {("logprobs", "shape"),
                                                      ("probs", "sign"), ("probs", None)}


def test_statistics_doctests() -> None:
    result = doctest.testmod(service)
    assert result.attempted >= 9 and result.failed == 0


def test_statistics_edge_cases() -> None:
    assert service.pearson([1, 1, 1], [1, 2, 3]) is None  # everyone right: undefined
    assert service.quintile_means([], []) == (None,) * 5
    assert service.labels(0.39, 0.19) == ("hard", "low discrimination")
    assert service.labels(0.91, 0.5) == ("easy",)
    assert service.labels(0.4, 0.2) == service.labels(0.9, None) == ()
    assert service.timeline([]).buckets == ()
    # a deadline a year away is left out of the range instead of 400 empty days
    far = service.timeline([DEADLINE], DEADLINE + dt.timedelta(days=400))
    assert len(far.buckets) == 1 and far.deadline_at is None


# --- charts -----------------------------------------------------------------------------------

def test_charts_escape_every_label_and_are_accessible() -> None:
    hostile = '<script>alert(1)</script>"\u202e'
    svg = str(charts.bar_chart([(hostile, 0.5, hostile)], chart_id='x"y', title=hostile,
                               desc=hostile))
    assert "<script>" not in svg and '"\u202e' not in svg and "\u202e" not in svg
    assert "&lt;script&gt;" in svg and 'role="img"' in svg and "viewBox=" in svg
    assert "<title id=" in svg and "<desc id=" in svg
    svg = str(charts.time_series([(hostile, 3), ("b", 0)], chart_id="t", title="t", desc="d",
                                 marker_at=1.0, marker_label=hostile))
    assert "<script>" not in svg and 'class="mark"' in svg
    assert "<script>" not in str(charts.histogram([(0, 1, 2)], chart_id="h", title=hostile,
                                                  desc=hostile))


# --- the page, access, CSV ----------------------------------------------------------------------

def url(aid: int, code: str = "COURSE-A", table: str | None = None) -> str:
    base = f"/staff/courses/{code}/assignments/{aid}/analytics"
    return base if table is None else f"{base}/{table}.csv"


def signed_in(app: Flask, email: str):
    c = app.test_client()
    login(c, email)
    return c


def test_page_shows_the_numbers_charts_and_links(app: Flask, klass) -> None:
    c = signed_in(app, "teach-a@example.org")
    response = c.get(url(klass["aid"]))
    assert response.status_code == 200
    page = text(response)
    assert page.count("<svg") == 4
    for needle in ("dlogprobs", "dprobs", "dC", "83 %", "0.70", "scale_1_over_n",
                   "the sign is flipped", f'/submissions/{klass["subs"]["s6"]}"',
                   "How to read these statistics", "item-rest", "low discrimination",
                   "tensors.csv", "mistakes.csv", "attempts.csv", "table-wrap"):
        assert needle in page, needle
    assert "<script>alert" not in page


def test_empty_class_shows_an_empty_state(app: Flask) -> None:
    user(app, "teach-a@example.org", "instructor", "COURSE-A")
    with app.app_context():
        aid = new_assignment()
    c = signed_in(app, "teach-a@example.org")
    response = c.get(url(aid))
    assert response.status_code == 200
    assert "No student has a graded submission" in text(response)
    assert "<svg" not in text(response)
    for table in service.TABLES:
        assert c.get(url(aid, table=table)).status_code == 200


def test_staff_only(app: Flask, klass) -> None:
    aid = klass["aid"]
    user(app, "teach-b@example.org", "instructor", "COURSE-B")
    user(app, "alice@example.org", "student", "COURSE-A")
    ta = user(app, "ta@example.org", "student", None)
    with app.app_context():
        db.session.add(Enrolments(user_id=ta, course_id=course_id("COURSE-A"), role=TA))
        db.session.commit()
    anonymous = app.test_client().get(url(aid))
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert app.test_client().get(url(aid, table="tensors")).status_code == 302
    for email in ("teach-b@example.org", "alice@example.org"):
        c = signed_in(app, email)
        assert c.get(url(aid)).status_code == 404, email
        assert c.get(url(aid, table="tensors")).status_code == 404, email
    other = signed_in(app, "teach-b@example.org")
    assert other.get(url(aid, "COURSE-B")).status_code == 404  # not an assignment of B
    c = signed_in(app, "ta@example.org")
    assert c.get(url(aid)).status_code == 200
    assert c.get(url(aid, table="tensors")).status_code == 200
    assert c.get(url(aid, table="secrets")).status_code == 404
    assert c.get(url(2**40)).status_code == 404


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    return list(csv.reader(io.StringIO(text(response))))


def test_csv_downloads(app: Flask, klass) -> None:
    c = signed_in(app, "teach-a@example.org")
    aid = klass["aid"]
    tensors = read_csv(c.get(url(aid, table="tensors")))
    assert tensors[0][:6] == ["position", "tensor", "max_points", "students", "students_right",
                              "share_right"]
    assert [r[1] for r in tensors[1:]] == ["dlogprobs", "dprobs", "dC"]
    assert float(tensors[1][7]) == 0.7 and float(tensors[2][5]) == 0.5
    mistakes = read_csv(c.get(url(aid, table="mistakes")))
    assert mistakes[2][1:6] == ["dprobs", "sign", "the sign is flipped (×−1)", "2", "0"]
    assert [r[0] for r in read_csv(c.get(url(aid, table="attempts")))[1:]] == ["1", "2",
                                                                               "never"]
    assert [r[2] for r in read_csv(c.get(url(aid, table="timeline")))[1:]] == ["2", "2", "3",
                                                                               "1"]
    assert len(read_csv(c.get(url(aid, table="histogram")))) == 11
    section = read_csv(c.get(url(aid, table="attempts") + "?section=A"))
    assert section[1:] == [["1", "0"], ["2", "1"], ["never", "2"]]


def test_csv_cells_are_defused(app: Flask, klass) -> None:
    """A fingerprint is the grader's, but treat it as hostile: a formula in it must reach a
    spreadsheet as text, and the page must escape it."""
    with app.app_context():
        s7 = db.session.scalar(select(Users.id).where(Users.email.like("s7-%")))
        sub(s7, klass["aid"], DEADLINE, {**RIGHT, "C": ("wrong", 0.0, SIGN, True,
                                                        "=cmd|' /C calc'!A0")})
    c = signed_in(app, "teach-a@example.org")
    rows = read_csv(c.get(url(klass["aid"], table="mistakes")))
    codes = [r[2] for r in rows[1:]]
    assert "'" + SIGN in codes and SIGN not in codes
    assert all(not cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r)
    page = text(c.get(url(klass["aid"])))
    assert SIGN not in page and "=HYPERLINK(&#34;http://evil.example&#34;" in page


# --- queries do not grow with the class -------------------------------------------------------

def count_queries(app: Flask, fn) -> int:
    statements: list[str] = []

    def listen(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", listen)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    return len(statements)


def class_of(make_app, size: int) -> tuple[Flask, int]:
    """Return an app whose COURSE-A has ``size`` students with two submissions each."""
    app = make_app()
    user(app, "teach-a@example.org", "instructor", "COURSE-A")
    with app.app_context():
        aid = new_assignment()
        for i in range(size):
            uid = student("COURSE-A", i, section="AB"[i % 2])
            for k in range(2):
                sub(uid, aid, DEADLINE + dt.timedelta(hours=i + k),
                    {**RIGHT, "probs": ("wrong", 0.0, "sign", True, "sign")} if i % 2 else RIGHT)
    return app, aid


def get_ok(client, target: str) -> None:
    assert client.get(target).status_code == 200, target


def test_query_count_is_constant(make_app) -> None:
    counts = {}
    for size in (5, 50):
        app, aid = class_of(make_app, size)
        c = signed_in(app, "teach-a@example.org")

        def service_call(app=app, aid=aid, size=size) -> None:
            with app.app_context():
                a = assignment_analytics(db.session.get(Assignments, aid))
                assert a.submitted == size and a.submissions == 2 * size

        counts[size] = [count_queries(app, service_call)]
        for target in (url(aid), url(aid, table="mistakes"), url(aid) + "?section=B"):
            counts[size].append(count_queries(app, functools.partial(get_ok, c, target)))
    # the assignment, the roster, the attempts, the tensor rows of the best submissions
    assert counts[5][0] == 4
    assert counts[5] == counts[50], counts
