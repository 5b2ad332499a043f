"""The newcomer's pages: API tokens on /account, one-time password-reset links, join codes in
any case, the diff of two attempts and the history's attempt numbers.

Real app on a migrated SQLite copy, real forms with CSRF (tests/web/conftest.py); the reset
command runs as a real subprocess on a fresh BACKPROP_HOME.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select, update

from tests.web.helpers import (
    EX2_CORRECT,
    PASSWORD,
    assignment_id,
    csrf_token,
    login,
    submission,
    text,
    visible_text,
)
from web.db import db
from web.models import Courses, Enrolments, PasswordResets, Submissions, Users
from web.services import accounts

BACKPROP = str(Path(sys.executable).with_name("backprop"))
NEW_PASSWORD = "a brand new password"


def _post(client, path: str, data: dict | None = None, page: str = "/account", **kw):
    """POST a form with the CSRF token of ``page`` (the session's token)."""
    token = csrf_token(client.get(page).data)
    return client.post(path, data={"csrf_token": token, **(data or {})}, **kw)


def _signed_in(app: Flask, email: str):
    client = app.test_client()
    login(client, email)
    return client


# ------------------------------------------------------------------ API tokens
def test_a_token_is_shown_once_works_and_stops_working_when_revoked(app, world) -> None:
    client = _signed_in(app, "alice@example.org")
    page = client.get("/account")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "No tokens yet." in text(page)
    server = "http://localhost"  # the test client's host: the examples name this server
    assert f"BACKPROP_SERVER={server}" in text(page) and f'server="{server}"' in html.unescape(
        text(page))

    made = _post(client, "/account/tokens", {"name": "laptop <b>"})
    assert made.status_code == 201 and made.headers["Cache-Control"] == "no-store"
    shown = re.search(r'id="new-token" value="([^"]+)"', text(made))
    assert shown, text(made)
    secret = shown[1]
    assert f"BACKPROP_TOKEN={secret}" in text(made)  # the examples carry it, this once
    assert "laptop &lt;b&gt;" in text(made)
    with app.app_context():
        stored = db.session.scalars(select(Users).where(
            Users.email == "alice@example.org")).one().tokens
        assert [t.token_hash for t in stored] == [hashlib.sha256(secret.encode()).hexdigest()]
    assert secret not in text(client.get("/account"))  # shown once only

    sid = submission(app, world["alice"], assignment_id(app, "COURSE-A"), EX2_CORRECT)
    api = app.test_client()
    bearer = {"Authorization": f"Bearer {secret}"}
    assert api.get(f"/api/v1/submissions/{sid}", headers=bearer).status_code == 200
    listed = text(client.get("/account"))
    assert "never" not in listed.split("laptop", 1)[1].split("</tr>", 1)[0]  # last used: set

    token_id = stored[0].id
    refused = client.post(f"/account/tokens/{token_id}/revoke", data={})
    assert refused.status_code == 400  # no CSRF token: nothing revoked
    assert api.get(f"/api/v1/submissions/{sid}", headers=bearer).status_code == 200
    bob = _signed_in(app, "bob@example.org")
    assert _post(bob, f"/account/tokens/{token_id}/revoke").status_code == 404
    revoked = _post(client, f"/account/tokens/{token_id}/revoke")
    assert revoked.status_code == 302
    assert api.get(f"/api/v1/submissions/{sid}", headers=bearer).status_code == 401
    assert "No tokens yet." in text(client.get("/account"))


def test_the_token_name_is_checked(app, world) -> None:
    client = _signed_in(app, "alice@example.org")
    response = _post(client, "/account/tokens", {"name": "x" * 81})
    assert response.status_code == 400 and 'id="new-token"' not in text(response)
    assert "No tokens yet." in text(response)


# ------------------------------------------------------------------ password-reset links
def test_a_reset_link_is_hashed_single_use_and_expires(app, world) -> None:
    with app.app_context():
        alice = db.session.get(Users, world["alice"])
        token, expires = accounts.issue_reset(alice)
        row = db.session.scalars(select(PasswordResets)).one()
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in repr([getattr(row, c.key) for c in PasswordResets.__table__.c])
        assert dt.timedelta(hours=23) < expires - row.created_at <= dt.timedelta(hours=24)

    client = app.test_client()
    form = client.get(f"/reset/{token}")
    assert form.status_code == 200 and "alice@example.org" in text(form)
    assert form.headers["Cache-Control"] == "no-store"
    short = client.post(f"/reset/{token}", data={"csrf_token": csrf_token(form.data),
                                                 "password": "short", "confirm": "short"})
    assert short.status_code == 200 and "field-error" in text(short)  # not used up
    done = client.post(f"/reset/{token}", data={"csrf_token": csrf_token(form.data),
                                                "password": NEW_PASSWORD,
                                                "confirm": NEW_PASSWORD})
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")
    login(app.test_client(), "alice@example.org", NEW_PASSWORD)
    assert login(app.test_client(), "alice@example.org", expect_ok=False).status_code == 200

    again = app.test_client()
    assert again.get(f"/reset/{token}").status_code == 410
    page = again.get("/login")
    second = again.post(f"/reset/{token}", data={"csrf_token": csrf_token(page.data),
                                                 "password": "attacker-pass-1",
                                                 "confirm": "attacker-pass-1"})
    assert second.status_code == 410 and "expired or was already used" in text(second)
    login(app.test_client(), "alice@example.org", NEW_PASSWORD)  # unchanged

    with app.app_context():  # an expired link, and a newer link voiding an older one
        alice = db.session.get(Users, world["alice"])
        old, _ = accounts.issue_reset(alice)
        new, _ = accounts.issue_reset(alice)
        assert accounts.reset_user(old) is None and accounts.reset_user(new) is not None
        db.session.execute(update(PasswordResets).where(PasswordResets.used_at.is_(None))
                           .values(expires_at=accounts.utcnow() - dt.timedelta(seconds=1)))
        db.session.commit()
        with pytest.raises(accounts.AccountError, match="expired"):
            accounts.redeem_reset(new, "whatever-pass-1")
    assert app.test_client().get(f"/reset/{new}").status_code == 410
    assert app.test_client().get("/reset/not-a-token").status_code == 410


def test_instructors_make_reset_links_for_their_students_only(app, world) -> None:
    teacher = _signed_in(app, "teach-a@example.org")
    page = "/staff/courses/COURSE-A/roster"
    roster = text(teacher.get(page))
    assert f"/staff/courses/COURSE-A/students/{world['alice']}/reset-link" in roster
    assert f"/staff/courses/COURSE-A/students/{world['teach_a']}/reset-link" not in roster

    made = _post(teacher, f"/staff/courses/COURSE-A/students/{world['alice']}/reset-link",
                 page=page)
    assert made.status_code == 200 and made.headers["Cache-Control"] == "no-store"
    link = re.search(r'id="reset-link" value="([^"]+)"', text(made))[1]
    assert link.startswith("http://localhost/reset/")
    assert app.test_client().get(link.removeprefix("http://localhost")).status_code == 200

    # not for staff (a way into a colleague's account), nor for another course's students
    assert _post(teacher, f"/staff/courses/COURSE-A/students/{world['teach_a']}/reset-link",
                 page=page).status_code == 403
    assert _post(teacher, f"/staff/courses/COURSE-B/students/{world['carol']}/reset-link",
                 page=page).status_code == 404
    with app.app_context():  # bob is a TA elsewhere: his account is staff, no link
        db.session.add(Enrolments(user_id=world["bob"], role="ta", course_id=db.session.scalar(
            select(Courses.id).where(Courses.code == "COURSE-B"))))
        db.session.commit()
    assert _post(teacher, f"/staff/courses/COURSE-A/students/{world['bob']}/reset-link",
                 page=page).status_code == 403
    student = _signed_in(app, "alice@example.org")
    assert _post(student, f"/staff/courses/COURSE-A/students/{world['alice']}/reset-link",
                 ).status_code == 404
    with app.app_context():
        assert db.session.scalar(select(PasswordResets.user_id)) == world["alice"]
        assert len(db.session.scalars(select(PasswordResets)).all()) == 1


def test_the_login_page_points_to_the_instructor_without_asking_for_an_address(app) -> None:
    page = visible_text(text(app.test_client().get("/login")))
    assert "Forgot your password? Ask your instructor for a reset link." in page


def test_reset_password_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unknown address: one line, exit 2, torch never imported; known: a working link."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["BACKPROP_HOME"] = str(tmp_path / "home")
    add = subprocess.run([BACKPROP, "user", "add", "ada@example.org", "--password",
                          PASSWORD], capture_output=True, text=True, timeout=120, env=env)
    assert add.returncode == 0, add.stderr  # (and the database is migrated)
    # both commands in one fresh interpreter (an interpreter start costs seconds): torch
    # must not be imported by either
    code = ("import sys\nfrom cli.main import main\n"
            "for args in (['user', 'reset-password', 'nobody@example.org'],\n"
            "             ['user', 'reset-password', 'ADA@example.org', '--server',\n"
            "              'https://grader.example.org/']):\n"
            "    try:\n        main(args)\n    except SystemExit as e:\n"
            "        print('EXIT', e.code, file=sys.stderr)\n"
            "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', file=sys.stderr)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env=env)
    lines = out.stderr.strip().splitlines()
    assert lines[:2] == ["Error: no user with e-mail nobody@example.org", "EXIT 2"], lines
    assert lines[-2:] == ["EXIT 0", "NO-TORCH"], lines
    assert re.fullmatch(r"for ada@example\.org; works once, until [\d-]+ [\d:]+ UTC",
                        lines[2]), lines
    link = out.stdout.strip()
    assert re.fullmatch(r"https://grader\.example\.org/reset/[\w-]{40,}", link), link

    from web import create_app

    monkeypatch.setenv("BACKPROP_HOME", env["BACKPROP_HOME"])  # the command's instance
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI":
                      f"sqlite:///{tmp_path / 'home' / 'backprop.db'}",
                      "RATELIMIT_STORAGE_URI": "memory://"})
    try:
        with app.app_context():
            assert accounts.reset_user(link.rsplit("/", 1)[1]).email == "ada@example.org"
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


# ------------------------------------------------------------------ join codes
def test_join_codes_match_regardless_of_case(app, world) -> None:
    with app.app_context():
        assert accounts.course_for_join_code("course-a").code == "COURSE-A"
        db.session.add_all([Courses(code="X1", title="x", join_code="abc"),
                            Courses(code="X2", title="x", join_code="ABC")])
        db.session.commit()
        assert accounts.course_for_join_code("abc").code == "X1"  # the exact spelling wins
        assert accounts.course_for_join_code("ABC").code == "X2"
        assert accounts.course_for_join_code("Abc") is None  # ambiguous: none, not a guess

    client = app.test_client()
    form = client.get("/register?course=course-a")
    assert 'value="course-a"' in text(form)  # the join link fills the code in
    done = client.post("/register", data={
        "csrf_token": csrf_token(form.data), "email": "newbie@example.org",
        "course": " course-a ", "password": PASSWORD, "confirm": PASSWORD})
    assert done.status_code == 302, visible_text(text(done))
    assert client.get("/courses/COURSE-A").status_code == 200
    # signed in, the join link goes to "Join a course", which takes the code in any case
    assert client.get("/register?course=course-b").headers["Location"].endswith(
        "/join?course=course-b")
    page = client.get("/join?course=course-b")
    joined = client.post("/join", data={"csrf_token": csrf_token(page.data),
                                        "course": "Course-B"})
    assert joined.status_code == 302 and client.get("/courses/COURSE-B").status_code == 200
    with app.app_context():
        assert db.session.scalar(select(Courses.join_code).where(
            Courses.code == "COURSE-B")) == "COURSE-B"  # stored as created


def test_the_course_pages_give_staff_a_join_link(app, world) -> None:
    teacher = _signed_in(app, "teach-a@example.org")
    for path in ("/courses/COURSE-A", "/staff/courses/COURSE-A"):
        body = text(teacher.get(path))
        assert 'value="http://localhost/register?course=COURSE-A"' in body, path
        assert 'href="http://localhost/register?course=COURSE-A"' in body, path  # no JS
    assert "register?course=" not in text(_signed_in(app, "alice@example.org")
                                          .get("/courses/COURSE-A"))


# ------------------------------------------------------------------ diff and history
@pytest.fixture
def attempts(app: Flask, world: dict) -> dict:
    """Alice's two ex2 attempts and one ex1 attempt; Bob's ex2 attempt in between."""
    ex2, ex1 = assignment_id(app, "COURSE-A"), assignment_id(app, "COURSE-A", "makemore4/ex1")
    first = submission(app, world["alice"], ex2, "# v1 <script>x</script>\n" + EX2_CORRECT)
    bobs = submission(app, world["bob"], ex2, "# bob's secret\n" + EX2_CORRECT)
    second = submission(app, world["alice"], ex2,
                        "# v2 \u202eevil\u202c\x1b[2J\n" + EX2_CORRECT + "# tail\n")
    other = submission(app, world["alice"], ex1, "# ex1 code\n", "makemore4/ex1")
    return {**world, "ex2": ex2, "first": first, "second": second, "bobs": bobs,
            "other": other}


def test_the_diff_is_unified_with_line_numbers_and_a_way_back(app, attempts) -> None:
    w = attempts
    client = _signed_in(app, "alice@example.org")
    body = text(client.get(f"/submissions/diff?a={w['first']}&other={w['second']}"))
    assert "Changes from attempt 1 to attempt 2" in body
    assert f'href="/assignments/{w["ex2"]}/history"' in body  # back to the history
    rows = re.findall(r'<tr class="(add|del|ctx)"><td class="ln">(\d*)</td>'
                      r'<td class="ln">(\d*)</td>', body)
    assert ("del", "1", "") in rows and ("add", "", "1") in rows and ("ctx", "2", "2") in rows
    assert "&lt;script&gt;x&lt;/script&gt;" in body and "<script>x" not in body
    assert "\u202e" not in body and "\x1b" not in body
    assert "⟨U+202E⟩evil⟨U+202C⟩␛[2J" in html.unescape(body)


def test_the_diff_refuses_other_assignments_and_other_students(app, attempts) -> None:
    w = attempts
    alice = _signed_in(app, "alice@example.org")
    cross = alice.get(f"/submissions/diff?a={w['first']}&other={w['other']}")
    assert cross.status_code == 400 and "different assignments" in text(cross)
    assert "ex1 code" not in text(cross) and "v1" not in text(cross)
    theirs = alice.get(f"/submissions/diff?a={w['first']}&other={w['bobs']}")
    assert theirs.status_code == 404 and "bob&#39;s secret" not in text(theirs)
    assert "secret" not in text(theirs)
    # staff compare two students' attempts; the way back is the student's staff page
    teacher = _signed_in(app, "teach-a@example.org")
    staff = teacher.get(f"/submissions/diff?a={w['bobs']}&other={w['second']}")
    assert staff.status_code == 200 and "different students" in text(staff)
    assert teacher.get(f"/submissions/diff?a={w['first']}&other={w['other']}"
                       ).status_code == 400


def test_history_numbers_attempts_per_student_with_a_chart(app, attempts) -> None:
    w = attempts
    with app.app_context():
        db.session.execute(update(Submissions).where(Submissions.id == w["first"])
                           .values(gradable=False))
        db.session.commit()
    body = text(_signed_in(app, "alice@example.org").get(f"/assignments/{w['ex2']}/history"))
    assert re.findall(r">Attempt (\d+)</a>", body) == ["2", "1"]  # not the global ids
    assert f'a={w["first"]}&amp;other={w["second"]}">Compare with attempt 1' in body
    assert body.count("<time datetime=") == 2 and "data-local" in body
    row = body.split(">Attempt 1</a>", 1)[1].split("</tr>", 1)[0]
    assert "not counted" in row and "not counted" not in body.split(">Attempt 1</a>", 1)[0]
    # bob's history: his first attempt, numbered 1 though it came between alice's
    bob = text(_signed_in(app, "bob@example.org").get(f"/assignments/{w['ex2']}/history"))
    assert re.findall(r">Attempt (\d+)</a>", bob) == ["1"]


def test_the_chart_has_axes_and_a_title(app, attempts) -> None:
    from tests.web.helpers import wrong_result

    w = attempts
    graded = submission(app, w["alice"], w["ex2"], "# v3\n" + EX2_CORRECT, result=wrong_result())
    body = text(_signed_in(app, "alice@example.org").get(f"/assignments/{w['ex2']}/history"))
    svg = body[body.index("<svg"):body.index("</svg>")]
    assert 'role="img"' in svg and '<title id="chart-title">Score per attempt' in svg
    assert 'class="axis"' in svg and ">score</text>" in svg and ">attempt</text>" in svg
    assert "attempt 3: 0 / " in svg  # the dot of the third attempt, by its number
    assert f"#{graded}" not in svg
