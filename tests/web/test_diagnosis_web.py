"""Diagnosis on the web: root causes first, inherited errors marked, both scores, and an
instructor's strict / error-carried-forward switch on the course page.

Every result here comes from the real ``grade()`` through the real sandbox on corpus files
(graded once per module), stored with ``web.services.gradings.store_result`` as the worker would.
The scoring switch and the fingerprint analytics run on SQLite (the web tests' default) and on
a throwaway PostgreSQL database.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import flask_migrate
import pytest
from flask import Flask
from sqlalchemy import func, inspect, select, text

from grader import get_exercise
from grader.diagnosis import CODES
from grader.grade import grade
from grader.result import GradeResult
from tests.corpus_files import CORPUS, parse
from tests.pg import temporary_database
from tests.web.conftest import make_config
from tests.web.helpers import assignment_id, login, submission, token, user
from web import create_app
from web.db import db
from web.models import Assignments, Submissions, TensorResults

EX1 = "makemore4/ex1"
EX1_DIR = CORPUS / "makemore4" / "ex1"
#: The seed of the graded results (grade()'s ``student``), fixed so the scores are known.
STUDENT_SEED = "user:1"
FILES = ("bug_no_1_over_n", "bug_sign_bnmeani", "bug_dC_fancy_assign", "lecture")
FLASH_CHOOSE = "Choose strict or error-carried-forward scoring."


# -- a tiny DOM over html.parser (no third-party HTML library in the venv) --------------------

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
         "wbr"}


class Node:
    """One element: tag, attributes, children (nodes and text)."""

    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Node | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node | str] = []

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def text(self) -> str:
        """Return the text of the element and its descendants, whitespace collapsed."""
        parts: list[str] = []

        def walk(node: Node) -> None:
            for c in node.children:
                if isinstance(c, str):
                    parts.append(c)
                else:
                    walk(c)
        walk(self)
        return re.sub(r"\s+", " ", "".join(parts)).strip()

    def iter(self) -> Iterator[Node]:
        for c in self.children:
            if isinstance(c, Node):
                yield c
                yield from c.iter()

    def find_all(self, tag: str | None = None, cls: str | None = None, **attrs: str) \
            -> list[Node]:
        return [n for n in self.iter()
                if (tag is None or n.tag == tag) and (cls is None or cls in n.classes)
                and all(n.attrs.get(k) == v for k, v in attrs.items())]

    def find(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> Node:
        found = self.find_all(tag, cls, **attrs)
        assert found, f"no <{tag} class={cls} {attrs}> in the page"
        return found[0]

    def badges(self) -> list[str]:
        return [b.text() for b in self.find_all("span", cls="badge")]


class _Tree(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.cur = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs), self.cur)
        self.cur.children.append(node)
        if tag not in _VOID:
            self.cur = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.cur.children.append(Node(tag, dict(attrs), self.cur))

    def handle_endtag(self, tag: str) -> None:
        node: Node | None = self.cur
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.cur = node.parent

    def handle_data(self, data: str) -> None:
        self.cur.children.append(data)


def dom(response) -> Node:
    assert response.status_code == 200, (response.status_code, response.data[:1000])
    tree = _Tree()
    tree.feed(response.get_data(as_text=True))
    tree.close()
    return tree.root


def tensor_rows(page: Node) -> list[dict[str, Any]]:
    """Return the rows of the result page's tensor table: name, badges, points, row class."""
    rows = []
    for tr in page.find("table", cls="tensors").find("tbody").find_all("tr"):
        cells = tr.find_all("td")
        rows.append({"name": tr.find("th").text(), "badges": tr.badges(),
                     "points": cells[-1].text(), "classes": tr.classes})
    return rows


def flashes(page: Node) -> list[tuple[set[str], str]]:
    return [(p.classes, p.text()) for p in page.find_all("p", cls="flash")]


# -- graded corpus files (real grade(), real sandbox), once per module ------------------------

@pytest.fixture(scope="module")
def graded(sandbox) -> dict[str, GradeResult]:
    """Grade the corpus files once; check the scores the tests below rely on."""
    ex = get_exercise(EX1)
    out = {name: grade(ex, (EX1_DIR / f"{name}.py").read_text(), sandbox=sandbox,
                       student=STUDENT_SEED)
           for name in FILES}
    summary = {k: (r.status, r.score, r.carry_forward_score) for k, r in out.items()}
    assert summary == {"bug_no_1_over_n": ("graded", 2.0, 25.0),
                       "bug_sign_bnmeani": ("graded", 19.0, 25.0),
                       "bug_dC_fancy_assign": ("graded", 25.0, 25.0),
                       "lecture": ("graded", 26.0, 26.0)}, summary
    return out


def source(name: str) -> str:
    return (EX1_DIR / f"{name}.py").read_text()


def expected_inherited(name: str) -> set[str]:
    """Return what the corpus header says only inherits the error: expect-wrong − root."""
    meta = parse(EX1_DIR / f"{name}.py")
    return set(meta.expect_wrong) - {meta.root_cause}


# -- apps: the default SQLite test database, and PostgreSQL -----------------------------------

@pytest.fixture(params=["sqlite", "postgresql"])
def any_app(request, make_app, tmp_path: Path, redis_url: str) -> Iterator[Flask]:
    """Return an app on a freshly migrated SQLite copy, or on a new PostgreSQL database."""
    if request.param == "sqlite":
        yield make_app()
        return
    with temporary_database() as url:
        app = create_app(make_config(tmp_path / "unused.db", redis_url,
                                     SQLALCHEMY_DATABASE_URI=url.replace(
                                         "postgresql://", "postgresql+psycopg://")))
        with app.app_context():
            flask_migrate.upgrade()
        try:
            yield app
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def people(app: Flask) -> dict[str, int]:
    """Students alice and bob and instructor teach-a in COURSE-A; teach-b in COURSE-B."""
    return {"alice": user(app, "alice@example.org", "student", "COURSE-A"),
            "bob": user(app, "bob@example.org", "student", "COURSE-A"),
            "teach_a": user(app, "teach-a@example.org", "instructor", "COURSE-A"),
            "teach_b": user(app, "teach-b@example.org", "instructor", "COURSE-B")}


def signed_in(app: Flask, email: str):
    client = app.test_client()
    login(client, email)
    return client


def scoring_url(course: str, aid: int) -> str:
    return f"/courses/{course}/assignments/{aid}/scoring"


def scoring_form(client, course: str, aid: int) -> tuple[str, str]:
    """GET the course page; return the assignment's scoring form's CSRF token and selection."""
    page = dom(client.get(f"/courses/{course}"))
    form = page.find("form", action=scoring_url(course, aid))
    assert form.attrs.get("method") == "post"
    token_ = form.find("input", name=f"a{aid}-csrf_token").attrs["value"]
    select_ = form.find("select", name=f"a{aid}-scoring")
    options = {o.attrs["value"]: "selected" in o.attrs for o in select_.find_all("option")}
    assert set(options) == {"strict", "carry_forward"}, options
    selected = [v for v, on in options.items() if on]
    assert len(selected) == 1, options
    assert token_
    return token_, selected[0]


def switch(client, course: str, aid: int, value: str) -> Node:
    """Post the course page's scoring form as a browser would; return the page it leads to."""
    token_, _ = scoring_form(client, course, aid)
    response = client.post(scoring_url(course, aid),
                           data={f"a{aid}-scoring": value, f"a{aid}-csrf_token": token_})
    assert response.status_code == 302, response.data[:500]
    assert response.headers["Location"].endswith(f"/courses/{course}")
    return dom(client.get(response.headers["Location"]))


def scoring_in_db(app: Flask, aid: int) -> str:
    with app.app_context():
        try:
            return db.session.get(Assignments, aid).scoring
        finally:
            db.session.remove()


def standing(client, headers: dict[str, str], aid: int, sid: int) -> dict[str, Any]:
    """Return what a student sees of one submission everywhere it shows a score."""
    course = dom(client.get("/courses/COURSE-A"))
    row = [tr for tr in course.find("table", cls="assignments").find("tbody").find_all("tr")
           if EX1 in tr.text()]
    assert len(row) == 1
    history = dom(client.get(f"/assignments/{aid}/history"))
    hrow = [tr for tr in history.find("tbody").find_all("tr") if f"#{sid}" in tr.text()]
    assert len(hrow) == 1
    status = client.get(f"/submissions/{sid}/status.json").get_json()
    api = client.get(f"/api/v1/submissions/{sid}", headers=headers).get_json()
    page = dom(client.get(f"/submissions/{sid}"))
    score = page.find("p", cls="score")
    return {"course best": row[0].find_all("td")[2].text(),
            "history": hrow[0].find_all("td")[3].text(),
            "status.json": (status["score"], status["scoring"]),
            "api": (api["counted_score"], api["scoring"]),
            "api result": (api["result"]["score"], api["result"]["carry_forward_score"]),
            "page": (score.find("strong").text(), "error carried forward scoring"
                     if "error carried forward scoring" in score.text() else
                     "strict scoring" if "strict scoring" in score.text() else score.text()),
            "page counts": page.find("p", cls="scores").text().rsplit("counts the ", 1)[1],
            "page points": {r["name"]: r["points"] for r in tensor_rows(page)}}


# -- the result page ----------------------------------------------------------------------------

def test_result_page_root_cause_first_with_diagnosis_and_inherited_badges(app, graded) -> None:
    uid = user(app, "alice@example.org", "student", "COURSE-A")
    aid = assignment_id(app, "COURSE-A", EX1)
    result = graded["bug_sign_bnmeani"]
    sid = submission(app, uid, aid, source("bug_sign_bnmeani"), EX1, result)
    page = dom(signed_in(app, "alice@example.org").get(f"/submissions/{sid}"))

    rows = tensor_rows(page)
    graded_order = [g.name for g in get_exercise(EX1).graded]
    assert graded_order.index("bnmeani") > 0  # so "first" is the page's doing, not the order's
    # the root cause's row comes first, then every other tensor in backward order
    assert [r["name"] for r in rows] == ["dbnmeani"] + [f"d{n}" for n in graded_order
                                                         if n != "bnmeani"]
    assert rows[0]["badges"] == ["wrong", "root cause"] and "root" in rows[0]["classes"]
    assert [r["name"] for r in rows if "root cause" in r["badges"]] == ["dbnmeani"]
    inherited = {r["name"][1:] for r in rows if "inherited" in r["badges"]}
    assert inherited == expected_inherited("bug_sign_bnmeani")
    assert all(r["badges"] == ["wrong", "inherited"] for r in rows if r["name"][1:] in inherited)
    passing = [r for r in rows if r["badges"][0] in ("exact", "close")]
    assert len(passing) == 19 and all(len(r["badges"]) == 1 for r in passing)

    # the problem cards: root cause first with its diagnosis, its fingerprint code and line
    cards = page.find_all("section", cls="tensor")
    assert [c.attrs["id"] for c in cards][0] == "t-bnmeani"
    root = cards[0]
    assert "root" in root.classes and "root cause" in root.badges()
    diagnosis = root.find("p", cls="diagnosis")
    assert "dbnmeani is the right value with the sign flipped" in diagnosis.text()
    assert "(likely line 54)" in diagnosis.text()
    assert "dbnmeani" in source("bug_sign_bnmeani").splitlines()[53]
    assert diagnosis.find("span", cls="code").text() == "sign" and "sign" in CODES
    # inherited cards after it, each marked and saying whose upstream it was right for
    rest = cards[1:]
    assert {c.attrs["id"][2:] for c in rest} == inherited
    for c in rest:
        assert "inherited" in c.classes and c.badges() == ["wrong", "inherited"], c.attrs
        assert c.find("p", cls="diagnosis").text().startswith(
            f"inherited: d{c.attrs['id'][2:]} is right given your d")
        assert not c.find_all("span", cls="code")  # no fingerprint: not a mistake of its own
    # … folded away under one summary that says why
    explain = [s.text() for s in page.find_all("summary")]
    assert explain and explain[0].startswith(f"{len(inherited)} tensors only inherited the "
                                             "error — right given your own upstream")

    # both scores, strict counted (the default)
    score = page.find("p", cls="score")
    assert score.find("strong").text() == "19 / 26" and "strict scoring" in score.text()
    assert page.find("p", cls="scores").text() == (
        "Strict (must match autograd): 19 · error carried forward (right given your own "
        "upstream gradients): 25 — this assignment counts the first.")


def test_result_page_names_the_1_over_n_mistake(app, graded) -> None:
    uid = user(app, "alice@example.org", "student", "COURSE-A")
    sid = submission(app, uid, assignment_id(app, "COURSE-A", EX1), source("bug_no_1_over_n"),
                     EX1, graded["bug_no_1_over_n"])
    page = dom(signed_in(app, "alice@example.org").get(f"/submissions/{sid}"))
    rows = tensor_rows(page)
    assert rows[0]["name"] == "dlogprobs" and rows[0]["badges"] == ["wrong", "root cause"]
    assert {r["name"][1:] for r in rows if "inherited" in r["badges"]} \
        == expected_inherited("bug_no_1_over_n")
    assert len([r for r in rows if "inherited" in r["badges"]]) == 23
    card = page.find("section", id="t-logprobs")
    assert "root" in card.classes
    diagnosis = card.find("p", cls="diagnosis")
    assert "dlogprobs is n = 32 times too big: a 1/n is missing" in diagnosis.text()
    assert diagnosis.find("span", cls="code").text() == "scale_1_over_n"
    assert page.find("p", cls="score").find("strong").text() == "2 / 26"
    assert "Strict (must match autograd): 2 · error carried forward" in page.text()
    assert "root cause: dlogprobs (23 more only inherited the error)" in \
        page.find("p", cls="message").text()


def test_one_root_cause_no_inherited_and_equal_scores_show_one_score(app, graded) -> None:
    uid = user(app, "alice@example.org", "student", "COURSE-A")
    sid = submission(app, uid, assignment_id(app, "COURSE-A", EX1),
                     source("bug_dC_fancy_assign"), EX1, graded["bug_dC_fancy_assign"])
    page = dom(signed_in(app, "alice@example.org").get(f"/submissions/{sid}"))
    rows = tensor_rows(page)
    assert rows[0]["name"] == "dC" and rows[0]["badges"] == ["wrong", "root cause"]
    assert not [r for r in rows if "inherited" in r["badges"]]
    card = page.find("section", id="t-C")
    assert card.find("span", cls="code").text() == "embedding_duplicates"
    assert "appear more than once" in card.find("p", cls="diagnosis").text()
    assert len(page.find_all("section", cls="tensor")) == 1
    assert not page.find_all("p", cls="scores")  # strict 25 == carry-forward 25: one score
    assert "only inherited the error" not in page.text()
    assert page.find("p", cls="score").find("strong").text() == "25 / 26"


def test_a_correct_file_has_no_diagnosis(app, graded) -> None:
    uid = user(app, "alice@example.org", "student", "COURSE-A")
    sid = submission(app, uid, assignment_id(app, "COURSE-A", EX1), source("lecture"), EX1,
                     graded["lecture"])
    page = dom(signed_in(app, "alice@example.org").get(f"/submissions/{sid}"))
    assert all(len(r["badges"]) == 1 for r in tensor_rows(page))
    assert not page.find_all("section", cls="tensor")
    assert not page.find_all("p", cls="scores")
    assert "root cause" not in page.text() and "inherited" not in page.text()


# -- the instructor's switch -----------------------------------------------------------------

def test_instructor_switches_to_carry_forward_and_back(any_app, graded) -> None:
    app = any_app
    ids = people(app)
    aid = assignment_id(app, "COURSE-A", EX1)
    sid = submission(app, ids["alice"], aid, source("bug_no_1_over_n"), EX1,
                     graded["bug_no_1_over_n"])
    alice = signed_in(app, "alice@example.org")
    headers = {"Authorization": f"Bearer {token(app, 'alice@example.org')}"}
    teacher = signed_in(app, "teach-a@example.org")

    strict_points = {f"d{t.name}": f"{t.points:g}/1" for t in graded["bug_no_1_over_n"].tensors}
    strict = {"course best": "2 / 26", "history": "2 / 26", "status.json": (2.0, "strict"),
              "api": (2.0, "strict"), "api result": (2.0, 25.0),
              "page": ("2 / 26", "strict scoring"), "page counts": "first.",
              "page points": strict_points}
    assert standing(alice, headers, aid, sid) == strict
    assert scoring_form(teacher, "COURSE-A", aid)[1] == "strict"

    page = switch(teacher, "COURSE-A", aid, "carry_forward")
    title = get_exercise(EX1).title
    assert flashes(page) == [({"flash", "info"},
                              f"{title} now uses error-carried-forward scoring.")]
    assert scoring_in_db(app, aid) == "carry_forward"
    assert scoring_form(teacher, "COURSE-A", aid)[1] == "carry_forward"
    forward_points = {name: ("0/1" if name == "dlogprobs" else "1/1") for name in strict_points}
    assert standing(alice, headers, aid, sid) == {
        "course best": "25 / 26", "history": "25 / 26", "status.json": (25.0, "carry_forward"),
        "api": (25.0, "carry_forward"), "api result": (2.0, 25.0),
        "page": ("25 / 26", "error carried forward scoring"), "page counts": "second.",
        "page points": forward_points}
    # the stored result itself keeps both scores unchanged
    with app.app_context():
        row = db.session.get(Submissions, sid)
        assert (row.score, row.carry_forward_score, row.counted_score) == (2.0, 25.0, 25.0)
        assert (row.result["score"], row.result["carry_forward_score"]) == (2.0, 25.0)
        db.session.remove()

    page = switch(teacher, "COURSE-A", aid, "strict")
    assert flashes(page) == [({"flash", "info"}, f"{title} now uses strict scoring.")]
    assert scoring_in_db(app, aid) == "strict"
    assert standing(alice, headers, aid, sid) == strict


def test_switching_one_course_leaves_the_other_alone(app, graded) -> None:
    people(app)
    carol_id = user(app, "carol@example.org", "student", "COURSE-B")
    a_aid, b_aid = assignment_id(app, "COURSE-A", EX1), assignment_id(app, "COURSE-B", EX1)
    carol_sid = submission(app, carol_id, b_aid, source("bug_no_1_over_n"), EX1,
                           graded["bug_no_1_over_n"])
    switch(signed_in(app, "teach-a@example.org"), "COURSE-A", a_aid, "carry_forward")
    assert scoring_in_db(app, b_aid) == "strict"
    carol = signed_in(app, "carol@example.org")
    assert carol.get(f"/submissions/{carol_sid}/status.json").get_json() == {
        "id": carol_sid, "status": "done", "score": 2.0, "max_score": 26.0,
        "scoring": "strict", "position": None}
    # an instructor cannot reach another course's assignment through their own course's URL
    teacher = signed_in(app, "teach-a@example.org")
    token_, _ = scoring_form(teacher, "COURSE-A", a_aid)
    response = teacher.post(scoring_url("COURSE-A", b_aid),
                            data={f"a{b_aid}-scoring": "carry_forward",
                                  f"a{b_aid}-csrf_token": token_})
    assert response.status_code == 404
    assert scoring_in_db(app, b_aid) == "strict"


@pytest.mark.parametrize("value", [
    "lenient", "x" * 10_240, "", None, "STRICT", "carry_forward ", "carry_forward' OR '1'='1",
], ids=["lenient", "10KB", "empty", "absent", "upper", "trailing-space", "quote"])
def test_an_invalid_scoring_is_refused_and_changes_nothing(app, graded, value) -> None:
    ids = people(app)
    aid = assignment_id(app, "COURSE-A", EX1)
    sid = submission(app, ids["alice"], aid, source("bug_no_1_over_n"), EX1,
                     graded["bug_no_1_over_n"])
    teacher = signed_in(app, "teach-a@example.org")
    alice = signed_in(app, "alice@example.org")
    for before in ("strict", "carry_forward"):  # neither resets nor flips the current choice
        if scoring_in_db(app, aid) != before:
            switch(teacher, "COURSE-A", aid, before)
        token_, _ = scoring_form(teacher, "COURSE-A", aid)
        data = {f"a{aid}-csrf_token": token_}
        if value is not None:
            data[f"a{aid}-scoring"] = value
        response = teacher.post(scoring_url("COURSE-A", aid), data=data)
        assert response.status_code == 302, response.data[:300]
        page = dom(teacher.get(response.headers["Location"]))
        assert flashes(page) == [({"flash", "error"}, FLASH_CHOOSE)]
        if value:
            assert value.strip() not in page.find("p", cls="flash").text()
        assert scoring_in_db(app, aid) == before
        assert scoring_form(teacher, "COURSE-A", aid)[1] == before
        score = alice.get(f"/submissions/{sid}/status.json").get_json()["score"]
        assert score == (2.0 if before == "strict" else 25.0)


def test_without_the_csrf_token_nothing_changes(app) -> None:
    people(app)
    aid = assignment_id(app, "COURSE-A", EX1)
    teacher = signed_in(app, "teach-a@example.org")
    response = teacher.post(scoring_url("COURSE-A", aid),
                            data={f"a{aid}-scoring": "carry_forward"})
    assert response.status_code == 400
    assert scoring_in_db(app, aid) == "strict"


def test_a_student_posting_the_form_gets_403_and_nothing_changes(app, graded) -> None:
    ids = people(app)
    aid = assignment_id(app, "COURSE-A", EX1)
    sid = submission(app, ids["alice"], aid, source("bug_no_1_over_n"), EX1,
                     graded["bug_no_1_over_n"])
    alice = signed_in(app, "alice@example.org")
    page = dom(alice.get("/courses/COURSE-A"))
    assert not [f for f in page.find_all("form") if "/scoring" in (f.attrs.get("action") or "")]
    assert not page.find_all("select")
    token_ = page.find("input", name="csrf_token").attrs["value"]  # the sign-out form's
    for data in ({f"a{aid}-scoring": "carry_forward", f"a{aid}-csrf_token": token_},
                 {f"a{aid}-scoring": "carry_forward", "csrf_token": token_}):
        response = alice.post(scoring_url("COURSE-A", aid), data=data)
        assert response.status_code == 404, response.data[:300]  # staff routes: 404 to students
    assert scoring_in_db(app, aid) == "strict"
    assert alice.get(f"/submissions/{sid}/status.json").get_json()["score"] == 2.0
    # an instructor of another course is not even told the course exists
    other = signed_in(app, "teach-b@example.org")
    token_ = dom(other.get("/courses/COURSE-B")).find("input", name="csrf_token").attrs["value"]
    response = other.post(scoring_url("COURSE-A", aid),
                          data={f"a{aid}-scoring": "carry_forward", f"a{aid}-csrf_token": token_})
    assert response.status_code == 404
    assert scoring_in_db(app, aid) == "strict"


# -- analytics: count mistakes by fingerprint ----------------------------------------------

def test_fingerprints_are_stored_per_tensor_and_counted_with_group_by(any_app, graded) -> None:
    app = any_app
    ids = people(app)
    aid = assignment_id(app, "COURSE-A", EX1)
    stored = [(ids["alice"], "bug_no_1_over_n"), (ids["alice"], "bug_sign_bnmeani"),
              (ids["alice"], "bug_dC_fancy_assign"), (ids["bob"], "bug_no_1_over_n"),
              (ids["bob"], "lecture")]
    sids = {(who, name): submission(app, who, aid, source(name), EX1, graded[name])
            for who, name in stored}
    with app.app_context():
        # what instructor analytics will run: mistakes of a course, counted by class
        counts = db.session.execute(text(
            "SELECT tr.fingerprint, COUNT(*), COUNT(DISTINCT s.user_id) "
            "FROM tensor_results tr JOIN submissions s ON s.current_grading_id = tr.grading_id "
            "JOIN assignments a ON a.id = s.assignment_id "
            "JOIN courses c ON c.id = a.course_id "
            "WHERE c.code = :course AND tr.fingerprint IS NOT NULL "
            "GROUP BY tr.fingerprint ORDER BY tr.fingerprint"), {"course": "COURSE-A"}).all()
        assert [tuple(r) for r in counts] == [("embedding_duplicates", 1, 1),
                                              ("scale_1_over_n", 2, 2), ("sign", 1, 1)]
        assert {r[0] for r in counts} <= set(CODES)
        # the same through the ORM, root causes only
        by_class = dict(db.session.execute(
            select(TensorResults.fingerprint, func.count())
            .where(TensorResults.root_cause.is_(True))
            .group_by(TensorResults.fingerprint)).all())
        assert by_class == {"scale_1_over_n": 2, "sign": 1, "embedding_duplicates": 1}
        assert "fingerprint" in {c for ix in inspect(db.engine).get_indexes("tensor_results")
                                 for c in ix["column_names"]}

        def rows(key) -> dict[str, TensorResults]:
            return {r.name: r for r in db.session.get(Submissions, sids[key]).results}

        one_over_n = rows((ids["alice"], "bug_no_1_over_n"))
        root = one_over_n["logprobs"]
        assert (root.root_cause, root.locally_correct, root.fingerprint, root.line,
                root.carry_forward_points) == (True, False, "scale_1_over_n", None, 0.0)
        assert root.diagnosis == "dlogprobs is n = 32 times too big: a 1/n is missing"
        inherited = {n for n, r in one_over_n.items()
                     if r.locally_correct is True and r.status == "wrong"}
        assert inherited == expected_inherited("bug_no_1_over_n")
        assert all(one_over_n[n].root_cause is False and one_over_n[n].fingerprint is None
                   and one_over_n[n].carry_forward_points == 1.0 for n in inherited)
        assert sum(r.carry_forward_points for r in one_over_n.values()) == 25.0
        assert sum(r.points for r in one_over_n.values()) == 2.0
        sign = rows((ids["alice"], "bug_sign_bnmeani"))["bnmeani"]
        assert (sign.fingerprint, sign.line, sign.locally_correct) == ("sign", 54, False)
        correct = rows((ids["bob"], "lecture")).values()
        assert all(r.fingerprint is None and r.locally_correct is True and not r.root_cause
                   and r.carry_forward_points == r.max_points for r in correct)
        scores = {k: db.session.execute(select(Submissions.score, Submissions.carry_forward_score)
                                        .where(Submissions.id == v)).one()
                  for k, v in sids.items()}
        assert [tuple(scores[k]) for k in sids] == [(2.0, 25.0), (19.0, 25.0), (25.0, 25.0),
                                                     (2.0, 25.0), (26.0, 26.0)]
        db.session.remove()
