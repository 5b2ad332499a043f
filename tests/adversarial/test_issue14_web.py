"""Issue 14 red team, web: what a new password leaves open, and compile bombs at the submit form.

A reset link exists for a student who lost their password or whose password leaked. Before the
fix, whoever had signed in with the old password kept their session: the new password locked
nobody out. The session now carries a fingerprint of the password hash (``Users.get_id``), so a
reset or a change signs out every other browser, while the one that changed it stays in.

The real app on a migrated SQLite copy, real forms with CSRF (tests/web/conftest.py's
fixtures, imported here).
"""

from __future__ import annotations

from flask import Flask

from tests.web import conftest as _web
from tests.web.helpers import PASSWORD, assignment_id, csrf_token, login, text
from web.db import db
from web.models import Submissions, Users
from web.services import accounts

# The web suite's fixtures (tests/adversarial sees only its own conftest).
app, make_app, world = _web.app, _web.make_app, _web.world
redis_url, template_db = _web.redis_url, _web.template_db
_cheap_password_hashes = _web._cheap_password_hashes

NEW_PASSWORD = "a brand new passphrase"


def _signed_in(client) -> bool:
    return client.get("/account").status_code == 200


def test_a_reset_signs_out_the_old_passwords_sessions(app: Flask, world: dict) -> None:
    """The thief who signed in with the leaked password is out once the student resets."""
    thief = app.test_client()
    login(thief, "alice@example.org")
    bystander = app.test_client()  # another student: untouched
    login(bystander, "bob@example.org")
    assert _signed_in(thief)
    with app.app_context():
        token, _ = accounts.issue_reset(db.session.get(Users, world["alice"]))
    student = app.test_client()
    form = student.get(f"/reset/{token}")
    done = student.post(f"/reset/{token}", data={"csrf_token": csrf_token(form.data),
                                                  "password": NEW_PASSWORD,
                                                  "confirm": NEW_PASSWORD})
    assert done.status_code == 302
    assert not _signed_in(thief)
    assert _signed_in(bystander)
    login(student, "alice@example.org", NEW_PASSWORD)
    assert _signed_in(student)


def test_a_password_change_keeps_this_browser_and_signs_out_the_others(
        app: Flask, world: dict) -> None:
    other = app.test_client()
    login(other, "alice@example.org")
    me = app.test_client()
    login(me, "alice@example.org")
    page = me.get("/password")
    changed = me.post("/password", data={"csrf_token": csrf_token(page.data),
                                         "current": PASSWORD, "password": NEW_PASSWORD,
                                         "confirm": NEW_PASSWORD})
    assert changed.status_code == 302, text(changed)[:500]
    assert _signed_in(me)
    assert not _signed_in(other)


def test_a_folding_bomb_submitted_in_the_form_is_queued_not_compiled(
        app: Flask, world: dict) -> None:
    """The submit form answers at once and stores the bomb as gradable, for the sandbox."""
    bomb = "x = (" + "+".join(f"'{chr(97 + i % 26)}'*4096" for i in range(2000)) + ")\n"
    ident = assignment_id(app, "COURSE-A")
    client = app.test_client()
    login(client, "alice@example.org")
    page = client.get(f"/assignments/{ident}")
    sent = client.post(f"/assignments/{ident}", data={"csrf_token": csrf_token(page.data),
                                                       "code": bomb})
    assert sent.status_code == 302, text(sent)[:500]
    with app.app_context():
        sub = db.session.query(Submissions).filter_by(user_id=world["alice"]).one()
        assert sub.gradable and sub.code == bomb
