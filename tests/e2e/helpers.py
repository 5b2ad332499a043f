"""Page helpers shared by the end-to-end tests."""

from __future__ import annotations

import re
import time
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.conftest import COURSE, REPO, SCREENSHOTS

CORPUS = REPO / "tests" / "corpus" / "makemore4"
EX2_TITLE = "Cross-entropy backward in one formula"

# A correct ex2 solution without its last line: the test types that line with the keyboard.
EX2_HEAD = '''import torch.nn.functional as F


def backward(t):
    dlogits = F.softmax(t.logits, 1)
    dlogits[range(t.n), t.Yb] -= 1
    dlogits /= t.n
'''
EX2_TYPED = 'return {"logits": dlogits}'
EX2_CORRECT = EX2_HEAD + "    " + EX2_TYPED

EX2_SIGN_BUG = '''import torch.nn.functional as F


def backward(t):
    d = F.softmax(t.logits, 1)
    d[range(t.n), t.Yb] -= 1
    d /= t.n
    return {"logits": -d}
'''


def corpus(name: str) -> str:
    return (CORPUS / name).read_text()


def shot(page: Page, name: str, full_page: bool = True) -> Path:
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=full_page)
    return path


def course_page(page: Page) -> None:
    page.goto(f"/courses/{COURSE}")
    expect(page.locator("h1")).to_have_text(COURSE)


def open_exercise(page: Page, exercise_id: str) -> str:
    """Go to the course page and follow the assignment link of ``exercise_id``."""
    course_page(page)
    row = page.locator("table.assignments tbody tr").filter(has_text=exercise_id)
    row.get_by_role("link").first.click()
    page.wait_for_load_state()  # the deferred editor.js has run (or JS is off)
    expect(page.locator(".crumbs")).to_contain_text(exercise_id)
    assert re.search(r"/assignments/\d+$", page.url), page.url
    return page.url


def wait_for_quota(page: Page, timeout: float = 20.0) -> None:
    """Reload the exercise page until its submit button is enabled (the rate limit passed)."""
    deadline = time.monotonic() + timeout
    button = page.locator("#submit-form button[type=submit]")
    while button.is_disabled():
        assert time.monotonic() < deadline, page.locator("#quota").inner_text()
        text = page.locator("#quota").inner_text()
        m = re.search(r"next in (\d+) s", text)
        time.sleep(min(float(m.group(1)) if m else 1.0, 12.0) + 0.2)
        page.reload()


def set_editor(page: Page, code: str) -> None:
    """Replace the CodeMirror document (window.backpropEditor is the EditorView)."""
    page.locator(".cm-editor .cm-content").wait_for()
    page.evaluate("""(code) => {
        const view = window.backpropEditor;
        view.dispatch({changes: {from: 0, to: view.state.doc.length, insert: code}});
    }""", code)


def editor_text(page: Page) -> str:
    return page.evaluate("() => window.backpropEditor.state.doc.toString()")


def wait_for_result(page: Page, timeout: float = 60.0, reload: bool = False) -> None:
    """Wait until the submission page shows its score (reloading by hand only if asked)."""
    if not reload:
        expect(page.locator("p.score")).to_be_visible(timeout=timeout * 1000)
        return
    deadline = time.monotonic() + timeout
    while not page.locator("p.score").count():
        assert time.monotonic() < deadline, "no result in time"
        time.sleep(0.5)
        page.reload()


def last_result(page: Page, exercise_id: str, code: str) -> str:
    """Return the URL of the student's latest graded result for an exercise (submit if none)."""
    open_exercise(page, exercise_id)
    link = page.get_by_role("link", name="Last result")
    if link.count():
        link.click()
    else:
        wait_for_quota(page)
        if page.locator(".cm-editor").count():
            set_editor(page, code)
        else:
            page.locator("textarea#code").fill(code)
        page.get_by_role("button", name="Submit for grading").click()
    wait_for_result(page)
    return page.url
