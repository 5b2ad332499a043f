"""Security acceptance 3, 5, 6: body and code size limits, the login rate limit, and the
submission cap and interval, shown on the page and enforced by the form and the API."""

from __future__ import annotations

import io
import re

import pytest

from tests.web.helpers import (
    EX2_CORRECT,
    PASSWORD,
    assignment_id,
    csrf_token,
    login,
    parse,
    set_assignment,
    submission_count,
    text,
    token,
    user,
    visible_text,
)

MIB = 1024 * 1024


def _bearer(app, email: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(app, email)}"}


# -- 3. sizes ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/login", "/register", "/assignments/{a}"])
def test_a_body_over_1_mib_is_refused_with_a_clear_page(app, student_client, path) -> None:
    client, uid = student_client
    url = path.format(a=assignment_id(app, "COURSE-A"))
    page = client.get(url)
    response = client.post(url, data={"csrf_token": csrf_token(page.data),
                                      "code": "x" * (MIB + 10)})
    assert response.status_code == 413
    assert response.mimetype == "text/html"
    body = visible_text(text(response))
    assert "too large" in body.lower()
    assert "Traceback" not in body
    assert submission_count(app, uid) == 0


def test_a_file_upload_over_1_mib_is_refused(app, student_client) -> None:
    client, uid = student_client
    url = f"/assignments/{assignment_id(app, 'COURSE-A')}"
    page = client.get(url)
    response = client.post(url, data={"csrf_token": csrf_token(page.data),
                                      "upload": (io.BytesIO(b"#" * (2 * MIB)), "big.py")},
                           content_type="multipart/form-data")
    assert response.status_code == 413
    assert "too large" in text(response).lower()
    assert submission_count(app, uid) == 0


def test_an_uploaded_file_over_the_code_limit_is_refused_in_kib(app, student_client) -> None:
    client, uid = student_client
    url = f"/assignments/{assignment_id(app, 'COURSE-A')}"
    page = client.get(url)
    response = client.post(url, data={"csrf_token": csrf_token(page.data),
                                      "upload": (io.BytesIO(b"#" * (300 * 1024)), "big.py")},
                           content_type="multipart/form-data")
    assert response.status_code == 413
    assert "256 KiB" in visible_text(text(response))
    assert submission_count(app, uid) == 0


def test_a_body_over_1_mib_to_the_api_is_a_json_413(app) -> None:
    user(app, "alice@example.org")
    client = app.test_client()
    response = client.post("/api/v1/submissions", headers=_bearer(app, "alice@example.org"),
                           json={"exercise": "makemore4/ex2", "code": "#" * (MIB + 10)})
    assert response.status_code == 413
    assert response.is_json and isinstance(response.json["error"], str)
    assert response.json["error"]


def test_300_kib_of_code_via_the_api_is_a_json_413_in_kib(app) -> None:
    uid = user(app, "alice@example.org")
    client = app.test_client()
    response = client.post("/api/v1/submissions", headers=_bearer(app, "alice@example.org"),
                           json={"exercise": "makemore4/ex2",
                                 "code": "#" * (300 * 1024) + "\n" + EX2_CORRECT})
    assert response.status_code == 413
    assert response.is_json
    assert "KiB" in response.json["error"]
    assert "256" in response.json["error"]
    assert submission_count(app, uid) == 0


def test_the_413_message_names_the_limit(app, student_client) -> None:
    client, _ = student_client
    url = f"/assignments/{assignment_id(app, 'COURSE-A')}"
    page = client.get(url)
    response = client.post(url, data={"csrf_token": csrf_token(page.data),
                                      "code": "x" * (MIB + 10)})
    assert response.status_code == 413
    assert re.search(r"1 MiB|1024 KiB", visible_text(text(response)))
    api = app.test_client().post("/api/v1/submissions",
                                 headers=_bearer(app, "alice@example.org"),
                                 json={"exercise": "makemore4/ex2", "code": "#" * (MIB + 10)})
    assert re.search(r"1 MiB|1024 KiB", api.json["error"])


@pytest.mark.parametrize("filename", ["solution.txt", "solution.py.exe", "solution", ".pyc"])
def test_an_upload_that_is_not_python_is_a_form_error(app, student_client, filename) -> None:
    client, uid = student_client
    url = f"/assignments/{assignment_id(app, 'COURSE-A')}"
    page = client.get(url)
    response = client.post(url, data={"csrf_token": csrf_token(page.data),
                                      "upload": (io.BytesIO(EX2_CORRECT.encode()), filename)},
                           content_type="multipart/form-data")
    assert response.status_code == 200
    assert "Upload a Python file (.py)." in text(response)
    assert submission_count(app, uid) == 0


def test_a_python_upload_is_accepted(app, student_client) -> None:
    """Control for the form errors above."""
    client, uid = student_client
    url = f"/assignments/{assignment_id(app, 'COURSE-A')}"
    page = client.get(url)
    response = client.post(url, data={"csrf_token": csrf_token(page.data),
                                      "upload": (io.BytesIO(EX2_CORRECT.encode()), "mine.py")},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    assert submission_count(app, uid) == 1


# -- 5. login rate limit ---------------------------------------------------------------------

def test_the_11th_login_post_within_a_minute_is_429(make_app) -> None:
    app = make_app()  # a fresh app: fresh in-memory limiter storage
    user(app, "alice@example.org")
    client = app.test_client()
    for attempt in range(10):
        response = login(client, "alice@example.org", "wrong password", expect_ok=False)
        assert response.status_code == 200, f"attempt {attempt + 1}"
        assert "Wrong e-mail or password." in text(response)
    page = client.get("/login")
    assert page.status_code == 200  # GET is not limited
    response = client.post("/login", data={"email": "alice@example.org", "password": PASSWORD,
                                           "csrf_token": csrf_token(page.data)})
    assert response.status_code == 429
    body = visible_text(text(response))
    assert "Too many sign-in attempts" in body and "wait a minute" in body
    assert "Retry-After" in response.headers or "X-RateLimit-Reset" in response.headers
    # Even the right password is refused while limited: no session cookie is issued.
    assert client.get("/").status_code == 302


# -- 6. the submission cap and interval --------------------------------------------------------

def test_the_exercise_page_shows_the_quota(app, student_client) -> None:
    client, _ = student_client
    ident = assignment_id(app, "COURSE-A")
    body = visible_text(text(client.get(f"/assignments/{ident}")))
    assert "0 of 20 submissions used" in body
    assert "0 of 20 submissions used" in visible_text(text(client.get("/courses/COURSE-A")))


def test_the_form_refuses_a_second_submission_within_10_s(app, student_client) -> None:
    client, uid = student_client
    url = f"/assignments/{assignment_id(app, 'COURSE-A')}"
    page = client.get(url)
    first = client.post(url, data={"csrf_token": csrf_token(page.data), "code": EX2_CORRECT})
    assert first.status_code == 302
    page = client.get(url)
    body = visible_text(text(page))
    assert re.search(r"1 of 20 submissions used; next in (10|9) s", body), body
    submit = [b for b in re.findall(r"<button[^>]*>Submit for grading", text(page))]
    assert submit and "disabled" in submit[0]
    second = client.post(url, data={"csrf_token": csrf_token(page.data), "code": EX2_CORRECT},
                         follow_redirects=True)
    assert second.status_code == 200
    assert re.search(r"Not submitted: 1 of 20 submissions used; next in \d+ s",
                     visible_text(text(second)))
    assert submission_count(app, uid) == 1


def test_the_form_refuses_beyond_the_cap(app, student_client) -> None:
    client, uid = student_client
    ident = assignment_id(app, "COURSE-A")
    set_assignment(app, ident, max_submissions=2, min_interval_seconds=0)
    url = f"/assignments/{ident}"
    for _ in range(2):
        page = client.get(url)
        assert client.post(url, data={"csrf_token": csrf_token(page.data),
                                      "code": EX2_CORRECT}).status_code == 302
    page = client.get(url)
    assert "2 of 2 submissions used; no submissions left" in visible_text(text(page))
    refused = client.post(url, data={"csrf_token": csrf_token(page.data), "code": EX2_CORRECT},
                          follow_redirects=True)
    assert "no submissions left" in visible_text(text(refused))
    assert submission_count(app, uid) == 2


def test_the_api_answers_429_with_retry_after(app) -> None:
    uid = user(app, "alice@example.org")
    client = app.test_client()
    headers = _bearer(app, "alice@example.org")
    first = client.post("/api/v1/submissions", headers=headers,
                        json={"exercise": "makemore4/ex2", "code": EX2_CORRECT})
    assert first.status_code == 202
    second = client.post("/api/v1/submissions", headers=headers,
                         json={"exercise": "makemore4/ex2", "code": EX2_CORRECT})
    assert second.status_code == 429
    assert second.is_json
    assert re.search(r"next in \d+ s", second.json["error"])
    assert int(second.headers["Retry-After"]) >= 1
    assert submission_count(app, uid) == 1


def test_the_api_retry_after_matches_the_wait_in_the_message(app) -> None:
    user(app, "alice@example.org")
    client = app.test_client()
    headers = _bearer(app, "alice@example.org")
    body = {"exercise": "makemore4/ex2", "code": EX2_CORRECT}
    assert client.post("/api/v1/submissions", headers=headers, json=body).status_code == 202
    second = client.post("/api/v1/submissions", headers=headers, json=body)
    assert second.status_code == 429
    wait = int(re.search(r"next in (\d+) s", second.json["error"]).group(1))
    assert 1 <= wait <= 10
    assert int(second.headers["Retry-After"]) == wait


def test_the_api_answers_429_beyond_the_cap(app) -> None:
    user(app, "alice@example.org")
    ident = assignment_id(app, "COURSE-A")
    set_assignment(app, ident, max_submissions=1, min_interval_seconds=0)
    client = app.test_client()
    headers = _bearer(app, "alice@example.org")
    body = {"exercise": "makemore4/ex2", "code": EX2_CORRECT}
    assert client.post("/api/v1/submissions", headers=headers, json=body).status_code == 202
    refused = client.post("/api/v1/submissions", headers=headers, json=body)
    assert refused.status_code == 429
    assert "no submissions left" in refused.json["error"]


def test_the_quota_is_per_student(app) -> None:
    """Bob's submission does not use Alice's quota (the count is per user)."""
    user(app, "alice@example.org")
    user(app, "bob@example.org")
    client = app.test_client()
    body = {"exercise": "makemore4/ex2", "code": EX2_CORRECT}
    assert client.post("/api/v1/submissions", headers=_bearer(app, "bob@example.org"),
                       json=body).status_code == 202
    alice = app.test_client()
    login(alice, "alice@example.org")
    page = alice.get(f"/assignments/{assignment_id(app, 'COURSE-A')}")
    assert "0 of 20 submissions used" in visible_text(text(page))
    assert not [f for f in parse(page.data).forms if f.get("action", "").startswith("http")]
