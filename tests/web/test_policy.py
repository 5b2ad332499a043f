"""Deadlines, extensions, late policies and the counted submission (web.services.policy),
on the boundaries: a second before and a second after.

The arithmetic is tested on the pure ``count``; the database paths (quota refusing a late
submission, an extension reopening it, the gradebook applying it all) on a real app.
"""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask

from tests.web.helpers import assignment_id, set_assignment, submission, wrong_result
from web.db import db
from web.models import Assignments, Submissions, Users
from web.services import courses, gradebook
from web.services.policy import Attempt, Rules, count, quota

D = dt.datetime(2026, 12, 24, 23, 59, 0)
SECOND, DAY = dt.timedelta(seconds=1), dt.timedelta(days=1)


def attempt(i: int, when: dt.datetime, score: float) -> Attempt:
    return Attempt(i, when, score, 10.0)


@pytest.mark.parametrize("offset, late, days", [(-SECOND, False, 0), (dt.timedelta(0), False, 0),
                                               (SECOND, True, 1), (DAY, True, 1),
                                               (DAY + SECOND, True, 2)])
def test_late_is_after_the_deadline_in_started_days(offset, late, days) -> None:
    c = count(Rules(D, "accept"), [attempt(1, D + offset, 8.0)])
    assert (c.late, c.days_late, c.score, c.penalty) == (late, days, 8.0, 0.0)


def test_refuse_drops_a_submission_one_second_late() -> None:
    on_time, late = attempt(1, D, 4.0), attempt(2, D + SECOND, 10.0)
    c = count(Rules(D, "refuse"), [on_time, late])
    assert (c.submission_id, c.score, c.refused) == (1, 4.0, 1)
    assert "did not count" in c.why
    nothing = count(Rules(D, "refuse"), [late])
    assert (nothing.submission_id, nothing.score, nothing.refused) == (None, None, 1)


def test_penalty_per_started_day_up_to_the_cutoff() -> None:
    rules = Rules(D, "penalty", late_penalty=0.1, cutoff_days=3)
    assert count(rules, [attempt(1, D + SECOND, 10.0)]).score == 9.0       # 1 started day
    assert count(rules, [attempt(1, D + DAY + SECOND, 10.0)]).score == 8.0  # 2 started days
    at_cutoff = count(rules, [attempt(1, D + 3 * DAY, 10.0)])
    assert (at_cutoff.score, at_cutoff.days_late) == (7.0, 3)
    after = count(rules, [attempt(1, D + 3 * DAY + SECOND, 10.0)])
    assert (after.submission_id, after.refused) == (None, 1)
    c = count(rules, [attempt(1, D + SECOND, 10.0)])
    assert c.why == "late by 1 started day: 10 − 10% = 9"
    # never below zero, whatever the days
    assert count(Rules(D, "penalty", late_penalty=0.5), [attempt(1, D + 9 * DAY, 10.0)]).score \
        == 0.0


def test_best_counts_the_highest_after_penalty_and_last_the_newest() -> None:
    early, late = attempt(1, D - DAY, 7.0), attempt(2, D + 2 * DAY, 10.0)  # late: −40 % → 6
    rules = Rules(D, "penalty", late_penalty=0.2)
    assert count(rules, [early, late]).submission_id == 1
    last = count(Rules(D, "penalty", late_penalty=0.2, counted="last"), [early, late])
    assert (last.submission_id, last.score, last.raw, last.late) == (2, 6.0, 10.0, True)
    # equal scores: the earliest counts
    assert count(Rules(D), [attempt(5, D - DAY, 3.0), attempt(6, D - SECOND, 3.0)]) \
        .submission_id == 5


def test_an_extension_moves_the_deadline_for_one_student() -> None:
    rules = Rules(D, "refuse")
    sub = [attempt(1, D + DAY, 9.0)]
    assert count(rules, sub).submission_id is None
    extended = count(rules, sub, extension=D + DAY)
    assert (extended.submission_id, extended.late, extended.extended) == (1, False, True)
    assert count(rules, [attempt(1, D + DAY + SECOND, 9.0)], extension=D + DAY).refused == 1


def test_no_deadline_means_never_late() -> None:
    c = count(Rules(None, "refuse"), [attempt(1, dt.datetime(2030, 1, 1), 5.0)])
    assert (c.score, c.late) == (5.0, False)


# --- through the database --------------------------------------------------------------

def test_quota_refuses_after_the_deadline_and_an_extension_reopens(app: Flask,
                                                                   world: dict) -> None:
    aid = assignment_id(app, "COURSE-A")
    set_assignment(app, aid, deadline=D, late_policy="refuse", max_submissions=None,
                   min_interval_seconds=0)
    with app.app_context():
        alice, a = db.session.get(Users, world["alice"]), db.session.get(Assignments, aid)
        assert quota(alice, a, now=D).allowed
        assert quota(alice, a, now=D - SECOND).allowed
        after = quota(alice, a, now=D + SECOND)
        assert not after.allowed and "deadline has passed" in after.describe()
        courses.set_extension(a, alice, D + DAY)
        assert quota(alice, a, now=D + SECOND).allowed
        assert not quota(alice, a, now=D + DAY + SECOND).allowed
        a.late_policy, a.late_penalty, a.cutoff_days = "penalty", 0.25, 1
        db.session.commit()
        late = quota(alice, a, now=D + DAY + SECOND)
        assert late.allowed and "−25%" in late.describe()
        assert not quota(alice, a, now=D + 2 * DAY + SECOND).allowed


def test_the_gradebook_applies_the_late_policy(app: Flask, world: dict) -> None:
    aid = assignment_id(app, "COURSE-A")
    set_assignment(app, aid, deadline=D, late_policy="penalty", late_penalty=0.1,
                   cutoff_days=None)
    result = wrong_result()
    result.score = 1.0  # of ex2's max
    sid = submission(app, world["alice"], aid, "# late\n", result=result)
    with app.app_context():
        db.session.get(Submissions, sid).created_at = D + DAY + SECOND  # 2 started days
        db.session.commit()
        c = gradebook.load(courses.find_course("COURSE-A")).cells[(aid, world["alice"])]
        assert (c.score, c.raw, c.days_late) == (0.8, 1.0, 2)
        canvas = gradebook.export(courses.find_course("COURSE-A"), "canvas")
    header, *rows = canvas.splitlines()
    col = next(i for i, h in enumerate(header.split(",")) if h.endswith(f"({aid})"))
    row = next(line for line in rows if "alice@example.org" in line)
    assert row.split(",")[col] == "0.8"
