"""Flags for review (``possibly_numerical``) reach the course's instructor, not the student.

A result whose backward did many times autograd's work carries a ``review_flags`` entry (see
grader.grade.review_flags). It costs no points: the result page shows it to the instructors
of the submission's course, and to nobody else; the stored result JSON keeps it for exports.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import Flask

from tests.web.helpers import assignment_id, login, submission, text, wrong_result

FLAG = {"code": "possibly_numerical",
        "message": "backward used 812 ms of CPU over 4 cases, 400× autograd's backward",
        "backward_cpu_ms": 812.0, "reference_cpu_ms": 2.03}


def _flagged(app: Flask, world: dict[str, Any]) -> int:
    result = dataclasses.replace(wrong_result(), review_flags=[FLAG])
    return submission(app, world["alice"], assignment_id(app, "COURSE-A"), "x = 1\n",
                      result=result)


def test_instructor_sees_the_flag(app: Flask, world: dict[str, Any]) -> None:
    sid = _flagged(app, world)
    client = app.test_client()
    login(client, "teach-a@example.org")
    page = text(client.get(f"/submissions/{sid}"))
    assert "For review" in page and "possibly_numerical" in page
    assert "400× autograd" in page


def test_student_and_other_instructors_do_not(app: Flask, world: dict[str, Any]) -> None:
    sid = _flagged(app, world)
    owner = app.test_client()
    login(owner, "alice@example.org")
    page = text(owner.get(f"/submissions/{sid}"))
    assert "Submission #" in page  # the page itself is shown…
    assert "possibly_numerical" not in page and "For review" not in page  # …not the flag
    other = app.test_client()
    login(other, "teach-b@example.org")
    assert other.get(f"/submissions/{sid}").status_code == 404


def test_an_unflagged_result_shows_no_review_note(app: Flask, world: dict[str, Any]) -> None:
    sid = submission(app, world["alice"], assignment_id(app, "COURSE-A"), "x = 1\n",
                     result=wrong_result())
    client = app.test_client()
    login(client, "teach-a@example.org")
    assert "For review" not in text(client.get(f"/submissions/{sid}"))
