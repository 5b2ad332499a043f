"""Sign-in hardening around the acceptance list: no open redirect after sign-in, sign-out only
by POST, sessions end at sign-out, and self-registration can be switched off."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.web.helpers import PASSWORD, csrf_token, login, text, user


def _login_with_next(app, target: str):
    client = app.test_client()
    page = client.get(f"/login?next={target}")
    return client.post(f"/login?next={target}",
                       data={"email": "alice@example.org", "password": PASSWORD,
                             "csrf_token": csrf_token(page.data)})


def _is_offsite(location: str) -> bool:
    """Return whether a browser would leave the site for this Location (it drops tabs and
    newlines and reads backslashes as slashes)."""
    cleaned = "".join(c for c in location if c not in "\t\r\n").replace("\\", "/")
    parts = urlsplit(cleaned)
    return bool(parts.scheme or parts.netloc)


@pytest.mark.parametrize("target", ["/courses/COURSE-A", "/assignments/1?x=1"])
def test_sign_in_follows_a_local_next(app, target) -> None:
    user(app, "alice@example.org")
    response = _login_with_next(app, target)
    assert response.status_code == 302
    assert response.headers["Location"] == target


@pytest.mark.parametrize("target", [
    "//evil.example", "https://evil.example", "http:evil.example", "javascript:alert(1)",
    "/%5Cevil.example", "%2F%2Fevil.example", "///evil.example",
])
def test_sign_in_never_redirects_off_site(app, target) -> None:
    user(app, "alice@example.org")
    response = _login_with_next(app, target)
    assert response.status_code == 302
    assert not _is_offsite(response.headers["Location"]), response.headers["Location"]


def test_sign_in_never_redirects_off_site_with_a_tab(app) -> None:
    user(app, "alice@example.org")
    response = _login_with_next(app, "/%09/evil.example")
    assert response.status_code == 302
    assert not _is_offsite(response.headers["Location"]), response.headers["Location"]


def test_a_next_with_a_newline_is_not_a_500(app) -> None:
    user(app, "alice@example.org")
    response = _login_with_next(app, "/%0d%0aSet-Cookie:x=1")
    assert response.status_code == 302
    assert "\n" not in response.headers["Location"]


def test_sign_out_is_post_only_and_ends_the_session(app) -> None:
    user(app, "alice@example.org")
    client = app.test_client()
    login(client, "alice@example.org")
    assert client.get("/logout").status_code == 405  # a link or <img> cannot sign you out
    assert client.get("/courses/COURSE-A").status_code == 200
    page = client.get("/courses/COURSE-A")
    assert client.post("/logout", data={"csrf_token": csrf_token(page.data)}).status_code == 302
    assert client.get("/courses/COURSE-A").status_code == 302


def test_wrong_passwords_and_unknown_users_get_the_same_answer(app) -> None:
    user(app, "alice@example.org")
    wrong = login(app.test_client(), "alice@example.org", "nope", expect_ok=False)
    unknown = login(app.test_client(), "nobody@example.org", "nope", expect_ok=False)
    assert wrong.status_code == unknown.status_code == 200
    assert "Wrong e-mail or password." in text(wrong) and "Wrong e-mail or password." in \
        text(unknown)


def test_self_registration_can_be_switched_off(make_app) -> None:
    app = make_app(SELF_REGISTRATION=False)
    user(app, "teacher@example.org", "instructor", "COURSE-A")
    client = app.test_client()
    page = client.get("/login")
    response = client.post("/register", data={
        "email": "new@example.org", "course": "COURSE-A", "password": PASSWORD,
        "confirm": PASSWORD, "csrf_token": csrf_token(page.data)})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert login(app.test_client(), "new@example.org", expect_ok=False).status_code == 200


def test_registration_needs_an_existing_course_code(app) -> None:
    client = app.test_client()
    page = client.get("/register")
    response = client.post("/register", data={
        "email": "new@example.org", "course": "NO-SUCH", "password": PASSWORD,
        "confirm": PASSWORD, "csrf_token": csrf_token(page.data)})
    assert response.status_code == 200
    assert "No course has this join code" in text(response)
