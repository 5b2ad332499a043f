"""Security acceptance 1: every form POST without a CSRF token answers 400 (CSRF is on)."""

from __future__ import annotations

import pytest

from tests.web.helpers import (
    PASSWORD,
    assignment_id,
    csrf_token,
    login,
    submission_count,
    text,
    user,
)

ANONYMOUS_FORMS = {
    "/login": {"email": "alice@example.org", "password": PASSWORD},
    "/register": {"email": "new@example.org", "course": "COURSE-A", "password": PASSWORD,
                  "confirm": PASSWORD},
}
SIGNED_IN_FORMS = {
    "/join": {"course": "COURSE-B"},
    "/password": {"current": PASSWORD, "password": "another password 1",
                  "confirm": "another password 1"},
    "/logout": {},
}


@pytest.mark.parametrize("token", [None, "", "forged-token"], ids=["missing", "empty", "forged"])
@pytest.mark.parametrize("path", sorted(ANONYMOUS_FORMS))
def test_anonymous_forms_refuse_posts_without_a_token(app, student_client, path, token) -> None:
    # student_client created alice: with a token, the /login POST would sign her in.
    data = dict(ANONYMOUS_FORMS[path])
    if token is not None:
        data["csrf_token"] = token
    fresh = app.test_client()
    response = fresh.post(path, data=data)
    assert response.status_code == 400, text(response)[:500]
    assert "CSRF" in text(response) or "csrf" in text(response)
    # Nothing happened: not signed in, no account created.
    assert fresh.get("/").status_code == 302
    assert login(app.test_client(), "new@example.org", expect_ok=False).status_code == 200


@pytest.mark.parametrize("token", [None, "forged-token"], ids=["missing", "forged"])
@pytest.mark.parametrize("path", sorted(SIGNED_IN_FORMS))
def test_signed_in_forms_refuse_posts_without_a_token(app, student_client, path, token) -> None:
    client, _ = student_client
    user(app, "carol@example.org", "student", "COURSE-B")
    data = dict(SIGNED_IN_FORMS[path])
    if token is not None:
        data["csrf_token"] = token
    response = client.post(path, data=data)
    assert response.status_code == 400, text(response)[:500]
    # Still signed in, password unchanged, not enrolled in COURSE-B.
    assert client.get("/courses/COURSE-A").status_code == 200
    assert client.get("/courses/COURSE-B").status_code == 404
    assert login(app.test_client(), "alice@example.org").status_code == 302


@pytest.mark.parametrize("token", [None, "forged-token"], ids=["missing", "forged"])
def test_submit_form_refuses_posts_without_a_token(app, student_client, token) -> None:
    client, uid = student_client
    ident = assignment_id(app, "COURSE-A")
    data = {"code": "def backward(t):\n    return {}\n"}
    if token is not None:
        data["csrf_token"] = token
    response = client.post(f"/assignments/{ident}", data=data)
    assert response.status_code == 400
    assert submission_count(app, uid) == 0


def test_a_token_from_another_session_is_refused(app, student_client) -> None:
    """A token is bound to its session: one read by another visitor does not work."""
    client, uid = student_client
    ident = assignment_id(app, "COURSE-A")
    other = app.test_client()
    stolen = csrf_token(other.get("/login").data)
    response = client.post(f"/assignments/{ident}",
                           data={"code": "def backward(t):\n    return {}\n",
                                 "csrf_token": stolen})
    assert response.status_code == 400
    assert submission_count(app, uid) == 0


def test_the_same_forms_work_with_the_token(app, student_client) -> None:
    """Control: with the page's token, the POSTs go through (so the 400s above are CSRF)."""
    client, uid = student_client
    user(app, "carol@example.org", "student", "COURSE-B")
    ident = assignment_id(app, "COURSE-A")
    page = client.get(f"/assignments/{ident}")
    response = client.post(f"/assignments/{ident}",
                           data={"code": "def backward(t):\n    return {}\n",
                                 "csrf_token": csrf_token(page.data)})
    assert response.status_code == 302
    assert submission_count(app, uid) == 1
    page = client.get("/join")
    response = client.post("/join", data={"course": "COURSE-B",
                                          "csrf_token": csrf_token(page.data)})
    assert response.status_code == 302
    assert client.get("/courses/COURSE-B").status_code == 200
    response = client.post("/logout", data={"csrf_token": csrf_token(client.get("/join").data)})
    assert response.status_code == 302
    assert client.get("/").status_code == 302
    assert "/login" in client.get("/").headers["Location"]
