"""Control characters and bidi overrides in what students control are shown, not acted on.

Autoescape stops HTML injection; it lets ESC, C1 controls and U+202E through. A stored
result (message, what the code printed, tensor messages and diagnoses, check messages),
submitted code in the diff page, a course's and an assignment's title and a user's e-mail
are rendered for the owner and for the course's instructor: the pages carry the visible
forms (``␛``, ``⟨U+202E⟩``), never the raw characters, and ``<script>`` is still escaped.
The code editor gives the student's own code back exactly as written, and the JSON API keeps
values raw (it is data; the serializer escapes it).
"""

from __future__ import annotations

import dataclasses
import html
import re

import pytest
from flask import Flask
from sqlalchemy import update

from grader.result import CheckResult, GradeResult
from tests.web.helpers import (
    EX2_CORRECT,
    assignment_id,
    login,
    submission,
    text,
    token,
    wrong_result,
)
from web.db import db
from web.models import Assignments, Courses, Users

#: Terminal and bidi attacks, and HTML to check that escaping still works.
PIECES = ("\x1b[2J", "\x1b]0;pwned\x07", "\x1b]52;c;Y3VybA==\x07", "\x9b31m", "\x7fdel",
          "\rcr", "\u202eevil\u202c", "\u2066iso\u2069", "<script>alert(1)</script>")
HOSTILE = " ".join(PIECES)
#: What may not appear raw anywhere in a page.
RAW = ("\x1b", "\x9b", "\x07", "\x7f", "\r", "\u202e", "\u202c", "\u2066", "\u2069")
#: What must appear instead.
SHOWN = ("␛[2J", "␛]0;pwned␇", "␛]52;c;", "⟨U+009B⟩31m", "␡del", "␍cr", "⟨U+202E⟩evil",
         "⟨U+2066⟩iso⟨U+2069⟩")


def hostile_result() -> GradeResult:
    """A graded ex2 result whose every student-controlled text is hostile."""
    result = wrong_result()
    tensors = [dataclasses.replace(t, message=f"backward raised: {HOSTILE}",
                                   diagnosis=f"diagnosis {HOSTILE}", fingerprint="fp\x1b[31m")
               for t in result.tensors]
    return dataclasses.replace(
        result, message=f"0 of 1 tensors correct; ignored extra keys: {HOSTILE}",
        stdout=f"printed\n{HOSTILE}\n", tensors=tensors,
        checks=[CheckResult("train\x1b]0;t\x07", False, 0.0, 1.0, message=HOSTILE)])


def code(version: str) -> str:
    """Return a correct answer with one hostile comment line per piece (short lines: the
    diff table wraps long ones, which would split the visible forms)."""
    return "".join(f"# {version} {piece}\n" for piece in PIECES) + EX2_CORRECT


def assert_shown(page: str) -> None:
    """Assert the page has no raw control or bidi character and shows the hostile text."""
    for char in RAW:
        assert char not in page, (repr(char), page[max(0, page.find(char) - 200):][:400])
    unescaped = html.unescape(page).replace("\xa0", " ")  # the diff's spaces are &nbsp;
    for form in SHOWN:
        assert form in unescaped, form
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.fixture
def hostile(app: Flask, world: dict[str, int]) -> dict[str, int]:
    """Alice's two hostile submissions (graded) in COURSE-A, whose titles are hostile too."""
    aid = assignment_id(app, "COURSE-A")
    first = submission(app, world["alice"], aid, code("first"), result=hostile_result())
    second = submission(app, world["alice"], aid, code("second"), result=hostile_result())
    with app.app_context():
        db.session.execute(update(Courses).where(Courses.code == "COURSE-A")
                           .values(title=f"Course {HOSTILE}"))
        db.session.execute(update(Assignments).where(Assignments.id == aid)
                           .values(title=f"Backprop {HOSTILE}"))
        db.session.commit()
    return {**world, "aid": aid, "first": first, "second": second}


def pages(ids: dict[str, int]) -> dict[str, str]:
    return {
        "result": f"/submissions/{ids['second']}",
        "history": f"/assignments/{ids['aid']}/history",
        "diff": f"/submissions/diff?a={ids['first']}&other={ids['second']}",
        "course": "/courses/COURSE-A",
    }


@pytest.mark.parametrize("who", ["alice", "teach_a"])
def test_pages_show_hostile_text_for_owner_and_staff(app, hostile, who: str) -> None:
    client = app.test_client()
    login(client, f"{'teach-a' if who == 'teach_a' else who}@example.org")
    urls = pages(hostile)
    bodies = {}
    for name, url in urls.items():
        response = client.get(url)
        assert response.status_code == 200, (name, response.status_code)
        bodies[name] = text(response)
        for char in RAW:
            assert char not in bodies[name], (name, repr(char))
    assert_shown(bodies["result"])
    assert_shown(bodies["diff"])
    unescaped = html.unescape(bodies["course"])
    assert "Course ␛[2J" in unescaped and "Backprop ␛[2J" in unescaped
    assert "fp␛[31m" in html.unescape(bodies["result"])
    assert "train␛]0;t␇" in html.unescape(bodies["result"])
    # The diff page still shows the two versions' differing lines.
    diff = html.unescape(re.sub(r"<[^>]+>", "", bodies["diff"])).replace("\xa0", " ")
    assert "# first ⟨U+202E⟩evil⟨U+202C⟩" in diff and "# second ␛[2J" in diff


def test_a_hostile_e_mail_in_the_header_is_shown(app, hostile) -> None:
    """An address stored before the e-mail rule (any text but whitespace was taken)."""
    client = app.test_client()
    login(client, "alice@example.org")
    with app.app_context():
        db.session.execute(update(Users).where(Users.id == hostile["alice"])
                           .values(email="al\x1b]0;x\x07ice\u202e@example.org"))
        db.session.commit()
    page = text(client.get(f"/submissions/{hostile['first']}"))
    for char in RAW:
        assert char not in page, repr(char)
    assert "al␛]0;x␇ice⟨U+202E⟩@example.org" in html.unescape(page)


def test_the_editor_gives_the_code_back_as_written(app, hostile) -> None:
    """The submit page's editor holds the student's own last code, untouched: what the form
    posts back must be what they wrote. Everything else on that page is made visible."""
    client = app.test_client()
    login(client, "alice@example.org")
    page = text(client.get(f"/assignments/{hostile['aid']}"))
    start = page.index("<textarea")
    end = page.index("</textarea>", start)
    editor = html.unescape(page[page.index(">", start) + 1:end])
    assert editor.removeprefix("\r\n") == code("second")  # the widget's leading newline
    outside = page[:start] + page[end:]
    for char in RAW:
        assert char not in outside, repr(char)


def test_the_api_keeps_values_raw(app, hostile) -> None:
    """JSON is data: the serializer escapes it, and a client gets the exact text."""
    headers = {"Authorization": f"Bearer {token(app, 'alice@example.org')}"}
    response = app.test_client().get(f"/api/v1/submissions/{hostile['first']}",
                                     headers=headers)
    assert response.status_code == 200
    assert "\x1b" not in text(response)  # escaped as \u001b by the serializer
    assert response.get_json()["result"]["stdout"] == f"printed\n{HOSTILE}\n"
