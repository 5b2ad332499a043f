"""``backprop regrade CODE EXERCISE [--student EMAIL] [--apply|--discard]`` (SPEC §7), as a
user runs it: a real subprocess on a fresh BACKPROP_HOME. The gradings are stored in-process
as the worker stores them (the workers themselves are tested in tests/worker)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.cli.test_course_cli import run
from tests.web.helpers import EX2_CORRECT, wrong_result


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["BACKPROP_HOME"] = str(tmp_path / "home")
    # no broker: sending fails fast and is only logged (the reconciler's job)
    env["REDIS_URL"] = "redis://127.0.0.1:1/0"
    monkeypatch.setenv("BACKPROP_HOME", env["BACKPROP_HOME"])
    monkeypatch.setenv("REDIS_URL", env["REDIS_URL"])
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return env


def app():
    from web import create_app

    return create_app()


def store(score: float, reason: str) -> None:
    """Store a result of this score for every queued grading of ``reason``."""
    from web.db import db
    from web.models import Gradings
    from web.services.gradings import store_result

    r = dataclasses.replace(wrong_result(), score=score, carry_forward_score=score)
    with app().app_context():
        for gid in db.session.scalars(select(Gradings.id).where(
                Gradings.status != "done", Gradings.reason == reason)).all():
            assert store_result(gid, r)
        db.session.remove()


def scores() -> dict[str, float]:
    from web.db import db
    from web.models import Submissions, Users

    with app().app_context():
        try:
            return dict(db.session.execute(select(Users.email, Submissions.score).join(
                Submissions, Submissions.user_id == Users.id)).all())
        finally:
            db.session.remove()


def test_regrade_shows_the_changes_and_applies_only_when_asked(env: dict[str, str]) -> None:
    # the course through the services (the CLI's own setup is tested in test_course_cli)
    from web.db import db
    from web.models import Assignments, Users
    from web.services import courses
    from web.services.accounts import create_user
    from web.services.submissions import create_submission

    with app().app_context():
        import flask_migrate

        flask_migrate.upgrade()
        prof = create_user("prof@example.org", "instructor", None, None)
        course = courses.create_course("CS-101", "", prof)
        courses.add_assignment(course, "makemore4/ex2", courses.AssignmentSpec())
        for email in ("ada@example.org", "bo@example.org"):
            create_user(email, "student", None, course.code)
        db.session.commit()
        a = db.session.scalar(select(Assignments))
        for email in ("ada@example.org", "bo@example.org"):
            uid = db.session.scalar(select(Users.id).where(Users.email == email))
            create_submission(exercise_id="makemore4/ex2", code=EX2_CORRECT, user_id=uid,
                              assignment_id=a.id, enqueue=False)
        db.session.remove()
    store(0.0, "submitted")

    out = run(env, "regrade", "CS-101", "makemore4/ex2", "--student", "ada@example.org",
              "--wait", "0")
    assert out.returncode == 0, out.stderr
    assert "regrade #1: 1 submissions queued" in out.stderr
    assert "0/1 regraded" in out.stdout and "still running" in out.stderr
    # a second regrade is the pending one, not a new one
    out = run(env, "regrade", "CS-101", "makemore4/ex2", "--wait", "0")
    assert "regrade #1 (student:ada@example.org) is pending" in out.stderr
    out = run(env, "regrade", "CS-101", "makemore4/ex2", "--apply", "--wait", "0")
    assert out.returncode == 1 and "still running" in out.stderr  # not applied half-done

    store(1.0, "regrade")
    out = run(env, "regrade", "CS-101", "makemore4/ex2")
    assert out.returncode == 0, out.stderr
    assert "1/1 regraded: 1 up, 0 down, 0 unchanged" in out.stdout
    assert "ada@example.org" in out.stdout and "0 → 1" in out.stdout and "(+1)" in out.stdout
    assert "pending" in out.stderr
    assert scores() == {"ada@example.org": 0.0, "bo@example.org": 0.0}  # nothing applied

    out = run(env, "regrade", "CS-101", "makemore4/ex2", "--apply")
    assert out.returncode == 0 and "applied: 1 new gradings are current" in out.stdout
    assert scores() == {"ada@example.org": 1.0, "bo@example.org": 0.0}
    out = run(env, "gradebook", "CS-101", "--format", "moodle")
    assert "ada@example.org,1.0" in out.stdout  # the export follows the current grading

    # Usage errors: exit 2 and one clear line (in-process: the same command's code, without
    # an interpreter start per case; the subprocess road is the one above).
    from click.testing import CliRunner

    from cli.main import main

    for args, words in [
        (("--discard",), "no pending regrade to discard"),
        (("--student", "nobody@example.org", "--wait", "0"), "no user with e-mail"),
    ]:
        out = CliRunner().invoke(main, ["regrade", "CS-101", "makemore4/ex2", *args], env=env)
        assert out.exit_code == 2 and words in out.stderr, (args, out.output, out.exception)
        assert "Traceback" not in out.output, args
    out = CliRunner().invoke(main, ["regrade", "CS-101", "makemore4/ex9"], env=env)
    assert out.exit_code == 2, (out.output, out.exception)
    assert "has no assignment of 'makemore4/ex9'" in out.stderr


def test_a_discarded_regrade_keeps_the_grades(env: dict[str, str]) -> None:
    for args in (("user", "add", "ada@example.org", "--course", "CS-1"),):
        assert run(env, *args).returncode == 0
    from web.db import db
    from web.models import Assignments, Users
    from web.services.submissions import create_submission

    with app().app_context():
        a = db.session.scalar(select(Assignments).where(
            Assignments.exercise_id == "makemore4/ex2"))
        uid = db.session.scalar(select(Users.id))
        create_submission(exercise_id="makemore4/ex2", code=EX2_CORRECT, user_id=uid,
                          assignment_id=a.id, enqueue=False)
        db.session.remove()
    store(1.0, "submitted")
    assert run(env, "regrade", "CS-1", "makemore4/ex2", "--wait", "0").returncode == 0
    store(0.0, "regrade")
    out = run(env, "regrade", "CS-1", "makemore4/ex2", "--discard")
    assert out.returncode == 0 and "discarded" in out.stdout
    assert scores() == {"ada@example.org": 1.0}
