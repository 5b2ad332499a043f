"""Batch uploads and regrades through the staff pages and the API (the services for real,
gradings stored as the worker stores them; the workers themselves: tests/worker)."""

from __future__ import annotations

import dataclasses
import io
import zipfile

import pytest
from flask import Flask
from sqlalchemy import func, select

from tests.web.helpers import (
    EX2_CORRECT,
    assignment_id,
    csrf_token,
    login,
    submission,
    token,
    user,
    wrong_result,
)
from web.db import db
from web.models import Batches, BatchFiles, Gradings, Regrades, Submissions
from web.services.gradings import store_result


def zipped(files: dict[str, str | bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, body in files.items():
            z.writestr(name, body)
    return out.getvalue()


def scored(score: float):
    """A stored-as-the-worker-would result of makemore4/ex2 with this score."""
    r = wrong_result()
    return dataclasses.replace(r, score=score, carry_forward_score=score, values_score=score,
                               values_carry_forward_score=score)


def staff(app: Flask, world: dict, email: str = "teach-a@example.org"):
    c = app.test_client()
    login(c, email)
    return c


def upload(client, aid: int, data: bytes, name: str = "class.zip", code: str = "COURSE-A"):
    page = client.get(f"/staff/courses/{code}/assignments/{aid}")
    assert page.status_code == 200, page.status_code
    return client.post(f"/staff/courses/{code}/assignments/{aid}/batches",
                       data={"csrf_token": csrf_token(page.data),
                             "upload": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def grade_all(app: Flask, score: float = 0.0) -> int:
    """Store a result for every queued grading, as a worker would; return how many."""
    with app.app_context():
        ids = db.session.scalars(select(Gradings.id).where(Gradings.status != "done")).all()
        for gid in ids:
            assert store_result(gid, scored(score))
        return len(ids)


def test_a_zip_becomes_submissions_matched_to_the_roster(app: Flask, world: dict) -> None:
    aid = assignment_id(app, "COURSE-A")
    c = staff(app, world)
    r = upload(c, aid, zipped({"alice@example.org.py": EX2_CORRECT,
                               "bob@example.org.py": EX2_CORRECT + "\n# bob\n",
                               "carol@example.org.py": EX2_CORRECT,  # another course's
                               "nobody.py": EX2_CORRECT + "# nobody's\n",
                               "__MACOSX/._alice@example.org.py": "junk"}))
    assert r.status_code == 302, r.data
    page = c.get(r.headers["Location"]).text
    with app.app_context():
        rows = {f.name: f for f in db.session.scalars(select(BatchFiles))}
        assert {n: f.status for n, f in rows.items()} == {
            "alice@example.org.py": "submitted", "bob@example.org.py": "submitted",
            "carol@example.org.py": "unmatched", "nobody.py": "unmatched"}
        subs = db.session.scalars(select(Submissions)).all()
        assert sorted(s.user_id for s in subs) == sorted([world["alice"], world["bob"]])
        assert {g.reason for g in db.session.scalars(select(Gradings))} == {"batch"}
        assert all(s.batch_id is not None and s.status == "queued" for s in subs)
    assert "0</strong> / <span class=\"p-total\">2</span>" in page
    assert "2 files wait for you" in page
    prog = c.get(f"{r.headers['Location']}/progress.json").get_json()
    assert prog == {"total": 2, "done": 0, "running": 0, "queued": 2, "failed": 0,
                    "unsettled": 2, "eta_seconds": None, "finished": False}

    assert grade_all(app, 0.0) == 2
    prog = c.get(f"{r.headers['Location']}/progress.json").get_json()
    assert (prog["done"], prog["finished"]) == (2, True)
    csv = c.get(f"{r.headers['Location']}/results.csv").text.splitlines()
    assert csv[0].startswith("student,score,carry_forward_score,max_score,status")
    assert [line.split(",")[0] for line in csv[1:]] == ["alice@example.org",
                                                        "bob@example.org"]

    # the instructor assigns an unmatched file; it is graded as that student's
    with app.app_context():
        fid = db.session.scalar(select(BatchFiles.id).where(BatchFiles.name == "nobody.py"))
    page = c.get(r.headers["Location"])
    done = c.post(f"{r.headers['Location']}/files/{fid}/assign",
                  data={"csrf_token": csrf_token(page.data), "email": "alice@example.org"})
    assert done.status_code == 302
    with app.app_context():
        row = db.session.get(BatchFiles, fid)
        assert (row.status, row.user_id, row.code) == ("submitted", world["alice"], None)
        assert db.session.get(Submissions, row.submission_id).batch_id == row.batch_id
    # a student of another course cannot be given a file, and the refusal says nothing
    # about whether the address has an account elsewhere
    with app.app_context():
        other = db.session.scalar(select(BatchFiles.id).where(
            BatchFiles.name == "carol@example.org.py"))
    for email in ("carol@example.org", "nobody-at-all@example.org"):
        r2 = c.post(f"{r.headers['Location']}/files/{other}/assign",
                    data={"csrf_token": csrf_token(page.data), "email": email})
        assert f"no student with e-mail &#39;{email}&#39; in this course" in \
            c.get(r2.headers["Location"]).text
    with app.app_context():
        assert db.session.get(BatchFiles, other).status == "unmatched"


def test_the_same_zip_twice_grades_nothing_twice(app: Flask, world: dict) -> None:
    aid = assignment_id(app, "COURSE-A")
    c = staff(app, world)
    files = {"alice@example.org.py": EX2_CORRECT, "bob@example.org.py": EX2_CORRECT}
    upload(c, aid, zipped(files))
    second = upload(c, aid, zipped({**files, "bob@example.org.py": EX2_CORRECT + "#v2\n"}))
    assert second.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Submissions)) == 3
        assert db.session.scalar(select(func.count()).select_from(Gradings)) == 3
        last = db.session.scalar(select(Batches).order_by(Batches.id.desc()))
        statuses = {f.name: f.status for f in last.files}
        assert statuses == {"alice@example.org.py": "duplicate",
                            "bob@example.org.py": "submitted"}
        dup = next(f for f in last.files if f.status == "duplicate")
        assert dup.submission_id is not None and dup.submission.user_id == world["alice"]


@pytest.mark.parametrize("files, reason", [
    ({"../evil.py": "x"}, "outside"),
    ({"a.txt": "x"}, ".py"),
    ({f"s{i}.py": "" for i in range(2100)}, "2100"),
])
def test_a_hostile_zip_is_refused_whole_and_stores_nothing(app: Flask, world: dict, files,
                                                           reason: str) -> None:
    aid = assignment_id(app, "COURSE-A")
    c = staff(app, world)
    r = upload(c, aid, zipped(files))
    assert r.status_code == 302
    page = c.get(r.headers["Location"]).text
    assert "Nothing was stored" in page and reason in page, page[:3000]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Batches)) == 0
        assert db.session.scalar(select(func.count()).select_from(Submissions)) == 0


def test_not_a_zip_and_a_bomb_are_refused(app: Flask, world: dict) -> None:
    aid = assignment_id(app, "COURSE-A")
    c = staff(app, world)
    for data in (b"plain text, not a zip", _bomb()):
        r = upload(c, aid, data)
        assert "Nothing was stored" in c.get(r.headers["Location"]).text
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Submissions)) == 0


def _bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("alice@example.org.py", b"#" + b"\0" * (40 * 2**20))
    return out.getvalue()


def test_only_the_courses_instructors_upload(app: Flask, world: dict) -> None:
    aid = assignment_id(app, "COURSE-A")
    data = zipped({"alice@example.org.py": EX2_CORRECT})
    other = staff(app, world, "teach-b@example.org")
    assert other.get(f"/staff/courses/COURSE-A/assignments/{aid}").status_code == 404
    student = staff(app, world, "alice@example.org")
    assert student.get(f"/staff/courses/COURSE-A/assignments/{aid}").status_code == 404
    bearer = {"Authorization": f"Bearer {token(app, 'alice@example.org')}"}
    r = app.test_client().post("/api/v1/courses/COURSE-A/batches", headers=bearer,
                               data={"exercise": "makemore4/ex2",
                                     "file": (io.BytesIO(data), "c.zip")},
                               content_type="multipart/form-data")
    assert r.status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Submissions)) == 0


def test_the_api_takes_a_batch_and_reports_it(app: Flask, world: dict) -> None:
    bearer = {"Authorization": f"Bearer {token(app, 'teach-a@example.org')}"}
    client = app.test_client()
    data = zipped({"alice@example.org.py": EX2_CORRECT, "who.py": EX2_CORRECT})
    r = client.post("/api/v1/courses/COURSE-A/batches", headers=bearer,
                    data={"exercise": "makemore4/ex2", "file": (io.BytesIO(data), "c.zip")},
                    content_type="multipart/form-data")
    assert r.status_code == 202, r.data
    body = r.get_json()
    assert body["layout"] == "plain" and body["progress"]["total"] == 1
    assert {f["name"]: (f["status"], f["student"]) for f in body["files"]} == {
        "alice@example.org.py": ("submitted", "alice@example.org"), "who.py": ("unmatched", None)}
    grade_all(app, 0.0)
    shown = client.get(f"/api/v1/courses/COURSE-A/batches/{body['id']}", headers=bearer)
    assert shown.get_json()["progress"]["finished"] is True
    csv = client.get(f"/api/v1/courses/COURSE-A/batches/{body['id']}/results.csv",
                     headers=bearer).text
    assert csv.splitlines()[1].startswith("alice@example.org,0")
    bad = client.post("/api/v1/courses/COURSE-A/batches", headers=bearer,
                      data={"exercise": "makemore4/ex2", "file": (io.BytesIO(b"nope"), "c.zip")},
                      content_type="multipart/form-data")
    assert bad.status_code == 400 and "zip" in bad.get_json()["error"]


def test_regrade_keeps_history_and_waits_for_the_instructor(app: Flask, world: dict) -> None:
    aid = assignment_id(app, "COURSE-A")
    first = submission(app, world["alice"], aid, EX2_CORRECT, result=scored(0.0))
    second = submission(app, world["bob"], aid, EX2_CORRECT + "#b\n", result=scored(1.0))
    c = staff(app, world)
    page = c.get(f"/staff/courses/COURSE-A/assignments/{aid}")
    r = c.post(f"/staff/courses/COURSE-A/assignments/{aid}/regrade",
               data={"csrf_token": csrf_token(page.data), "email": ""})
    assert r.status_code == 302 and "/regrades/" in r.headers["Location"]
    with app.app_context():
        new = db.session.scalars(select(Gradings).where(Gradings.reason == "regrade")).all()
        assert len(new) == 2 and all(g.status == "queued" for g in new)
        # the new gradings are not current: what students see is unchanged
        assert db.session.get(Submissions, first).score == 0.0
        for g in new:  # alice's goes up, bob's stays
            assert store_result(g.id, scored(1.0))
        assert db.session.get(Submissions, first).score == 0.0
    # a second regrade waits for the decision on the first
    again = c.post(f"/staff/courses/COURSE-A/assignments/{aid}/regrade",
                   data={"csrf_token": csrf_token(page.data)})
    assert "waiting for a decision" in c.get(again.headers["Location"]).text
    report = c.get(r.headers["Location"]).text
    assert '<strong id="r-up">1</strong>' in report and '<strong id="r-same">1</strong>' in report
    assert "alice@example.org" in report and "+1" in report
    book = c.get("/staff/courses/COURSE-A/gradebook.csv?format=moodle")
    apply_page = c.get(r.headers["Location"])
    done = c.post(r.headers["Location"] + "/apply",
                  data={"csrf_token": csrf_token(apply_page.data)})
    assert done.status_code == 302
    with app.app_context():
        sub = db.session.get(Submissions, first)
        assert sub.score == 1.0 and sub.current_grading.reason == "regrade"
        assert len(sub.gradings) == 2  # the old one is kept
        assert db.session.scalar(select(Regrades.state)) == "applied"
        assert db.session.get(Submissions, second).score == 1.0
    after = c.get("/staff/courses/COURSE-A/gradebook.csv?format=moodle")
    assert book.status_code == after.status_code == 200
    # the gradebook follows the current grading: alice 0 → 1
    assert "alice@example.org,,0.0," in book.text and "alice@example.org,,1.0," in after.text
    # the student's own page shows the regraded score
    alice = app.test_client()
    login(alice, "alice@example.org")
    assert "1 / " in alice.get(f"/submissions/{first}").text


def test_a_discarded_regrade_changes_nothing(app: Flask, world: dict) -> None:
    aid = assignment_id(app, "COURSE-A")
    first = submission(app, world["alice"], aid, EX2_CORRECT, result=scored(1.0))
    c = staff(app, world)
    page = c.get(f"/staff/courses/COURSE-A/assignments/{aid}")
    r = c.post(f"/staff/courses/COURSE-A/assignments/{aid}/regrade",
               data={"csrf_token": csrf_token(page.data), "email": "alice@example.org"})
    # apply is refused while gradings run
    early = c.post(r.headers["Location"] + "/apply",
                   data={"csrf_token": csrf_token(c.get(r.headers["Location"]).data)})
    assert "still running" in c.get(early.headers["Location"]).text
    grade_all(app, 0.0)
    assert '<strong id="r-down">1</strong>' in c.get(r.headers["Location"]).text
    c.post(r.headers["Location"] + "/discard",
           data={"csrf_token": csrf_token(c.get(r.headers["Location"]).data)})
    with app.app_context():
        sub = db.session.get(Submissions, first)
        assert sub.score == 1.0 and sub.current_grading.reason == "submitted"
        assert len(sub.gradings) == 2
        assert db.session.scalar(select(Regrades.state)) == "discarded"
        assert db.session.scalar(select(Regrades.scope)) == "student:alice@example.org"


def test_a_ta_sees_but_does_not_regrade(app: Flask, world: dict) -> None:
    aid = assignment_id(app, "COURSE-A")
    with app.app_context():
        from web.models import Enrolments

        ta = user(app, "ta@example.org", "student", "COURSE-A")
        db.session.execute(Enrolments.__table__.update().where(
            Enrolments.user_id == ta).values(role="ta"))
        db.session.commit()
    c = staff(app, world, "ta@example.org")
    page = c.get(f"/staff/courses/COURSE-A/assignments/{aid}")
    assert page.status_code == 200 and "Regrade…" not in page.text
    r = c.post(f"/staff/courses/COURSE-A/assignments/{aid}/regrade",
               data={"csrf_token": csrf_token(page.data)})
    assert r.status_code == 403


def test_an_instructor_regrades_one_submission_from_its_page(app: Flask, world: dict) -> None:
    aid = assignment_id(app, "COURSE-A")
    first = submission(app, world["alice"], aid, EX2_CORRECT, result=scored(0.0))
    submission(app, world["bob"], aid, EX2_CORRECT, result=scored(0.0))
    alice = staff(app, world, "alice@example.org")
    assert "Regrade this submission" not in alice.get(f"/submissions/{first}").text
    c = staff(app, world)
    page = c.get(f"/submissions/{first}")
    assert "Regrade this submission" in page.text
    r = c.post(f"/staff/courses/COURSE-A/assignments/{aid}/regrade",
               data={"csrf_token": csrf_token(page.data), "submission": str(first)})
    assert r.status_code == 302
    with app.app_context():
        (g,) = db.session.scalars(select(Gradings).where(Gradings.reason == "regrade")).all()
        assert g.submission_id == first
        assert db.session.scalar(select(Regrades.scope)) == f"submission:{first}"
    # a submission id that is not theirs to read is a 404, not a regrade
    r = c.post(f"/staff/courses/COURSE-A/assignments/{aid}/regrade",
               data={"csrf_token": csrf_token(page.data), "submission": "999999"})
    assert r.status_code == 404


def test_the_reconciler_resends_only_what_the_broker_lost() -> None:
    from web.services.gradings import Stuck, lost

    waiting_bulk = [Stuck(i, "bulk", "queued") for i in range(3)]
    dead = Stuck(9, "grading", "running")
    # three queued bulk gradings and three messages in line: nothing is lost
    assert lost([*waiting_bulk, dead], {"bulk": 3, "grading": 0}) == [dead]
    # fewer messages than gradings (a Redis restart emptied it): resend them
    assert lost(waiting_bulk, {"bulk": 1}) == waiting_bulk
    # the broker could not say: resend by age, as before
    assert lost(waiting_bulk, {"bulk": None}) == waiting_bulk


@pytest.fixture(params=["sqlite", "postgresql"])
def migrated_app(request, tmp_path, monkeypatch):
    """An app on a migrated database of each backend (no CSRF: services only)."""
    import flask_migrate

    from tests.pg import temporary_database
    from web import create_app

    monkeypatch.setenv("BACKPROP_HOME", str(tmp_path / "home"))

    def make(url: str) -> Flask:
        app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url,
                          "REDIS_URL": "redis://127.0.0.1:1/0",
                          "RATELIMIT_STORAGE_URI": "memory://"})
        with app.app_context():
            flask_migrate.upgrade()
        return app

    if request.param == "sqlite":
        app = make(f"sqlite:///{tmp_path / 'race.db'}")
        yield app
    else:
        with temporary_database() as url:
            app = make(url.replace("postgresql://", "postgresql+psycopg://"))
            yield app
            with app.app_context():
                db.engine.dispose()


def test_two_uploads_at_once_grade_each_file_once(migrated_app: Flask) -> None:
    """A double click (or a client's retry) while the first upload commits: the second one
    sees the first's files as duplicates."""
    import threading

    from web.models import Assignments
    from web.services import batches
    from web.services.accounts import create_user

    app = migrated_app
    with app.app_context():
        for i in range(20):
            create_user(f"s{i}@example.org", "student", None, "RACE")
        aid = db.session.scalar(select(Assignments.id).where(
            Assignments.exercise_id == "makemore4/ex2"))
    data = zipped({f"s{i}@example.org.py": EX2_CORRECT for i in range(20)})
    barrier, errors = threading.Barrier(2), []

    def upload_once() -> None:
        try:
            with app.app_context():
                upload = batches.read(data, "c.zip")
                a = db.session.get(Assignments, aid)
                barrier.wait(10)
                batches.create(a, upload, filename="c.zip", created_by=None)
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 — reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=upload_once) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Submissions)) == 20
        statuses = sorted(db.session.scalars(select(BatchFiles.status)))
        assert statuses == ["duplicate"] * 20 + ["submitted"] * 20
        db.session.remove()


def test_a_batch_submission_has_no_live_queue_place(app: Flask, world: dict) -> None:
    from web.services import queue_health

    aid = assignment_id(app, "COURSE-A")
    live = submission(app, world["bob"], aid, "# live\n")  # queued on the live queue
    upload(staff(app, world), aid, zipped({"alice@example.org.py": EX2_CORRECT}))
    with app.app_context():
        batch_sub = db.session.scalar(select(Submissions).where(
            Submissions.batch_id.is_not(None)))
        assert batch_sub.status == "queued"
        assert queue_health.position(batch_sub) is None
        assert queue_health.position(db.session.get(Submissions, live)) == 1
        h = queue_health.health(ask_workers=False)
        assert (h.queued, h.bulk_queued) == (1, 1)


@pytest.mark.parametrize("which", ["99999999999999999999", "²", "", "x" * 5000,
                                   "makemore4/ex2\x00"])
def test_the_batch_api_refuses_odd_assignment_names_clearly(app: Flask, world: dict,
                                                           which: str) -> None:
    bearer = {"Authorization": f"Bearer {token(app, 'teach-a@example.org')}"}
    data = zipped({"alice@example.org.py": EX2_CORRECT})
    r = app.test_client().post("/api/v1/courses/COURSE-A/batches", headers=bearer,
                               data={"exercise": which, "file": (io.BytesIO(data), "c.zip")},
                               content_type="multipart/form-data")
    assert r.status_code in (400, 404) and r.get_json()["error"], r.data[:300]



def test_a_name_match_waits_for_the_instructor(app: Flask, world: dict) -> None:
    """Names are typed by students: a file matched only by name is not graded (nor readable
    by whoever took that name) until an instructor confirms it."""
    from web.models import Users

    aid = assignment_id(app, "COURSE-A")
    mallory = user(app, "mallory@example.org", "student", "COURSE-A")
    with app.app_context():
        db.session.get(Users, mallory).name = "Alice Smith"  # what she typed
        db.session.commit()
    c = staff(app, world)
    r = upload(c, aid, zipped({"smithalice_101_1_backward.py": EX2_CORRECT + "# ALICE\n"}))
    page = c.get(r.headers["Location"])
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Submissions)) == 0
        row = db.session.scalar(select(BatchFiles))
        assert (row.status, row.user_id) == ("unconfirmed", mallory)
    assert "1 file waits for you" in page.text and "mallory@example.org" in page.text


def test_confirming_name_matches(app: Flask, world: dict) -> None:
    from web.models import Users

    aid = assignment_id(app, "COURSE-A")
    with app.app_context():
        db.session.get(Users, world["alice"]).name = "Alice Smith"
        db.session.get(Users, world["bob"]).name = "Bob Jones"
        db.session.commit()
    c = staff(app, world)
    r = upload(c, aid, zipped({"smithalice_101_1_backward.py": EX2_CORRECT,
                               "jonesbob_LATE_102_2_backward.py": EX2_CORRECT + "#b\n"}))
    batch_url = r.headers["Location"]
    page = c.get(batch_url)
    assert "Confirm all 2 name matches" in page.text
    with app.app_context():
        rows = {f.name: f for f in db.session.scalars(select(BatchFiles))}
        assert {f.status for f in rows.values()} == {"unconfirmed"}
        assert rows["smithalice_101_1_backward.py"].user_id == world["alice"]
        bob_file = rows["jonesbob_LATE_102_2_backward.py"].id
    # one confirmed by its own button (no e-mail: the proposed student) …
    done = c.post(f"{batch_url}/files/{bob_file}/assign",
                  data={"csrf_token": csrf_token(page.data)})
    assert "graded as bob@example.org" in c.get(done.headers["Location"]).text
    # … the rest all at once
    c.post(f"{batch_url}/confirm", data={"csrf_token": csrf_token(page.data)})
    with app.app_context():
        statuses = sorted(db.session.scalars(select(BatchFiles.status)))
        assert statuses == ["submitted", "submitted"]
        owners = sorted(db.session.scalars(select(Submissions.user_id)))
        assert owners == sorted([world["alice"], world["bob"]])
    # the CSV names the students, not the files' stems
    grade_all(app, 1.0)
    csv = c.get(f"{batch_url}/results.csv").text.splitlines()
    assert sorted(line.split(",")[0] for line in csv[1:]) == ["alice@example.org",
                                                              "bob@example.org"]


def test_assigning_a_file_the_student_already_sent_grades_nothing(app: Flask,
                                                                  world: dict) -> None:
    aid = assignment_id(app, "COURSE-A")
    c = staff(app, world)
    r = upload(c, aid, zipped({"x.py": EX2_CORRECT, "y.py": EX2_CORRECT}))
    page = c.get(r.headers["Location"])
    with app.app_context():
        ids = dict(db.session.execute(select(BatchFiles.name, BatchFiles.id)).all())
    for name in ("x.py", "y.py"):
        c.post(f"{r.headers['Location']}/files/{ids[name]}/assign",
               data={"csrf_token": csrf_token(page.data), "email": "alice@example.org"})
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Submissions)) == 1
        assert db.session.get(BatchFiles, ids["y.py"]).status == "duplicate"


def test_gradescope_export_with_helpers_and_empty_folders(app: Flask, world: dict) -> None:
    aid = assignment_id(app, "COURSE-A")
    meta = ("submission_1:\n  :submitters:\n  - :name: A\n    :email: alice@example.org\n"
            "submission_2:\n  :submitters:\n  - :name: B\n    :email: bob@example.org\n")
    c = staff(app, world)
    r = upload(c, aid, zipped({"submission_metadata.yml": meta,
                               "submission_1/backward.py": EX2_CORRECT,
                               "submission_1/helper.py": "x = 1\n",
                               "submission_2/notes.txt": "no code"}))
    page = c.get(r.headers["Location"]).text
    with app.app_context():
        rows = {f.name: f.status for f in db.session.scalars(select(BatchFiles))}
        assert rows == {"submission_1/backward.py": "submitted"}
        notes = db.session.scalar(select(Batches.notes))
    assert any("submission_2" in n for n in notes), notes
    assert "submission_2" in page  # shown, so nobody disappears silently


def test_yaml_aliases_in_gradescope_metadata_are_refused() -> None:
    from web.services import archive

    meta = ("people: &p\n  - :email: a@example.org\n"
            "submission_1:\n  :submitters: *p\n")
    with pytest.raises(archive.ArchiveRefused, match="aliases"):
        archive.read_archive(zipped({"submission_metadata.yml": meta,
                                     "submission_1/backward.py": "x"}))


def test_a_decided_regrade_keeps_its_own_before_and_after(app: Flask, world: dict) -> None:
    from web.models import Assignments
    from web.models import Submissions as Subs
    from web.services import regrades

    aid = assignment_id(app, "COURSE-A")
    sid = submission(app, world["alice"], aid, EX2_CORRECT, result=scored(0.0))
    with app.app_context():
        a = db.session.get(Assignments, aid)
        first = regrades.start(a, created_by=None, submission=db.session.get(Subs, sid))
        grade_all(app, 1.0)
        regrades.apply(first)
        second = regrades.start(a, created_by=None, submission=db.session.get(Subs, sid))
        grade_all(app, 0.5)
        regrades.apply(second)
        (c1,) = regrades.report(first).changes
        (c2,) = regrades.report(second).changes
        assert (c1.old, c1.new, c2.old, c2.new) == (0.0, 1.0, 1.0, 0.5)


def test_the_regrade_form_refuses_odd_submission_ids(app: Flask, world: dict) -> None:
    aid = assignment_id(app, "COURSE-A")
    c = staff(app, world)
    page = c.get(f"/staff/courses/COURSE-A/assignments/{aid}")
    for raw in ("²", "-1", "9" * 30):
        r = c.post(f"/staff/courses/COURSE-A/assignments/{aid}/regrade",
                   data={"csrf_token": csrf_token(page.data), "submission": raw})
        assert r.status_code == 404, raw


def test_a_late_duplicate_claim_never_reopens_a_stored_grading(app: Flask, world: dict) -> None:
    """A redelivered task claiming a grading that was just stored gets nothing, and the
    submission stays done (the claim is one conditional UPDATE, also on SQLite)."""
    from web.services.gradings import claim

    aid = assignment_id(app, "COURSE-A")
    sid = submission(app, world["alice"], aid, EX2_CORRECT, result=scored(1.0))
    with app.app_context():
        gid = db.session.get(Submissions, sid).current_grading_id
        assert claim(gid, "late-worker", 3) is None
        assert claim(gid, "late-worker", 3, count=False) is None
        g = db.session.get(Gradings, gid)
        assert (g.status, g.attempts, g.worker) == ("done", 0, None)
        assert db.session.get(Submissions, sid).status == "done"
