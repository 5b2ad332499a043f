"""A submission that does not compile is answered at once and costs no attempt.

It is stored done with the grader's own syntax-error result (the same JSON a sandboxed run
gives), ``gradable`` false, never queued; the cap and the interval count only gradable
submissions, and the gradebook never counts it. Hostile sources get a clear error, no 500.
The 0005 migration runs on PostgreSQL (test_migrations runs every revision on both backends).
Last, guards of the stored → stored path: what a claim and a store cost in statements, and
the live status's pacing of the result page.
"""

from __future__ import annotations

import flask_migrate
import jsonschema
import pytest
import sqlalchemy as sa
from sqlalchemy import event, inspect, select

from grader import get_exercise, grade
from grader.grade import compile_error
from grader.result import MAX_SOURCE_BYTES, RESULT_SCHEMA
from tests.pg import temporary_database
from tests.web.helpers import (
    EX2_CORRECT,
    assignment_id,
    csrf_token,
    set_assignment,
    submission,
    text,
    token,
    user,
    visible_text,
    wrong_result,
)
from web import create_app
from web.db import db
from web.models import DONE, Assignments, Submissions, TensorResults, Users
from web.services import gradings, policy

SYNTAX = "def backward(t):\n    d = (t.logits +\n    return {'logits': d}\n"


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the grading ids sent to the broker (the real send still runs)."""
    ids: list[int] = []
    real = gradings.enqueue_grading

    def spy(grading_id: int, *args, **kwargs) -> None:
        ids.append(grading_id)
        real(grading_id, *args, **kwargs)

    monkeypatch.setattr(gradings, "enqueue_grading", spy)
    return ids


def test_a_syntax_error_through_the_form_costs_no_attempt(app, student_client, sent) -> None:
    client, uid = student_client
    ident = assignment_id(app, "COURSE-A")
    set_assignment(app, ident, max_submissions=1, min_interval_seconds=3600)
    url = f"/assignments/{ident}"
    response = client.post(url, data={"csrf_token": csrf_token(client.get(url).data),
                                      "code": SYNTAX})
    assert response.status_code == 302
    page = visible_text(text(client.get(response.location)))
    assert "SyntaxError" in page and "(line 2)" in page
    with app.app_context():
        sub = db.session.scalar(select(Submissions).where(Submissions.user_id == uid))
        grading = sub.current_grading
        assert (sub.status, sub.gradable, sub.result_status, sub.score) == \
            (DONE, False, "error", 0.0)
        assert grading.attempts == 0 and grading.worker is None  # no worker ever saw it
        assert grading.id not in sent
    # the cap (1) and the interval (an hour) are untouched: the good one goes through
    page = client.get(url)
    assert "0 of 1 submissions used" in visible_text(text(page))
    good = client.post(url, data={"csrf_token": csrf_token(page.data), "code": EX2_CORRECT})
    assert good.status_code == 302
    again = client.post(url, data={"csrf_token": csrf_token(client.get(url).data),
                                   "code": EX2_CORRECT}, follow_redirects=True)
    assert "no submissions left" in visible_text(text(again))
    assert len(sent) == 1


def test_a_syntax_error_through_the_api_is_done_at_once(app, sent) -> None:
    user(app, "alice@example.org")
    set_assignment(app, assignment_id(app, "COURSE-A"), max_submissions=1,
                   min_interval_seconds=3600)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token(app, 'alice@example.org')}"}
    first = client.post("/api/v1/submissions", headers=headers,
                        json={"exercise": "makemore4/ex2", "code": SYNTAX})
    assert first.status_code == 202 and first.json["status"] == "done"
    state = client.get(f"/api/v1/submissions/{first.json['id']}", headers=headers).json
    assert state["gradable"] is False and state["status"] == "done"
    result = state["result"]
    jsonschema.Draft202012Validator(RESULT_SCHEMA).validate(result)
    assert result["status"] == "error" and result["score"] == 0
    assert result["message"].startswith("SyntaxError:") and "(line 2)" in result["message"]
    assert {t["status"] for t in result["tensors"]} == {"missing"}
    good = client.post("/api/v1/submissions", headers=headers,
                       json={"exercise": "makemore4/ex2", "code": EX2_CORRECT})
    assert good.status_code == 202 and good.json["status"] == "queued"
    assert client.get(f"/api/v1/submissions/{good.json['id']}",
                      headers=headers).json["gradable"] is True
    assert client.post("/api/v1/submissions", headers=headers,
                       json={"exercise": "makemore4/ex2", "code": EX2_CORRECT}
                       ).status_code == 429
    assert len(sent) == 1


@pytest.mark.parametrize("source", [
    SYNTAX,
    "def backward(t):\n  return {}\n    x = 1\n",         # IndentationError
    "def backward(t):\n    return {'logits': 'open}\n",  # unterminated string
    "x = 1\n" + "\t" + "y = 2\n",                      # unexpected indent
])
def test_the_result_is_the_one_the_sandbox_gives(sandbox_for_compare, source) -> None:
    """The submit-time result equals ``grade()``'s through a real sandbox (but the clock)."""
    exercise = get_exercise("makemore4/ex2")
    early = compile_error(exercise, source, student="user:7").to_json()
    sandboxed = grade(exercise, source, sandbox=sandbox_for_compare, student="user:7",
                      secret=b"s").to_json()
    early.pop("runtime_ms"), sandboxed.pop("runtime_ms")
    assert early == sandboxed


@pytest.fixture(scope="module")
def sandbox_for_compare():
    from grader.sandbox import Sandbox

    box = Sandbox()
    yield box
    box.close()


N = MAX_SOURCE_BYTES  # 256 KiB: the largest source accepted


@pytest.mark.parametrize(("source", "expected"), [
    ("x = " + "-" * (N - 5) + "1", "nested too deeply"),          # the parser's stack
    ("x = a" + ".b" * 6000, "nested too deeply"),                   # the compiler's recursion
    ("x = " + "(" * 300, "too many nested parentheses"),
    ("x = " + "9" * 5000, "integer string conversion"),
])
def test_hostile_sources_get_a_clear_error(app, student_client, sent, source, expected) -> None:
    client, uid = student_client
    url = f"/assignments/{assignment_id(app, 'COURSE-A')}"
    response = client.post(url, data={"csrf_token": csrf_token(client.get(url).data),
                                      "code": source}, follow_redirects=True)
    assert response.status_code == 200
    page = visible_text(text(response))
    assert expected in page and "Traceback" not in page
    with app.app_context():
        assert db.session.scalar(select(Submissions.gradable)
                                 .where(Submissions.user_id == uid)) is False
    assert sent == []


def test_nul_bytes_and_oversize_are_refused_without_a_row(app, student_client) -> None:
    client, uid = student_client
    url = f"/assignments/{assignment_id(app, 'COURSE-A')}"
    nul = client.post(url, data={"csrf_token": csrf_token(client.get(url).data),
                                 "code": "def backward(t):\x00\n"})
    assert nul.status_code == 200 and "NUL" in visible_text(text(nul))
    api = app.test_client()
    headers = {"Authorization": f"Bearer {token(app, 'alice@example.org')}"}
    big = api.post("/api/v1/submissions", headers=headers,
                   json={"exercise": "makemore4/ex2", "code": "#" * (N + 1)})
    assert big.status_code == 413 and "KiB" in big.json["error"]
    with app.app_context():
        assert db.session.scalar(select(Submissions.id).where(Submissions.user_id == uid)) \
            is None


def test_the_gradebook_and_the_last_rule_ignore_a_submission_that_did_not_compile(
        app, world) -> None:
    aid = assignment_id(app, "COURSE-A")
    set_assignment(app, aid, counted="last")
    graded = submission(app, world["alice"], aid, "# a\n", result=wrong_result())
    submission(app, world["alice"], aid, SYNTAX)  # newer, but not an attempt
    with app.app_context():
        a = db.session.get(Assignments, aid)
        counted = policy.counted_scores([a])[(aid, world["alice"])]
        assert counted.submission_id == graded


def test_a_worker_refusal_before_the_code_ran_is_not_gradable(app, world) -> None:
    """``store_result(..., gradable=False)`` (an uninstalled pack) frees the attempt."""
    aid = assignment_id(app, "COURSE-A")
    set_assignment(app, aid, max_submissions=1)
    sub_id = submission(app, world["alice"], aid, EX2_CORRECT)
    with app.app_context():
        a = db.session.get(Assignments, aid)
        student = db.session.get(Users, world["alice"])
        assert not policy.quota(student, a).allowed
        grading_id = db.session.get(Submissions, sub_id).current_grading_id
        assert gradings.store_result(grading_id, wrong_result(), gradable=False)
        assert policy.quota(student, a).allowed


def test_storing_a_result_is_three_statements_whatever_the_tensor_count(app, world) -> None:
    """The speed of the stored → stored path is its statement count: the claim reads what it
    needs with its UPDATE, and every tensor row goes in one executemany."""
    sub_id = submission(app, world["alice"], None, "# ex1\n", "makemore4/ex1")
    result = wrong_result("makemore4/ex1")
    assert len(result.tensors) > 20
    with app.app_context():
        grading_id = db.session.get(Submissions, sub_id).current_grading_id
        db.session.remove()
        statements: list[str] = []

        def count(conn, cursor, statement, *args) -> None:
            statements.append(statement.split()[0])

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            claimed = gradings.claim(grading_id, "w", 3)
            assert claimed is not None and claimed.code == "# ex1\n"
            assert statements == ["UPDATE", "SELECT", "UPDATE"]
            statements.clear()
            assert gradings.store_result(grading_id, result)
            assert statements == ["UPDATE", "UPDATE", "INSERT"]
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        rows = db.session.scalars(select(TensorResults).where(
            TensorResults.grading_id == grading_id).order_by(TensorResults.position)).all()
        assert [r.name for r in rows] == [t.name for t in result.tensors]
        assert all(r.arrays for r in rows)
        assert [r.expected_shape for r in rows] == [t.expected_shape for t in result.tensors]
        assert not gradings.store_result(grading_id, result)  # stored once


def test_the_migration_marks_every_existing_submission_gradable_on_postgresql() -> None:
    """0005 up and down on PostgreSQL, over a row that exists (test_migrations also runs
    every revision up and down on both backends and checks the models match)."""
    with temporary_database() as url:
        app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI":
                          url.replace("postgresql://", "postgresql+psycopg://")})
        with app.app_context():
            flask_migrate.upgrade(revision="0004")
            with db.engine.begin() as conn:
                conn.execute(sa.text(
                    "INSERT INTO submissions (id, exercise_id, code, code_sha256, status, "
                    "created_at, updated_at) VALUES (1, 'makemore4/ex1', 'c', 'h', 'done', "
                    "'2026-01-01', '2026-01-01')"))
            flask_migrate.upgrade(revision="0005")
            with db.engine.connect() as conn:
                assert conn.execute(sa.text("SELECT gradable FROM submissions")).scalar_one() \
                    is True
            indexes = {i["name"]: i["column_names"]
                       for i in inspect(db.engine).get_indexes("submissions")}
            assert indexes["ix_submissions_gradebook"][-1] == "gradable"
            flask_migrate.downgrade(revision="0004")
            assert "gradable" not in {c["name"] for c in
                                      inspect(db.engine).get_columns("submissions")}
            db.engine.dispose()


def test_the_live_status_paces_the_page_and_is_never_cached(app, student_client) -> None:
    """The result page polls as the server says: soon when the result is close (next in the
    live queue, or running), slower further back, not at all once it is done."""
    client, uid = student_client
    aid = assignment_id(app, "COURSE-A")
    first = submission(app, uid, aid, "# first\n")
    second = submission(app, uid, aid, "# second\n")
    done = submission(app, uid, aid, "# done\n", result=wrong_result())
    answers = {sub_id: client.get(f"/submissions/{sub_id}/status.json")
               for sub_id in (first, second, done)}
    assert all(r.headers["Cache-Control"] == "no-store" for r in answers.values())
    states = {sub_id: r.json for sub_id, r in answers.items()}
    assert (states[first]["position"], states[first]["poll_ms"]) == (1, 100)
    assert states[second]["position"] == 2 and states[second]["poll_ms"] > 100
    assert states[done]["status"] == "done" and "poll_ms" not in states[done]
    with app.app_context():
        assert gradings.claim(db.session.get(Submissions, second).current_grading_id, "w", 3)
    running = client.get(f"/submissions/{second}/status.json").json
    assert (running["status"], running["poll_ms"]) == ("running", 100)
