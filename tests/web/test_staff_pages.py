"""The staff pages doing their work: create a course, regenerate its join code, add and
edit an assignment in the viewer's time zone, grant an extension, archive (read-only)."""

from __future__ import annotations

import datetime as dt

from flask import Flask

from tests.web.helpers import PASSWORD, csrf_token, login
from web.db import db
from web.models import Assignments, Courses, Extensions


def _post(client, url: str, data: dict, page: str | None = None):
    token = csrf_token(client.get(page or url).data)
    return client.post(url, data={"csrf_token": token, **data})


def _course(app: Flask, code: str) -> Courses:
    with app.app_context():
        c = db.session.query(Courses).filter_by(code=code).one()
        db.session.expunge(c)
        return c


def test_create_course_join_code_and_registration(app: Flask, world: dict) -> None:
    teacher = app.test_client()
    login(teacher, "teach-a@example.org")
    response = _post(teacher, "/staff/", {"code": "NEW-1", "title": "New course"})
    assert response.status_code == 302 and response.headers["Location"].endswith(
        "/staff/courses/NEW-1")
    old = _course(app, "NEW-1").join_code
    assert old and old != "NEW-1" and len(old) == 8
    # a student cannot create courses
    student = app.test_client()
    login(student, "alice@example.org")
    assert _post(student, "/staff/", {"code": "MINE"}, page="/join").status_code == 403
    # regenerate: the old code stops working at once
    _post(teacher, "/staff/courses/NEW-1/join-code", {}, page="/staff/courses/NEW-1")
    new = _course(app, "NEW-1").join_code
    assert new != old
    visitor = app.test_client()
    page = visitor.get("/register")
    form = {"email": "newbie@example.org", "password": PASSWORD, "confirm": PASSWORD,
            "csrf_token": csrf_token(page.data)}
    refused = visitor.post("/register", data={**form, "course": old})
    assert refused.status_code == 200 and "No course has this join code" in refused.text
    joined = visitor.post("/register", data={**form, "course": new})
    assert joined.status_code == 302


def test_assignment_form_reads_the_viewers_time_zone(app: Flask, world: dict) -> None:
    teacher = app.test_client()
    login(teacher, "teach-a@example.org")
    url = "/staff/courses/COURSE-A/assignments/new"
    response = _post(teacher, url, {
        "exercise": "makemore4/ex1", "title": "Whole MLP", "deadline": "2026-12-24T23:59",
        "tz": "Europe/Paris", "late_policy": "penalty", "late_penalty": "10",
        "cutoff_days": "3", "min_interval_seconds": "0", "scoring": "strict",
        "shape_rule": "values", "counted": "last"})
    assert response.status_code == 302, response.text[:2000]
    with app.app_context():
        a = db.session.query(Assignments).filter_by(title="Whole MLP").one()
        assert a.deadline == dt.datetime(2026, 12, 24, 22, 59)  # UTC
        assert (a.late_policy, a.late_penalty, a.cutoff_days, a.shape_rule, a.counted) == (
            "penalty", 0.1, 3, "values", "last")
        aid = a.id
    # A penalty policy without a penalty is refused with the reason; nothing changes
    edit = f"/staff/courses/COURSE-A/assignments/{aid}/edit"
    bad = _post(teacher, edit, {"exercise": "makemore4/ex1", "late_policy": "penalty",
                                "late_penalty": "0", "min_interval_seconds": "0",
                                "scoring": "strict", "shape_rule": "strict",
                                "counted": "best", "deadline": "not a date"})
    assert bad.status_code == 200 and "not a date and time" in bad.text
    with app.app_context():
        assert db.session.get(Assignments, aid).shape_rule == "values"
    # the edit page hands the stored UTC deadline to the browser to show in local time
    assert 'data-utc="2026-12-24T22:59:00Z"' in teacher.get(edit).text


def test_extension_and_archive(app: Flask, world: dict) -> None:
    teacher = app.test_client()
    login(teacher, "teach-a@example.org")
    with app.app_context():
        aid = db.session.query(Assignments).join(Courses).filter(
            Courses.code == "COURSE-A").first().id
    url = f"/staff/courses/COURSE-A/assignments/{aid}/extensions"
    granted = _post(teacher, url, {"email": "bob@example.org", "deadline": "2027-01-05T12:00"})
    assert granted.status_code == 302
    outsider = _post(teacher, url, {"email": "carol@example.org",
                                    "deadline": "2027-01-05T12:00"})
    assert "not in course COURSE-A" in outsider.text
    with app.app_context():
        ext = db.session.query(Extensions).one()
        assert (ext.user_id, ext.deadline) == (world["bob"], dt.datetime(2027, 1, 5, 12))
    _post(teacher, "/staff/courses/COURSE-A/archive", {}, page="/staff/courses/COURSE-A")
    assert _course(app, "COURSE-A").archived_at is not None
    # read-only: changes are refused, reading works, students cannot submit
    assert _post(teacher, "/staff/courses/COURSE-A/title", {"title": "x"},
                 page="/staff/courses/COURSE-A").status_code == 403
    assert teacher.get("/staff/courses/COURSE-A/grades").status_code == 200
    assert "archived" in _post(teacher, url, {"email": "alice@example.org",
                                              "deadline": "2027-01-05T12:00"}).text
    student = app.test_client()
    login(student, "alice@example.org")
    assert "the course is archived" in student.get(f"/assignments/{aid}").text
    from tests.web.helpers import token

    api = app.test_client().post("/api/v1/submissions", json={
        "exercise": "makemore4/ex1", "code": "def backward(t):\n    return {}\n"},
        headers={"Authorization": f"Bearer {token(app, 'alice@example.org')}"})
    assert api.status_code == 403 and "archived" in api.get_json()["error"]
    # and restored
    _post(teacher, "/staff/courses/COURSE-A/archive", {"restore": "1"},
          page="/staff/courses/COURSE-A")
    assert _course(app, "COURSE-A").archived_at is None


def test_queue_health_for_staff_only(app: Flask, world: dict) -> None:
    from tests.web.helpers import assignment_id, submission

    aid = assignment_id(app, "COURSE-A")
    for _ in range(2):
        submission(app, world["alice"], aid, "# waiting\n")  # stored, never sent: queued
    teacher = app.test_client()
    login(teacher, "teach-a@example.org")
    page = teacher.get("/staff/queue").text
    assert '<strong id="q-queued">2</strong>' in page
    assert "oldest waiting" in page
    # no worker listens to the test broker: the page says so rather than hanging or failing
    assert "No worker answered" in page or "did not answer" in page
    overview = teacher.get("/staff/courses/COURSE-A").text
    assert '<strong id="q-queued">2</strong>' in overview
    other = app.test_client()
    login(other, "teach-b@example.org")
    assert '<strong id="q-queued">0</strong>' in other.get("/staff/courses/COURSE-B").text
    student = app.test_client()
    login(student, "alice@example.org")
    assert student.get("/staff/queue").status_code == 404


def test_results_json_download_for_owner_and_staff(app: Flask, world: dict) -> None:
    from tests.web.helpers import assignment_id, submission, wrong_result

    aid = assignment_id(app, "COURSE-A")
    done = submission(app, world["alice"], aid, "# mine\n", result=wrong_result())
    waiting = submission(app, world["alice"], aid, "# queued\n")
    for who in ("alice@example.org", "teach-a@example.org"):
        c = app.test_client()
        login(c, who)
        r = c.get(f"/submissions/{done}/results.json")
        assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
        assert r.get_json()["exercise"] == "makemore4/ex2" and r.get_json()["tensors"]
        assert c.get(f"/submissions/{waiting}/results.json").status_code == 404
    page = app.test_client()
    login(page, "alice@example.org")
    assert f"/submissions/{done}/results.json" in page.get(f"/submissions/{done}").text


def test_a_student_sees_their_place_in_the_queue(app: Flask, world: dict) -> None:
    from tests.web.helpers import assignment_id, submission, wrong_result

    aid = assignment_id(app, "COURSE-A")
    first = submission(app, world["bob"], aid, "# bob's\n")
    mine = submission(app, world["alice"], aid, "# alice's\n")
    graded = submission(app, world["alice"], aid, "# done\n", result=wrong_result())
    alice = app.test_client()
    login(alice, "alice@example.org")
    assert alice.get(f"/submissions/{mine}/status.json").get_json()["position"] == 2
    assert "number 2 in the queue" in alice.get(f"/submissions/{mine}").text
    assert alice.get(f"/submissions/{graded}/status.json").get_json()["position"] is None
    with app.app_context():
        from web.models import Submissions
        from web.services.gradings import claim

        assert claim(db.session.get(Submissions, first).current_grading_id, "w", 3)
    assert alice.get(f"/submissions/{mine}/status.json").get_json()["position"] == 1
