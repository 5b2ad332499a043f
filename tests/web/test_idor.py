"""Security acceptance 2: no route hands out another student's rows (IDOR).

Alice and Bob study COURSE-A, Carol COURSE-B. Every route that takes an id is tried by the
wrong people with the victim's ids: the answer is 403 or 404 and the victim's code (a unique
marker) never appears in the body. The app's url_map is enumerated, so a new route with a
converter fails ``test_every_route_with_an_id_is_covered`` until it is added here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask

from tests.web.helpers import (
    assignment_id,
    csrf_token,
    login,
    secret_code,
    submission,
    submission_count,
    text,
    token,
    wrong_result,
)

DENIED = (403, 404)

#: Routes that take an id in their path: rule → how it is exercised below.
COVERED_RULES = {
    "/submissions/<int:submission_id>",
    "/submissions/<int:submission_id>/status.json",
    "/submissions/<int:submission_id>/results.json",
    "/submissions/<int:submission_id>/heatmap/<name>.png",
    "/submissions/<int:submission_id>/code.py",
    "/assignments/<int:assignment_id>/starter.py",
    "/assignments/<int:assignment_id>",
    "/assignments/<int:assignment_id>/history",
    "/courses/<code>",
    "/courses/<code>/assignments/<int:assignment_id>/scoring",
    "/api/v1/submissions/<int:submission_id>",
    "/account/tokens/<int:token_id>/revoke",
}
#: Routes that take ids in the query string, checked too.
QUERY_ID_RULES = {"/submissions/diff"}
#: Public by design: the bundled CSS/JS, and a password-reset link (the token is the key;
#: tests/web/test_accounts_pages.py tests it).
PUBLIC_RULES = {"/static/<path:filename>", "/reset/<token>"}


@dataclass
class Victim:
    """A victim's rows: two graded submissions with heatmaps, the assignment, the course."""

    email: str
    user_id: int
    course: str
    assignment: int
    subs: list[int]
    markers: list[str]


@pytest.fixture
def victims(app: Flask, world: dict[str, int]) -> dict[str, Victim]:
    """Give alice (COURSE-A) and carol (COURSE-B) two graded submissions each, bob one."""
    out = {}
    for name, course in (("alice", "COURSE-A"), ("carol", "COURSE-B"), ("bob", "COURSE-A")):
        ident = assignment_id(app, course)
        subs, markers = [], []
        for _ in range(2 if name != "bob" else 1):
            code, marker = secret_code(name)
            subs.append(submission(app, world[name], ident, code, result=wrong_result()))
            markers.append(marker)
        out[name] = Victim(f"{name}@example.org", world[name], course, ident, subs, markers)
    return out


def _signed_in(app: Flask, email: str):
    client = app.test_client()
    login(client, email)
    return client


def _requests(v: Victim, own_sub: int) -> list[tuple[str, str, Callable[[Any], Any]]]:
    """Return (rule, description, call) for every id-taking route, aimed at victim ``v``."""
    a, b = v.subs[0], v.subs[-1]
    return [
        ("/submissions/<int:submission_id>", f"GET /submissions/{a}",
         lambda c: c.get(f"/submissions/{a}")),
        ("/submissions/<int:submission_id>/status.json", f"GET /submissions/{a}/status.json",
         lambda c: c.get(f"/submissions/{a}/status.json")),
        ("/submissions/<int:submission_id>/results.json", f"GET /submissions/{a}/results.json",
         lambda c: c.get(f"/submissions/{a}/results.json")),
        ("/submissions/<int:submission_id>/heatmap/<name>.png",
         f"GET /submissions/{a}/heatmap/logits.png",
         lambda c: c.get(f"/submissions/{a}/heatmap/logits.png")),
        ("/submissions/<int:submission_id>/code.py", f"GET /submissions/{a}/code.py",
         lambda c: c.get(f"/submissions/{a}/code.py")),
        ("/assignments/<int:assignment_id>", f"GET /assignments/ID?from={a} (edit their code)",
         lambda c: c.get(f"/assignments/{v.assignment}?from={a}")),
        ("/submissions/diff", f"GET /submissions/diff?a={a}&other={b}",
         lambda c: c.get(f"/submissions/diff?a={a}&other={b}")),
        ("/submissions/diff", f"GET /submissions/diff?a={own_sub}&other={a} (mine vs theirs)",
         lambda c: c.get(f"/submissions/diff?a={own_sub}&other={a}")),
        ("/submissions/diff", f"GET /submissions/diff?a={a}&other={own_sub} (theirs vs mine)",
         lambda c: c.get(f"/submissions/diff?a={a}&other={own_sub}")),
        ("/api/v1/submissions/<int:submission_id>", f"GET /api/v1/submissions/{a}",
         lambda c: c.get(f"/api/v1/submissions/{a}",
                         headers={"Authorization": f"Bearer {c.api_token}"})),
        ("/account/tokens/<int:token_id>/revoke", "POST /account/tokens/ID/revoke (theirs)",
         lambda c: _revoke_victims_token(c, v)),
    ]


def _revoke_victims_token(client, v: Victim):
    """Revoke a token of the victim's: refused (it keeps working) unless it is one's own."""
    from web.db import db
    from web.models import ApiTokens, Users

    secret = token(client.application, v.email)
    with client.application.app_context():
        token_id = db.session.query(ApiTokens.id).join(Users).filter(
            Users.email == v.email).order_by(ApiTokens.id.desc()).first()[0]
    response = client.post(f"/account/tokens/{token_id}/revoke",
                           data={"csrf_token": csrf_token(client.get("/account").data)},
                           follow_redirects=True)
    still = client.application.test_client().get(
        f"/api/v1/submissions/{v.subs[0]}", headers={"Authorization": f"Bearer {secret}"})
    assert still.status_code == (200 if response.status_code in DENIED else 401)
    return response


def _course_requests(v: Victim) -> list[tuple[str, str, Callable[[Any], Any]]]:
    """Return the routes keyed by the victim's course and assignment."""
    return [
        ("/assignments/<int:assignment_id>", f"GET /assignments/{v.assignment}",
         lambda c: c.get(f"/assignments/{v.assignment}")),
        ("/assignments/<int:assignment_id>/history", f"GET /assignments/{v.assignment}/history",
         lambda c: c.get(f"/assignments/{v.assignment}/history")),
        ("/assignments/<int:assignment_id>/starter.py",
         f"GET /assignments/{v.assignment}/starter.py",
         lambda c: c.get(f"/assignments/{v.assignment}/starter.py")),
        ("/courses/<code>", f"GET /courses/{v.course}", lambda c: c.get(f"/courses/{v.course}")),
    ]


def _instructor_requests(v: Victim) -> list[tuple[str, str, Callable[[Any], Any]]]:
    """Return the routes only a course's instructor may use (with a valid CSRF token)."""
    def post(c):
        token_ = csrf_token(c.get("/password").data)
        return c.post(f"/courses/{v.course}/assignments/{v.assignment}/scoring",
                      data={f"a{v.assignment}-scoring": "carry_forward",
                            f"a{v.assignment}-csrf_token": token_, "csrf_token": token_})
    return [("/courses/<code>/assignments/<int:assignment_id>/scoring",
             f"POST /courses/{v.course}/assignments/{v.assignment}/scoring", post)]


def _attacker(app: Flask, email: str):
    client = _signed_in(app, email)
    client.api_token = token(app, email)
    return client


def _assert_denied(response, what: str, v: Victim) -> None:
    body = text(response) if response.mimetype != "image/png" else ""
    assert response.status_code in DENIED, f"{what}: {response.status_code}"
    for marker in v.markers:
        assert marker not in body, f"{what} leaked the victim's code"
    assert "SECRET stdout" not in body, f"{what} leaked the victim's output"


def _assert_no_leak(response, what: str, v: Victim) -> None:
    body = text(response) if response.mimetype != "image/png" else ""
    for marker in v.markers:
        assert marker not in body, f"{what} leaked the victim's code"
    for sub in v.subs:
        assert f"/submissions/{sub}\"" not in body, f"{what} links the victim's submission"
        assert f"#{sub}<" not in body, f"{what} lists the victim's submission"


def test_every_route_with_an_id_is_covered(app: Flask) -> None:
    with_ids = {r.rule for r in app.url_map.iter_rules() if r.arguments}
    from tests.web.test_staff_access import STAFF_RULES  # staff routes: tested there

    missing = with_ids - COVERED_RULES - PUBLIC_RULES - STAFF_RULES
    assert not missing, (f"routes taking ids without an IDOR test: {sorted(missing)}; add them "
                         "to tests/web/test_idor.py")
    stale = COVERED_RULES - with_ids
    assert not stale, f"covered rules that no longer exist: {sorted(stale)}"
    rules = {r.rule for r in app.url_map.iter_rules()}
    assert rules >= QUERY_ID_RULES
    # And every covered rule is really exercised by the requests below.
    v = Victim("x", 1, "C", 1, [1, 2], ["m"])
    exercised = {rule for rule, _, _ in
                 _requests(v, 3) + _course_requests(v) + _instructor_requests(v)}
    assert exercised == COVERED_RULES | QUERY_ID_RULES


@pytest.mark.parametrize("student", ["alice", "bob", "carol"])
def test_students_cannot_change_an_assignments_scoring(app, victims, student) -> None:
    v = victims["alice"]
    client = _attacker(app, f"{student}@example.org")
    for _, what, call in _instructor_requests(v):
        _assert_denied(call(client), f"{student}: {what}", v)
    with app.app_context():
        from web.db import db
        from web.models import Assignments
        assert db.session.get(Assignments, v.assignment).scoring == "strict"


@pytest.mark.parametrize("attacker,victim", [("bob", "alice"), ("carol", "alice"),
                                             ("alice", "carol")],
                         ids=["same-course", "other-course", "other-course-reverse"])
def test_students_cannot_reach_other_students_submissions(app, victims, attacker,
                                                          victim) -> None:
    v = victims[victim]
    own = victims[attacker].subs[0]
    client = _attacker(app, f"{attacker}@example.org")
    for _, what, call in _requests(v, own):
        _assert_denied(call(client), f"{attacker} → {victim}: {what}", v)


def test_students_cannot_reach_another_courses_assignments(app, victims) -> None:
    v = victims["alice"]
    client = _attacker(app, "carol@example.org")
    for _, what, call in _course_requests(v):
        _assert_denied(call(client), f"carol → COURSE-A: {what}", v)
    # Submitting to another course's assignment is refused, nothing is stored.
    page = client.get(f"/assignments/{victims['carol'].assignment}")
    before = submission_count(app, v.user_id), submission_count(app, victims["carol"].user_id)
    response = client.post(f"/assignments/{v.assignment}",
                           data={"code": "def backward(t):\n    return {}\n",
                                 "csrf_token": csrf_token(page.data)})
    assert response.status_code in DENIED
    after = submission_count(app, v.user_id), submission_count(app, victims["carol"].user_id)
    assert before == after


def test_course_mates_share_assignments_but_not_code(app, victims) -> None:
    """Bob may open COURSE-A and its assignment, yet sees none of Alice's work there."""
    v = victims["alice"]
    client = _attacker(app, "bob@example.org")
    for _, what, call in _course_requests(v):
        response = call(client)
        assert response.status_code in (200, *DENIED), what
        _assert_no_leak(response, f"bob → alice: {what}", v)


def test_owners_see_their_own_submissions(app, victims) -> None:
    """Control for the denials above: the same requests succeed for the owner."""
    v = victims["alice"]
    client = _attacker(app, "alice@example.org")
    for _, what, call in _requests(v, v.subs[1]) + _course_requests(v):
        response = call(client)
        assert response.status_code == 200, f"alice → own: {what}"
    assert v.markers[0] in text(client.get(f"/submissions/diff?a={v.subs[0]}&other={v.subs[1]}"))
    png = client.get(f"/submissions/{v.subs[0]}/heatmap/logits.png")
    assert png.mimetype == "image/png" and png.data.startswith(b"\x89PNG")


def test_instructors_see_their_courses_submissions_only(app, victims) -> None:
    teacher = _signed_in(app, "teach-a@example.org")
    alice, carol = victims["alice"], victims["carol"]
    a, b = alice.subs
    for url in (f"/submissions/{a}", f"/submissions/{a}/status.json",
                f"/submissions/{a}/heatmap/logits.png", f"/submissions/diff?a={a}&other={b}",
                f"/submissions/{victims['bob'].subs[0]}"):
        assert teacher.get(url).status_code == 200, url
    assert alice.markers[0] in text(teacher.get(f"/submissions/diff?a={a}&other={b}"))
    c, d = carol.subs
    for url in (f"/submissions/{c}", f"/submissions/{c}/status.json",
                f"/submissions/{c}/heatmap/logits.png", f"/submissions/diff?a={c}&other={d}",
                f"/submissions/diff?a={a}&other={c}", f"/courses/{carol.course}",
                f"/assignments/{carol.assignment}", f"/assignments/{carol.assignment}/history"):
        response = teacher.get(url)
        _assert_denied(response, f"teacher A → course B: {url}", carol)
    api = teacher.get(f"/api/v1/submissions/{c}",
                      headers={"Authorization": f"Bearer {token(app, 'teach-a@example.org')}"})
    _assert_denied(api, "teacher A → course B via the API", carol)


def test_unknown_ids_answer_like_forbidden_ones(app, victims) -> None:
    """A row one may not see answers exactly like a row that does not exist."""
    client = _attacker(app, "bob@example.org")
    hidden = client.get(f"/submissions/{victims['alice'].subs[0]}")
    missing = client.get("/submissions/999999")
    assert hidden.status_code == missing.status_code
    assert text(hidden) == text(missing)
    api_hidden = client.get(f"/api/v1/submissions/{victims['alice'].subs[0]}",
                            headers={"Authorization": f"Bearer {client.api_token}"})
    api_missing = client.get("/api/v1/submissions/999999",
                             headers={"Authorization": f"Bearer {client.api_token}"})
    assert api_hidden.status_code == api_missing.status_code == 404
