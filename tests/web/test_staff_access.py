"""Access control of every staff route and the staff API (issue 11).

COURSE-A has an instructor (teach-a), a TA (ta-a) and students (alice, bob); COURSE-B its own
instructor (teach-b) and student (carol). Every staff route of COURSE-A is tried by each of
them: anonymous → the sign-in page (the API: 401), a student of the course and another
course's staff → 404 (nothing says the course exists), the TA → read yes, change no (403),
the instructor → allowed. The url_map is enumerated, so a new staff route fails
``test_every_staff_route_is_in_the_table`` until it is added here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from flask import Flask

from tests.web.helpers import assignment_id, csrf_token, login, token, user, wrong_result
from tests.web.helpers import submission as make_submission
from web.db import db
from web.models import Enrolments


@dataclass(frozen=True)
class Route:
    rule: str
    method: str
    path: Callable[[dict], str]
    #: Changes the course: instructors only (a TA gets 403).
    change: bool = False
    data: Callable[[dict], dict] | None = None


A = "/staff/courses/COURSE-A"
ROUTES = [
    Route("/staff/courses/<code>", "GET", lambda w: A),
    Route("/staff/courses/<code>/title", "POST", lambda w: f"{A}/title", True,
          lambda w: {"title": "pwned"}),
    Route("/staff/courses/<code>/join-code", "POST", lambda w: f"{A}/join-code", True),
    Route("/staff/courses/<code>/archive", "POST", lambda w: f"{A}/archive", True),
    Route("/staff/courses/<code>/roster", "GET", lambda w: f"{A}/roster"),
    Route("/staff/courses/<code>/roster/add", "POST", lambda w: f"{A}/roster/add", True,
          lambda w: {"email": "new@example.org"}),
    Route("/staff/courses/<code>/roster/<int:user_id>/remove", "POST",
          lambda w: f"{A}/roster/{w['bob']}/remove", True),
    Route("/staff/courses/<code>/roster/import", "POST", lambda w: f"{A}/roster/import", True,
          lambda w: {"text": "email\nx@example.org\n"}),
    Route("/staff/courses/<code>/roster/apply", "POST", lambda w: f"{A}/roster/apply", True,
          lambda w: {"data": ""}),
    Route("/staff/courses/<code>/assignments", "GET", lambda w: f"{A}/assignments"),
    Route("/staff/courses/<code>/assignments/new", "GET", lambda w: f"{A}/assignments/new",
          True),
    Route("/staff/courses/<code>/assignments/<int:assignment_id>/edit", "GET",
          lambda w: f"{A}/assignments/{w['aid']}/edit", True),
    Route("/staff/courses/<code>/assignments/<int:assignment_id>/remove", "POST",
          lambda w: f"{A}/assignments/{w['aid']}/remove", True),
    Route("/staff/courses/<code>/assignments/<int:assignment_id>/extensions", "GET",
          lambda w: f"{A}/assignments/{w['aid']}/extensions"),
    Route("/staff/courses/<code>/assignments/<int:assignment_id>/extensions/<int:user_id>"
          "/remove", "POST", lambda w: f"{A}/assignments/{w['aid']}/extensions/{w['bob']}/remove"),
    Route("/staff/courses/<code>/assignments/<int:assignment_id>/analytics", "GET",
          lambda w: f"{A}/assignments/{w['aid']}/analytics"),
    Route("/staff/courses/<code>/assignments/<int:assignment_id>/analytics/<table>.csv", "GET",
          lambda w: f"{A}/assignments/{w['aid']}/analytics/tensors.csv"),
    Route("/staff/courses/<code>/grades", "GET", lambda w: f"{A}/grades"),
    Route("/staff/courses/<code>/students/<int:user_id>", "GET",
          lambda w: f"{A}/students/{w['alice']}"),
    Route("/staff/courses/<code>/gradebook.csv", "GET", lambda w: f"{A}/gradebook.csv"),
    Route("/staff/courses/<code>/students/<int:user_id>/reset-link", "POST",
          lambda w: f"{A}/students/{w['alice']}/reset-link", True),
    Route("/api/v1/courses/<code>/submissions", "GET",
          lambda w: "/api/v1/courses/COURSE-A/submissions"),
    # batches and regrades (issue 12)
    Route("/staff/courses/<code>/assignments/<int:assignment_id>", "GET",
          lambda w: f"{A}/assignments/{w['aid']}"),
    Route("/staff/courses/<code>/assignments/<int:assignment_id>/batches", "POST",
          lambda w: f"{A}/assignments/{w['aid']}/batches", True),
    Route("/staff/courses/<code>/batches/<int:batch_id>", "GET",
          lambda w: f"{A}/batches/{w['batch']}"),
    Route("/staff/courses/<code>/batches/<int:batch_id>/progress.json", "GET",
          lambda w: f"{A}/batches/{w['batch']}/progress.json"),
    Route("/staff/courses/<code>/batches/<int:batch_id>/results.csv", "GET",
          lambda w: f"{A}/batches/{w['batch']}/results.csv"),
    Route("/staff/courses/<code>/batches/<int:batch_id>/files/<int:file_id>/assign", "POST",
          lambda w: f"{A}/batches/{w['batch']}/files/{w['batch_file']}/assign", True,
          lambda w: {"email": "bob@example.org"}),
    Route("/staff/courses/<code>/batches/<int:batch_id>/confirm", "POST",
          lambda w: f"{A}/batches/{w['batch']}/confirm", True),
    Route("/staff/courses/<code>/assignments/<int:assignment_id>/regrade", "POST",
          lambda w: f"{A}/assignments/{w['aid']}/regrade", True),
    Route("/staff/courses/<code>/regrades/<int:regrade_id>", "GET",
          lambda w: f"{A}/regrades/{w['regrade']}"),
    Route("/staff/courses/<code>/regrades/<int:regrade_id>/progress.json", "GET",
          lambda w: f"{A}/regrades/{w['regrade']}/progress.json"),
    Route("/staff/courses/<code>/regrades/<int:regrade_id>/<any(apply, discard):decision>",
          "POST", lambda w: f"{A}/regrades/{w['regrade']}/discard", True),
    Route("/api/v1/courses/<code>/batches", "POST",
          lambda w: "/api/v1/courses/COURSE-A/batches", True,
          lambda w: {"exercise": "makemore4/ex2"}),
    Route("/api/v1/courses/<code>/batches/<int:batch_id>", "GET",
          lambda w: f"/api/v1/courses/COURSE-A/batches/{w['batch']}"),
    Route("/api/v1/courses/<code>/batches/<int:batch_id>/results.csv", "GET",
          lambda w: f"/api/v1/courses/COURSE-A/batches/{w['batch']}/results.csv"),
]
#: Staff rules every route table above must cover.
STAFF_RULES = {r.rule for r in ROUTES}


@pytest.fixture
def staff_world(app: Flask, world: dict) -> dict:
    """The world of tests/web/conftest.py plus a TA of COURSE-A and a graded submission."""
    w = dict(world)
    w["ta"] = user(app, "ta-a@example.org", "student", "COURSE-A")
    with app.app_context():
        e = db.session.query(Enrolments).filter_by(user_id=w["ta"]).one()
        e.role = "ta"
        db.session.commit()
    w["aid"] = assignment_id(app, "COURSE-A")
    w["sub"] = make_submission(app, w["alice"], w["aid"], "# alice's code\n",
                               result=wrong_result())
    with app.app_context():
        from web.models import Assignments, Submissions
        from web.services import archive, batches, regrades

        a = db.session.get(Assignments, w["aid"])
        upload = archive.Upload("plain", [archive.UploadFile("who.py", "# alice's code\n",
                                                             None)])
        b = batches.create(a, upload, filename="c.zip", created_by=None)
        w["batch"], w["batch_file"] = b.id, b.files[0].id
        w["regrade"] = regrades.start(a, created_by=None,
                                      submission=db.session.get(Submissions, w["sub"])).id
    return w


def _call(client, route: Route, w: dict, api_token: str | None = None):
    path = route.path(w)
    if path.startswith("/api/"):
        headers = {"Authorization": f"Bearer {api_token}"} if api_token else {}
        if route.method == "POST":
            return client.post(path, headers=headers, data=route.data(w) if route.data else {})
        return client.get(path, headers=headers)
    if route.method == "GET":
        return client.get(path)
    page = client.get("/login") if api_token is None else client.get("/join")
    data = {"csrf_token": csrf_token(page.data), **(route.data(w) if route.data else {})}
    return client.post(path, data=data)


def _signed_in(app: Flask, email: str):
    client = app.test_client()
    login(client, email)
    return client, token(app, email)


def _assert_course_a_unchanged(app: Flask) -> None:
    """Nothing the denied requests sent (a new title, an archive) reached COURSE-A."""
    with app.app_context():
        from web.models import Courses

        course = db.session.query(Courses).filter_by(code="COURSE-A").one()
        assert course.title != "pwned" and course.archived_at is None


def test_every_staff_route_is_in_the_table(app: Flask) -> None:
    rules = {r.rule for r in app.url_map.iter_rules()
             if r.rule.startswith(("/staff/courses/", "/api/v1/courses/"))}
    assert rules == STAFF_RULES, (f"untested: {sorted(rules - STAFF_RULES)}; "
                                  f"stale: {sorted(STAFF_RULES - rules)}")


def test_anonymous_is_sent_to_sign_in(app: Flask, staff_world: dict) -> None:
    client = app.test_client()
    for route in ROUTES:
        response = _call(client, route, staff_world)
        if route.path(staff_world).startswith("/api/"):
            assert response.status_code == 401, route.rule
        elif route.method == "GET":
            assert response.status_code == 302, route.rule
            assert "/login" in response.headers["Location"], route.rule
        else:  # a POST without a session: CSRF refuses it first, or sign-in does
            assert response.status_code in (302, 400), route.rule


@pytest.mark.parametrize("who", ["alice@example.org", "teach-b@example.org",
                                 "carol@example.org"])
def test_students_and_other_courses_staff_get_404(app: Flask, staff_world: dict,
                                                  who: str) -> None:
    client, api_token = _signed_in(app, who)
    for route in ROUTES:
        response = _call(client, route, staff_world, api_token)
        assert response.status_code == 404, (who, route.rule, response.status_code)
        assert b"alice's code" not in response.data
    _assert_course_a_unchanged(app)


def test_a_ta_reads_but_does_not_change(app: Flask, staff_world: dict) -> None:
    client, api_token = _signed_in(app, "ta-a@example.org")
    for route in ROUTES:
        response = _call(client, route, staff_world, api_token)
        if route.change:
            assert response.status_code == 403, (route.rule, response.status_code)
        else:
            assert response.status_code in (200, 302), (route.rule, response.status_code)
    _assert_course_a_unchanged(app)


def test_the_instructor_reads_every_page(app: Flask, staff_world: dict) -> None:
    client, api_token = _signed_in(app, "teach-a@example.org")
    for route in ROUTES:
        if route.method == "GET":
            response = _call(client, route, staff_world, api_token)
            assert response.status_code == 200, (route.rule, response.status_code)


def test_staff_read_submissions_through_the_api(app: Flask, staff_world: dict) -> None:
    w = staff_world
    for who, expected in (("teach-a@example.org", 200), ("ta-a@example.org", 200),
                          ("alice@example.org", 200), ("bob@example.org", 404),
                          ("teach-b@example.org", 404)):
        api_token = token(app, who)
        response = app.test_client().get(f"/api/v1/submissions/{w['sub']}",
                                         headers={"Authorization": f"Bearer {api_token}"})
        assert response.status_code == expected, who
    api_token = token(app, "teach-a@example.org")
    body = app.test_client().get("/api/v1/courses/COURSE-A/submissions?exercise=makemore4/ex2",
                                 headers={"Authorization": f"Bearer {api_token}"}).get_json()
    assert [s["id"] for s in body["submissions"]] == [w["sub"]]
    assert body["submissions"][0]["student"] == "alice@example.org"
    bad = app.test_client().get("/api/v1/courses/COURSE-A/submissions?limit=0",
                                headers={"Authorization": f"Bearer {api_token}"})
    assert bad.status_code == 400 and "limit" in bad.get_json()["error"]


def test_a_session_cookie_does_not_open_the_api(app: Flask, staff_world: dict) -> None:
    client, _ = _signed_in(app, "teach-a@example.org")
    response = client.get("/api/v1/courses/COURSE-A/submissions")
    assert response.status_code == 401
