"""Helpers for the web tests: real sign-in through the /login form (CSRF on), HTML parsing,
users, courses and submissions created through the app's own service functions."""

from __future__ import annotations

import re
import uuid
from html.parser import HTMLParser
from typing import Any

import torch
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from grader import get_exercise
from grader.result import GRADED, WRONG, GradeResult, TensorResult
from web.db import db
from web.models import Assignments, Courses, Submissions, Users
from web.services.accounts import create_user, enrol, issue_token
from web.services.gradings import store_result
from web.services.submissions import create_submission

PASSWORD = "correct horse battery"

#: A correct cross-entropy backward (makemore4/ex2), as a student would write it.
EX2_CORRECT = (
    "import torch.nn.functional as F\n\n"
    "def backward(t):\n"
    "    d = F.softmax(t.logits, 1)\n"
    "    d[range(t.n), t.Yb] -= 1\n"
    "    return {\"logits\": d / t.n}\n")


class _Page(HTMLParser):
    """Collect what the tests look at in a rendered page: inputs, scripts, forms."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.inputs: list[dict[str, str | None]] = []
        self.scripts: list[dict[str, Any]] = []
        self.forms: list[dict[str, str | None]] = []
        self.event_handlers: list[tuple[str, str]] = []
        self._in_script: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for name, _ in attrs:
            if name.lower().startswith("on"):
                self.event_handlers.append((tag, name))
        if tag == "input":
            self.inputs.append(a)
        elif tag == "form":
            self.forms.append(a)
        elif tag == "script":
            self._in_script = {"attrs": a, "body": ""}
            self.scripts.append(self._in_script)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = None

    def handle_data(self, data: str) -> None:
        if self._in_script is not None:
            self._in_script["body"] += data


def parse(html: str | bytes) -> _Page:
    """Return the parsed page."""
    page = _Page()
    page.feed(html.decode() if isinstance(html, bytes) else html)
    page.close()
    return page


def csrf_token(html: str | bytes) -> str:
    """Return the page's CSRF token (the hidden ``csrf_token`` input), failing loudly."""
    for field in parse(html).inputs:
        if field.get("name") == "csrf_token" and field.get("value"):
            return str(field["value"])
    raise AssertionError("no csrf_token input in the page")


def login(client: FlaskClient, email: str, password: str = PASSWORD,
          expect_ok: bool = True):
    """Sign in through the real form: GET /login, read the token, POST it back."""
    page = client.get("/login")
    assert page.status_code == 200
    response = client.post("/login", data={"email": email, "password": password,
                                           "csrf_token": csrf_token(page.data)})
    if expect_ok:
        assert response.status_code == 302, response.data[:2000]
    return response


def logout(client: FlaskClient) -> None:
    """Sign out through the POST form (token read from any page)."""
    page = client.get("/login")
    client.post("/logout", data={"csrf_token": csrf_token(page.data)})


def user(app: Flask, email: str, role: str = "student", course: str | None = "COURSE-A",
         password: str = PASSWORD) -> int:
    """Create a user with ``web.services.accounts.create_user``; return its id."""
    with app.app_context():
        return create_user(email, role, password, course).id


def enrol_user(app: Flask, user_id: int, course: str) -> None:
    """Enrol a user in another course (created if needed) as a student."""
    with app.app_context():
        enrol(db.session.get(Users, user_id), course)
        db.session.commit()


def token(app: Flask, email: str) -> str:
    """Return a new API token of the user."""
    with app.app_context():
        return issue_token(email)


def assignment_id(app: Flask, course: str, exercise: str = "makemore4/ex2") -> int:
    """Return the id of the course's (default) assignment for an exercise."""
    with app.app_context():
        return db.session.scalar(
            select(Assignments.id).join(Courses).where(Courses.code == course,
                                                       Assignments.exercise_id == exercise))


def set_assignment(app: Flask, ident: int, **values: Any) -> None:
    """Change an assignment's columns (cap, interval, window)."""
    with app.app_context():
        a = db.session.get(Assignments, ident)
        for k, v in values.items():
            setattr(a, k, v)
        db.session.commit()


def secret_code(owner: str) -> tuple[str, str]:
    """Return (source, marker): source with a unique marker, to look for leaks in bodies."""
    marker = f"SECRET_{owner}_{uuid.uuid4().hex}"
    return f"# {marker}\n{EX2_CORRECT}", marker


def wrong_result(exercise_id: str = "makemore4/ex2") -> GradeResult:
    """Return a hand-built graded result with one wrong tensor and its heatmap arrays."""
    ex = get_exercise(exercise_id)
    g = torch.Generator().manual_seed(0)
    tensors, arrays = [], {}
    for spec in ex.graded:
        shape = [32, 27] if spec.name == "logits" else [4, 5]
        tensors.append(TensorResult(spec.name, WRONG, 0.0, spec.points, max_abs_diff=0.5,
                                    rel_error=0.9, expected_shape=shape, got_shape=shape,
                                    failed_case="public", message="values differ",
                                    diagnosis="looks transposed", root_cause=True))
        arrays[spec.name] = (torch.randn(*shape, generator=g), torch.randn(*shape, generator=g))
    return GradeResult(exercise=ex.id, status=GRADED, score=0.0, max_score=ex.max_score,
                       message="0 of 1 tensors pass", stdout="printed SECRET stdout\n",
                       runtime_ms=12.5, tensors=tensors, cases=["public"],
                       exercise_version=ex.version, arrays=arrays)


def submission(app: Flask, user_id: int, assignment: int | None, code: str,
               exercise_id: str = "makemore4/ex2", result: GradeResult | None = None) -> int:
    """Store a submission (not queued) and, optionally, its result; return its id."""
    with app.app_context():
        sub = create_submission(exercise_id=exercise_id, code=code, user_id=user_id,
                                assignment_id=assignment, enqueue=False)
        if result is not None:
            assert store_result(sub.current_grading_id, result)
        return sub.id


def submission_count(app: Flask, user_id: int) -> int:
    """Return how many submissions a user has."""
    with app.app_context():
        return len(db.session.scalars(
            select(Submissions.id).where(Submissions.user_id == user_id)).all())


def text(response) -> str:
    """Return a response body as text."""
    return response.get_data(as_text=True)


def visible_text(html: str) -> str:
    """Return the page without tags, whitespace collapsed (for message checks)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
