"""Security acceptance 4: security headers on pages and API, no inline script anywhere, and a
session cookie that is HttpOnly and SameSite=Lax."""

from __future__ import annotations

import io
from http.cookies import SimpleCookie

import pytest

from tests.web.helpers import (
    EX2_CORRECT,
    assignment_id,
    csrf_token,
    enrol_user,
    login,
    parse,
    submission,
    text,
    token,
    user,
    wrong_result,
)


def _csp(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no CSP on {response.request.path}"
    out = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            out[words[0].lower()] = words[1:]
    return out


def assert_secure_headers(response) -> None:
    """CSP without inline/eval script, no framing, nosniff."""
    where = f"{response.request.method} {response.request.path} → {response.status_code}"
    csp = _csp(response)
    script = csp.get("script-src", csp.get("default-src"))
    assert script is not None, where
    assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script, where
    assert "*" not in script and "data:" not in script, where
    assert csp.get("frame-ancestors") == ["'none'"], where
    assert csp.get("object-src") == ["'none'"], where
    assert response.headers.get("X-Content-Type-Options") == "nosniff", where
    assert response.headers.get("X-Frame-Options") == "DENY", where


def assert_no_inline_script(response) -> None:
    """Every <script> has a same-origin src and no body; no on* handlers, no javascript: URLs."""
    where = f"{response.request.path} → {response.status_code}"
    body = text(response)
    page = parse(body)
    for script in page.scripts:
        src = script["attrs"].get("src")
        assert src, f"inline <script> in {where}: {script['body'][:200]!r}"
        assert src.startswith("/static/"), f"{where}: script from {src}"
        assert not script["body"].strip(), f"{where}: <script src> with a body"
    assert not page.event_handlers, f"{where}: inline event handlers {page.event_handlers}"
    assert "javascript:" not in body.lower(), where


@pytest.fixture
def pages(app, student_client):
    """Sign alice in and give her one graded, one queued submission; return the page URLs."""
    client, uid = student_client
    enrol_user(app, uid, "COURSE-B")  # two courses: "/" lists them instead of redirecting
    ident = assignment_id(app, "COURSE-A")
    done = submission(app, uid, ident, "# first\n" + EX2_CORRECT, result=wrong_result())
    queued = submission(app, uid, ident, "# second\n" + EX2_CORRECT)
    return client, [
        "/", "/courses/COURSE-A", f"/assignments/{ident}", f"/assignments/{ident}/history",
        f"/submissions/{done}", f"/submissions/{queued}",
        f"/submissions/diff?a={done}&other={queued}", "/join", "/password",
        "/courses/NOPE", "/submissions/diff", "/no-such-page",
    ], (done, queued)


def test_every_page_has_the_headers_and_no_inline_script(app, pages) -> None:
    client, urls, (done, queued) = pages
    assert client.get("/").status_code == 200  # two courses: the list, not a redirect
    seen_status = set()
    for url in urls:
        response = client.get(url, follow_redirects=True)
        seen_status.add(response.status_code)
        assert response.mimetype == "text/html", url
        assert_secure_headers(response)
        assert_no_inline_script(response)
    assert {200, 400, 404} <= seen_status
    # The live-status page really loads its script from a file, and polls a JSON URL.
    live = client.get(f"/submissions/{queued}")
    assert any(s["attrs"].get("src") == "/static/app.js" for s in parse(live.data).scripts)
    assert f"/submissions/{queued}/status.json" in text(live)
    for url in (f"/submissions/{queued}/status.json", f"/submissions/{done}/heatmap/logits.png",
                "/static/app.js", "/static/style.css", "/static/editor.js", "/healthz"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_secure_headers(response)
        response.close()


def test_anonymous_pages_and_error_pages(app, client) -> None:
    user(app, "alice@example.org")
    for url in ("/login", "/register", "/nope"):
        response = client.get(url)
        assert_secure_headers(response)
        assert_no_inline_script(response)
    # A form page re-rendered with errors, a CSRF failure, a too-large body, a rate limit.
    page = client.get("/login")
    responses = [
        client.post("/login", data={"email": "bad", "password": "",
                                    "csrf_token": csrf_token(page.data)}),
        client.post("/login", data={"email": "alice@example.org", "password": "x"}),
        client.post("/login", data={"csrf_token": csrf_token(page.data),
                                    "email": "x" * (1024 * 1024 + 1)}),
    ]
    for _ in range(12):
        responses.append(client.post("/login", data={"email": "alice@example.org",
                                                     "password": "wrong",
                                                     "csrf_token": csrf_token(page.data)}))
    assert {r.status_code for r in responses} >= {200, 400, 413, 429}
    for response in responses:
        assert_secure_headers(response)
        assert_no_inline_script(response)


def test_the_upload_form_error_page_has_no_inline_script(app, student_client) -> None:
    client, _ = student_client
    url = f"/assignments/{assignment_id(app, 'COURSE-A')}"
    page = client.get(url)
    response = client.post(url, data={"csrf_token": csrf_token(page.data),
                                      "upload": (io.BytesIO(b"<script>alert(1)</script>"),
                                                 "x.txt")},
                           content_type="multipart/form-data")
    assert response.status_code == 200
    assert_secure_headers(response)
    assert_no_inline_script(response)


def test_code_is_escaped_not_executed(app, student_client) -> None:
    """A submission containing markup shows as text in the diff, never as a script."""
    client, uid = student_client
    ident = assignment_id(app, "COURSE-A")
    a = submission(app, uid, ident, "# <script>alert(1)</script>\n" + EX2_CORRECT)
    b = submission(app, uid, ident, "# <img src=x onerror=alert(1)>\n" + EX2_CORRECT)
    response = client.get(f"/submissions/diff?a={a}&other={b}")
    assert response.status_code == 200
    assert_no_inline_script(response)
    assert "&lt;script&gt;" in text(response)


def test_api_responses_have_the_headers(app, client) -> None:
    user(app, "alice@example.org")
    good = {"Authorization": f"Bearer {token(app, 'alice@example.org')}"}
    responses = [
        client.get("/api/v1/exercises"),
        client.get("/api/v1/openapi.json"),
        client.get("/api/v1/submissions/1"),
        client.get("/api/v1/submissions/1", headers={"Authorization": "Bearer nope"}),
        client.get("/api/v1/submissions/1", headers=good),
        client.post("/api/v1/submissions", headers=good, data="{", content_type="application/json"),
        client.post("/api/v1/submissions", headers=good,
                    json={"exercise": "makemore4/ex2", "code": EX2_CORRECT}),
        client.get("/api/v1/nope", headers=good),
    ]
    assert {r.status_code for r in responses} == {200, 202, 400, 401, 404}
    for response in responses:
        assert response.is_json, response.request.path
        assert_secure_headers(response)


def _session_cookie(response) -> SimpleCookie:
    for header in response.headers.getlist("Set-Cookie"):
        cookie = SimpleCookie()
        cookie.load(header)
        if "session" in cookie:
            return cookie["session"], header
    raise AssertionError("no session cookie set")


def test_the_session_cookie_is_httponly_and_samesite_lax(app, client) -> None:
    user(app, "alice@example.org")
    response = login(client, "alice@example.org")
    cookie, header = _session_cookie(response)
    assert cookie["httponly"] is True, header
    assert cookie["samesite"].lower() == "lax", header
    assert not any(h.lower().startswith("remember_token")
                   for h in response.headers.getlist("Set-Cookie"))
    # The cookie set for an anonymous visitor's CSRF token is protected the same way.
    anon = app.test_client().get("/login")
    cookie, header = _session_cookie(anon)
    assert cookie["httponly"] is True and cookie["samesite"].lower() == "lax", header
