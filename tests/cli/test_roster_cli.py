"""``backprop roster import``: the same service as the staff pages, on a fresh instance
(BACKPROP_HOME in a temporary folder, its SQLite database migrated by the command)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from cli.roster import roster_cmd
from cli.service import _app
from web.db import db
from web.models import Enrolments, Users
from web.services.accounts import create_user

HEADER = "email,name,student_id,section\n"


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A fresh instance with COURSE-A (instructor teach-a, student alice)."""
    monkeypatch.setenv("BACKPROP_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = _app()
    with app.app_context():
        create_user("teach-a@example.org", "instructor", None, "COURSE-A")
        create_user("alice@example.org", "student", None, "COURSE-A")
        db.session.remove()
        db.engine.dispose()
    return app


def write(tmp_path: Path, *rows: str) -> str:
    path = tmp_path / "roster.csv"
    path.write_bytes((HEADER + "".join(r + "\n" for r in rows)).encode())
    return str(path)


def counts(app) -> tuple[int, int]:
    with app.app_context():
        try:
            return (db.session.scalar(select(func.count()).select_from(Users)),
                    db.session.scalar(select(func.count()).select_from(Enrolments)))
        finally:
            db.session.remove()


def run(*args: str):
    return CliRunner().invoke(roster_cmd, list(args), catch_exceptions=False)


def test_import_applies_and_prints_the_summary(instance, tmp_path: Path) -> None:
    path = write(tmp_path, "dave@example.org,Dave,D4,S1", "alice@example.org,Alice,A1,S1")
    result = run("import", "COURSE-A", path)
    assert result.exit_code == 0, result.output
    assert "1 new (invited), 0 enrolled, 1 updated, 0 unchanged" in result.output
    assert "imported: 1 added (1 invited), 1 updated, 0 unchanged" in result.output
    assert counts(instance) == (3, 3)
    again = run("import", "COURSE-A", path)
    assert again.exit_code == 0 and "0 added, 0 updated, 2 unchanged" in again.output
    with instance.app_context():
        dave = db.session.scalar(select(Users).where(Users.email == "dave@example.org"))
        assert dave.password_hash is None and dave.name == "Dave"


def test_dry_run_prints_the_changes_and_applies_nothing(instance, tmp_path: Path) -> None:
    path = write(tmp_path, "dave@example.org,Dave,D4,S1", "alice@example.org,,A1,")
    result = run("import", "COURSE-A", path, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "line 2: new user dave@example.org" in result.output
    assert "line 3: update alice@example.org (student id 'A1')" in result.output
    assert "dry run: nothing was changed" in result.output
    assert counts(instance) == (2, 2)


def test_errors_exit_2_with_their_lines_and_nothing_is_applied(instance, tmp_path: Path) \
        -> None:
    path = write(tmp_path, "dave@example.org,Dave,D4,S1", "x@localhost,X,,",
                 "dave@example.org,Dave,,", "teach-a@example.org,,,",
                 "eve@example.org,\"Eve\x1b]52;c;ZXZpbA==\x07\",,")
    result = run("import", "COURSE-A", path)
    assert result.exit_code == 2
    out = result.output
    assert "error: line 3: x@localhost is not a usable e-mail address" in out
    assert "error: line 4: dave@example.org: same e-mail as line 2" in out
    assert "error: line 5: teach-a@example.org is staff of this course" in out
    assert "error: line 6: the name contains a control character (U+001B)" in out
    assert "nothing was changed: 4 errors" in out
    assert "\x1b" not in out and "\x07" not in out
    assert counts(instance) == (2, 2)
    assert run("import", "COURSE-A", path, "--dry-run").exit_code == 2


def test_hostile_bytes_and_unknown_courses(instance, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"email\n\x1b[2J\xff\xfe\n")
    result = run("import", "COURSE-A", str(path))
    assert result.exit_code == 2 and "line 2: the file is not UTF-8 text" in result.output
    path.write_bytes(b"email\nbad\x1b[2J@example.org\n")
    result = run("import", "COURSE-A", str(path))
    assert result.exit_code == 2 and "\x1b" not in result.output
    assert "the e-mail contains a control character" in result.output
    result = CliRunner().invoke(roster_cmd, ["import", "NOPE", str(path)])
    assert result.exit_code == 2 and "no course 'NOPE'" in result.output
