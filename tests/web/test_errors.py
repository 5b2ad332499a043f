"""Security acceptance 9: friendly 404/500 pages without a stack trace; API errors are JSON."""

from __future__ import annotations

import logging

import pytest

from tests.web.helpers import text, token, user, visible_text
from web import ERRORS

BOOM = "kaboom-internal-detail-7f3a"
LEAKS = ("Traceback", "File \"", BOOM, "RuntimeError", "sqlalchemy", "werkzeug", "/work/",
         ".py\"", "line ")


def _assert_friendly(response, code: int) -> str:
    assert response.status_code == code
    assert response.mimetype == "text/html"
    body = text(response)
    assert f"<h1>{code} · " in body
    assert ERRORS[code] in visible_text(body)
    for leak in LEAKS:
        assert leak not in body, f"{code} page shows {leak!r}"
    assert 'href="/"' in body  # a way back
    return body


@pytest.mark.parametrize("url", ["/no-such-page", "/submissions/424242",
                                 "/courses/NO-SUCH-COURSE", "/assignments/424242",
                                 "/assignments/424242/history",
                                 "/submissions/424242/heatmap/logits.png"])
def test_404_is_the_friendly_page(student_client, url) -> None:
    client, _ = student_client
    _assert_friendly(client.get(url), 404)


def test_404_for_anonymous_visitors_too(client) -> None:
    _assert_friendly(client.get("/no-such-page"), 404)


def test_405_is_a_page_not_a_trace(client) -> None:
    response = client.delete("/login")
    assert response.status_code == 405
    assert response.mimetype == "text/html"
    for leak in LEAKS:
        assert leak not in text(response)


def test_500_is_the_friendly_page_and_is_logged(app, student_client, monkeypatch,
                                                caplog) -> None:
    client, _ = student_client

    def broken(*_a, **_k):
        raise RuntimeError(BOOM)

    monkeypatch.setattr("web.views.dashboard.quota", broken)
    with caplog.at_level(logging.ERROR):
        response = client.get("/courses/COURSE-A")
    body = _assert_friendly(response, 500)
    assert "Your work is safe" in body
    assert any(BOOM in (r.exc_text or "") or (r.exc_info and BOOM in str(r.exc_info[1]))
               for r in caplog.records), "the error is logged for the operators"


def test_api_500_is_json_without_a_trace(app, monkeypatch) -> None:
    client = app.test_client()

    def broken(*_a, **_k):
        raise RuntimeError(BOOM)

    monkeypatch.setattr("web.api.v1.exercises.catalog", broken)
    response = client.get("/api/v1/exercises")
    assert response.status_code == 500
    assert response.is_json
    assert response.get_json() == {"error": ERRORS[500]}
    for leak in LEAKS:
        assert leak not in text(response)


def test_api_500_inside_an_authenticated_route_is_json(app, monkeypatch) -> None:
    user(app, "alice@example.org")
    client = app.test_client()

    def broken(*_a, **_k):
        raise RuntimeError(BOOM)

    monkeypatch.setattr("web.api.v1.submissions.create_submission", broken)
    monkeypatch.setattr("web.api.v1.submissions.submit_for", broken)
    response = client.post("/api/v1/submissions",
                           headers={"Authorization": f"Bearer {token(app, 'alice@example.org')}"},
                           json={"exercise": "makemore4/ex2", "code": "x"})
    assert response.status_code == 500
    assert response.get_json() == {"error": ERRORS[500]}
    assert BOOM not in text(response)


@pytest.mark.parametrize("method,url,status", [
    ("GET", "/api/v1/nope", 404), ("GET", "/api/v1/submissions/1", 401),
    ("PATCH", "/api/v1/exercises", 405), ("GET", "/api/v1/submissions/x", 404),
])
def test_api_errors_are_json_never_html(client, method, url, status) -> None:
    response = client.open(url, method=method)
    assert response.status_code == status
    assert response.is_json
    assert set(response.get_json()) == {"error"}
    assert "<html" not in text(response).lower()


def test_anonymous_visitors_are_sent_to_sign_in(client) -> None:
    for url in ("/", "/courses/COURSE-A", "/assignments/1", "/submissions/1",
                "/submissions/1/status.json", "/submissions/diff?a=1&other=2", "/join",
                "/password"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/login"), url


@pytest.mark.parametrize("url", [f"/submissions/{2**64}", f"/submissions/{2**64}/status.json",
                                 f"/assignments/{2**64}", f"/assignments/{2**64}/history",
                                 f"/submissions/diff?a={2**64}&other=1"])
def test_an_id_beyond_the_integer_range_is_a_404_page(student_client, url) -> None:
    client, _ = student_client
    _assert_friendly(client.get(url), 404)
