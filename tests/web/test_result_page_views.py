"""The result page's whole-run banner, code panel and downloads, on results of the real
``grade()`` through the real sandbox (the browser tests cover layout and scripts)."""

from __future__ import annotations

import re

import pytest

from grader import get_exercise, grade
from tests.web.helpers import (
    EX2_CORRECT,
    assignment_id,
    login,
    parse,
    submission,
    text,
    user,
    wrong_result,
)

EX1 = "makemore4/ex1"
EMPTY_DICT = "def backward(t):\n    return {}\n"
CRASH = "def backward(t):\n    raise ValueError('\x1b[31mboom\u202e')\n"


@pytest.fixture(scope="module")
def results(sandbox):
    ex = get_exercise(EX1)
    return {name: grade(ex, code, sandbox=sandbox, student="s")
            for name, code in (("empty", EMPTY_DICT), ("crash", CRASH))}


def _page(app, code, result, exercise=EX1):
    uid = user(app, "alice@example.org", "student", "COURSE-A")
    aid = assignment_id(app, "COURSE-A", exercise)
    sid = submission(app, uid, aid, code, exercise, result)
    client = app.test_client()
    login(client, "alice@example.org")
    return client, sid, aid


def test_an_empty_dict_is_one_banner_not_26_cards(app, results):
    client, sid, _ = _page(app, EMPTY_DICT, results["empty"])
    html = text(client.get(f"/submissions/{sid}"))
    assert html.count('class="whole-run"') == 1
    assert "The same problem in every gradient" in html
    assert "Every gradient: missing from the returned dict (key &#39;…&#39;)" in html
    assert 'class="tensor card' not in html
    assert re.search(r'<details class="folded-table">\s*<summary>The 26 gradients', html)
    assert '<span class="badge error">' not in html and "none correct" in html


def test_a_crash_in_every_case_names_its_line_and_shows_hostile_text_visible(app, results):
    assert results["crash"].status == "error", results["crash"].message
    client, sid, _ = _page(app, CRASH, results["crash"])
    html = text(client.get(f"/submissions/{sid}"))
    assert "Your code did not run to its end" in html
    assert '<li id="L2" class="hl"' in html
    assert '<a class="line-link" href="#L2">Line 2</a>' in html
    assert "\x1b" not in html and "\u202e" not in html
    assert "␛[31mboom⟨U+202E⟩" in html  # in the banner and in the code panel
    assert 'class="tensor card' not in html


def test_code_downloads_as_plain_text_and_loads_into_the_editor(app):
    code = "# </script>\r\n" + EX2_CORRECT
    client, sid, aid = _page(app, code, wrong_result(), "makemore4/ex2")
    response = client.get(f"/submissions/{sid}/code.py")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["Content-Disposition"] == \
        f'attachment; filename="submission-{sid}.py"'
    assert response.data.decode() == code
    page = client.get(f"/assignments/{aid}?from={sid}")
    assert "# &lt;/script&gt;" in text(page) and f'data-loaded="{sid}"' in text(page)
    starter = client.get(f"/assignments/{aid}/starter.py")
    assert starter.data.decode() == get_exercise("makemore4/ex2").starter
    assert "attachment" in starter.headers["Content-Disposition"]
    assert not [s for s in parse(page.data).scripts if s["body"].strip()]  # no inline script


def test_heatmap_panels_exist_only_where_drawn(app):
    client, sid, _ = _page(app, EX2_CORRECT, wrong_result(), "makemore4/ex2")
    html = text(client.get(f"/submissions/{sid}"))
    # what the code printed comes before the table and the cards, not at the very bottom
    assert html.index('<details class="printed" open>') < html.index('<table class="tensors">')
    assert "printed SECRET stdout" in html
    panels = re.findall(r"heatmap/logits\.png\?panel=(\w+)", html)
    assert panels == ["yours", "autograd", "difference"]  # random arrays: no multiple
    for panel in panels:
        png = client.get(f"/submissions/{sid}/heatmap/logits.png?panel={panel}")
        assert png.status_code == 200 and png.data.startswith(b"\x89PNG")
    assert client.get(f"/submissions/{sid}/heatmap/logits.png?panel=ratio").status_code == 404
    assert client.get(f"/submissions/{sid}/heatmap/logits.png?panel=x").status_code == 404
