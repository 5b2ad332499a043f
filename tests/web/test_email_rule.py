"""One e-mail rule: ``backprop user add`` accepts exactly the addresses the web forms accept.

Each address goes through the real CLI command (click's runner, on its own instance folder
with an embedded SQLite database migrated by the command itself) and through the real
registration form (CSRF on); both must accept it or both refuse it, with the same clear
message and no traceback. An accepted address then signs in through the login form.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main
from tests.web.helpers import PASSWORD, csrf_token, login, logout, text, user
from web.services.accounts import AccountError, normalize_email

#: (address as typed, stored form) — accepted everywhere.
ACCEPTED = [
    ("alice@example.org", "alice@example.org"),
    ("Alice.Smith+ml@Example.ORG", "alice.smith+ml@example.org"),
    ("  padded@example.org ", "padded@example.org"),
    ("ta@cs.uni-example.ac.uk", "ta@cs.uni-example.ac.uk"),
    ("jürgen@bücher.example", "jürgen@bücher.example"),
]

#: Refused everywhere (special-use domains included: an address here names a real person).
REFUSED = [
    "someone@x.test",
    "a@localhost",
    "x@y.local",
    "a@b",
    "plainaddress",
    "@example.org",
    "a@",
    "a..b@example.org",
    "a b@example.org",
    '"quoted"@example.org',
    "a@[127.0.0.1]",
    "a@-b.example.org",
    "esc\x1b[2J@example.org",
    "rlo\u202e@example.org",
    "x" * 250 + "@example.org",
    "y" * 5000 + "@example.org",
]


@pytest.fixture(scope="module")
def cli_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return an instance folder of its own for the CLI (its database is created on use)."""
    return tmp_path_factory.mktemp("email-rule-home")


def cli_add(home: Path, address: str):
    """Run ``backprop user add ADDRESS`` as a user would, on ``home``."""
    return CliRunner().invoke(main, ["user", "add", address, "--password", PASSWORD],
                              env={"BACKPROP_HOME": str(home), "DATABASE_URL": None,
                                   "SECRET_KEY": None})


def register(client, address: str):
    """Post the registration form for ``address`` (course COURSE-A exists)."""
    page = client.get("/register")
    return client.post("/register", data={
        "email": address, "name": "", "course": "COURSE-A", "password": PASSWORD,
        "confirm": PASSWORD, "csrf_token": csrf_token(page.data)})


@pytest.mark.parametrize("address, stored", ACCEPTED)
def test_accepted_by_both(app, cli_home: Path, address: str, stored: str) -> None:
    out = cli_add(cli_home, address)
    assert out.exit_code == 0, out.output
    assert f"created student {stored} " in out.output

    user(app, "teacher@example.org", "instructor", "COURSE-A")
    client = app.test_client()
    response = register(client, address)
    assert response.status_code == 302, text(response)[:3000]
    # The account signs in with the address as typed, and is stored in the same form.
    logout(client)
    login(client, address)
    assert stored in text(client.get("/", follow_redirects=True))


@pytest.mark.parametrize("address", REFUSED)
def test_refused_by_both_with_the_same_message(app, cli_home: Path, address: str) -> None:
    with pytest.raises(AccountError) as refused:
        normalize_email(address)
    message = str(refused.value)
    assert "\x1b" not in message and "\u202e" not in message

    out = cli_add(cli_home, address)
    assert out.exit_code == 2, out.output
    assert out.exception is None or isinstance(out.exception, SystemExit)
    assert "Traceback" not in out.output
    assert message in out.output

    user(app, "teacher@example.org", "instructor", "COURSE-A")
    response = register(app.test_client(), address)
    assert response.status_code == 200
    page = html.unescape(text(response))
    assert message in page
    # Only the form's own input gives the typed text back as typed (it is the user's to edit).
    shown = re.sub(r"<input[^>]*>", "", page)
    assert "\x1b" not in shown and "\u202e" not in shown


def test_login_form_uses_the_rule_too(app) -> None:
    """An address the rule refuses gets the rule's reason on the sign-in form, not a 500."""
    client = app.test_client()
    response = login(client, "someone@x.test", expect_ok=False)
    assert response.status_code == 200
    assert "special-use or reserved name" in html.unescape(text(response))
