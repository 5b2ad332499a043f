"""Browser tests of the result page and the submit page, as a newcomer uses them.

Real service, real grading, headless Chromium. Two ex1 submissions carry most assertions:

- a syntax error whose file also holds hostile text (``</script>``, an ANSI escape, a bidi
  override): one banner instead of 26 rows and cards, the line highlighted in the code, the
  hostile text shown escaped and visible;
- the corpus's forgotten ``1/n`` (every upstream gradient 32× too big), padded to ~240 KiB:
  the ratio heatmap, the inherited link, the tolerance that decided, the phone layout.

The 10 s rate limit between the two is spent by the countdown test (the button re-enables
without a reload). Drafts, upload and reset run on ex3's page and submit nothing.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import BACKPROP, COURSE, REPO, SCREENSHOTS
from tests.e2e.helpers import corpus, editor_text, open_exercise, set_editor, shot, wait_for_quota

pytestmark = pytest.mark.timeout(150)

PHONE = {"width": 390, "height": 844}
SUBMISSION_URL = re.compile(r"/submissions/(\d+)$")
HOSTILE_SYNTAX = (
    "# </script><script>window.__pwned = 1</script> \x1b[2J \u202eevil\u202c\n"
    "def backward(t):\n"
    "    x = (1 +\n"
    "    return {}\n")
SCALE_BUG = corpus("ex1/bug_no_1_over_n.py")
#: About 220 KiB (the limit is 256 KiB): the scale bug, comment lines and one very long line.
BIG = SCALE_BUG + "\n" + "".join(f"# padding line {i} " + "x" * 60 + "\n" for i in range(2400)) \
    + "# " + "y" * 20_000 + "\n"
#: Submission URLs, shared by the tests of this module (each also runs alone: it submits then).
URLS: dict[str, str] = {}


def _submit(page: Page, exercise_id: str, code: str) -> str:
    open_exercise(page, exercise_id)
    wait_for_quota(page)
    set_editor(page, code)
    page.get_by_role("button", name="Submit for grading").click()
    page.wait_for_url(SUBMISSION_URL)
    expect(page.locator("p.score")).to_be_visible(timeout=60_000)
    return page.url


def _result(page: Page, which: str) -> None:
    if which not in URLS:
        URLS[which] = _submit(page, "makemore4/ex1", HOSTILE_SYNTAX if which == "syntax" else BIG)
    else:
        page.goto(URLS[which])
    expect(page.locator("p.score")).to_be_visible()


def _no_hscroll(page: Page, what: str) -> None:
    width, inner = page.evaluate("() => [document.documentElement.scrollWidth, innerWidth]")
    assert width <= inner, f"{what}: the page scrolls sideways ({width} > {inner})"


# ---------------------------------------------------------------- the countdown (submits both)
# The scale bug first: a syntax error may be refused before it runs and then starts no wait.
def _min_interval(service, seconds: int) -> None:
    """Set ex1's seconds between two submissions with the real CLI (the course's default
    is 10 s: on a busy machine they may pass before the page is back)."""
    env = {**os.environ, "BACKPROP_HOME": str(service.home)}
    for key in ("REDIS_URL", "DATABASE_URL", "SECRET_KEY"):
        env.pop(key, None)
    done = subprocess.run([str(BACKPROP), "assignment", "set", COURSE, "makemore4/ex1",
                           "--min-interval", str(seconds)], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_the_countdown_re_enables_the_button_without_a_reload(student_context, service):
    page = student_context().new_page()
    url = open_exercise(page, "makemore4/ex1")
    wait_for_quota(page)
    _min_interval(service, 15)
    try:
        set_editor(page, BIG)
        page.get_by_role("button", name="Submit for grading").click()
        page.wait_for_url(SUBMISSION_URL)
        URLS["scale"] = page.url
        page.goto(url)
        button, quota = page.locator("#submit-form button[type=submit]"), page.locator("#quota")
        if button.is_enabled():  # pragma: no cover - a machine too busy to tell
            pytest.skip("15 s passed between the submission and the page: nothing counts down")
        first = int(re.search(r"next in (\d+) s", quota.inner_text()).group(1))
        page.evaluate("() => { window.__samePage = true; }")
        expect(quota).not_to_contain_text(f"next in {first} s", timeout=5_000)  # it counts
        expect(button).to_be_enabled(timeout=(first + 5) * 1000)
        expect(quota).to_contain_text("you can submit now")
        assert page.evaluate("() => window.__samePage") is True  # no reload
    finally:
        _min_interval(service, 10)
    set_editor(page, HOSTILE_SYNTAX)  # (code that does not compile costs no attempt)
    button.click()
    page.wait_for_url(SUBMISSION_URL)
    URLS["syntax"] = page.url


# ---------------------------------------------------------------- whole-run failure, hostile code
def test_a_syntax_error_is_one_banner_beside_the_highlighted_code(student_context, browser_log):
    page = student_context().new_page()
    _result(page, "syntax")

    banner = page.locator(".whole-run")
    expect(banner).to_have_count(1)
    expect(banner.locator("h2")).to_have_text("Your code did not run to its end")
    expect(banner).to_contain_text("SyntaxError")
    expect(banner.get_by_role("link", name="Line 3")).to_be_visible()
    expect(page.locator("p.score .badge")).to_have_text("error")
    # 26 rows folded away, no cards: the page is one screen, not 26 of them
    table = page.locator("details.folded-table")
    expect(table).to_have_count(1)
    assert not table.evaluate("(d) => d.open")
    expect(page.locator("table.tensors tbody tr")).to_have_count(26)
    assert sum(r.is_visible() for r in page.locator("table.tensors tbody tr").all()) == 0
    expect(page.locator("section.tensor")).to_have_count(0)
    height = page.evaluate("() => document.documentElement.scrollHeight")
    assert height < 2000, height  # was 5,000–8,600 px with a row and a card per tensor
    shot(page, "result-whole-run-banner.png")
    table.locator("summary").click()
    expect(page.locator("table.tensors tbody tr").first).to_be_visible()

    # the code, beside the diagnosis, the syntax error's line highlighted
    main, code = page.locator(".result-main"), page.locator(".code-panel")
    box_main, box_code = main.bounding_box(), code.bounding_box()
    assert box_code["x"] >= box_main["x"] + box_main["width"] - 1, (box_main, box_code)
    expect(code.locator("li")).to_have_count(4)
    expect(code.locator("li.hl")).to_have_count(1)
    expect(code.locator("li.hl")).to_have_id("L3")
    # hostile text shown, never acting: escaped markup, visible control and bidi characters
    first = code.locator("li#L1").inner_text()
    assert "</script><script>window.__pwned = 1</script>" in first, first
    assert "␛[2J" in first and "⟨U+202E⟩evil⟨U+202C⟩" in first, first
    assert page.evaluate("() => window.__pwned") is None

    # the code downloads as the file it was, and goes back into the editor
    href = code.get_by_role("link", name=re.compile(r"Download submission-\d+\.py")) \
        .get_attribute("href")
    response = page.request.get(href)
    sub_id = SUBMISSION_URL.search(page.url).group(1)
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["content-disposition"] == \
        f'attachment; filename="submission-{sub_id}.py"'
    # a form posts its textarea with CR LF line ends (HTML's rule): the file keeps them
    assert response.text().replace("\r\n", "\n") == HOSTILE_SYNTAX
    code.get_by_role("link", name="Edit this code").click()
    page.locator(".cm-editor").wait_for()
    assert editor_text(page) == HOSTILE_SYNTAX
    expect(page.locator("#loaded-note")).to_contain_text(f"submission #{sub_id}")
    assert not browser_log.page_errors, browser_log.page_errors


# ---------------------------------------------------------------- a scale bug: ratio, links, phone
def test_a_scale_bug_gets_a_ratio_heatmap_and_honest_numbers(student_context):
    page = student_context().new_page()
    _result(page, "scale")
    expect(page.locator("p.score .badge")).to_have_text("partly correct")
    expect(page.locator(".whole-run")).to_have_count(0)
    expect(page.locator("table.tensors caption")).to_have_text(
        "Gradients, root causes first, then in backward order")

    card = page.locator("section.tensor#t-logprobs")
    expect(card.locator(".multiple")).to_contain_text("yours ≈ 32 × autograd's")
    ratio = card.locator("img.heatmap.panel-ratio")
    ratio.scroll_into_view_if_needed()
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0",
                           arg=ratio.element_handle())
    expect(card.locator("img.heatmap")).to_have_count(4)  # yours, autograd, difference, ratio
    card.screenshot(path=str(SCREENSHOTS / "result-ratio-heatmap.png"))

    # the tolerance that decided: a passing ~0 gradient is decided by atol, not its rel error
    row = page.locator("table.tensors tbody tr").filter(
        has=page.locator("th", has_text=re.compile("^dlogit_maxes$")))
    expect(row.locator("td.decided")).to_have_text(re.compile(r"^(atol|rtol) "))
    wrong = page.locator("table.tensors tbody tr").filter(
        has=page.locator("th", has_text=re.compile("^dlogprobs$")))
    expect(wrong.locator("td.decided")).to_have_text(re.compile(r"^over tolerance "))

    # where dlogprobs is computed is highlighted; the 220 KiB file is all there
    hl = page.locator(".code-panel li.hl")
    expect(hl).to_have_count(2)  # dlogprobs = zeros_like(…); dlogprobs[range(n), Yb] = -1.0
    assert all(text.lstrip().startswith("dlogprobs") for text in hl.all_inner_texts())
    expect(page.locator(".code-panel li")).to_have_count(len(BIG.splitlines()))

    # an inherited tensor's link opens the folded section and shows its card
    details = page.locator("details#inherited")
    assert not details.evaluate("(d) => d.open")
    page.locator("table.tensors").get_by_role("link", name="dprobs", exact=True).click()
    expect(details).to_have_attribute("open", "")
    expect(page.locator("section.tensor#t-probs")).to_be_in_viewport()
    shot(page, "result-page-wide.png", full_page=False)


def test_the_result_page_on_a_phone(student_context):
    page = student_context(viewport=PHONE, device_scale_factor=2, is_mobile=True,
                           has_touch=True).new_page()
    _result(page, "scale")
    card = page.locator("section.tensor#t-logprobs")
    panels = card.locator("img.heatmap")
    for img in panels.all():
        img.scroll_into_view_if_needed()
        page.wait_for_function("(img) => img.complete && img.naturalWidth > 0",
                               arg=img.element_handle())
    _no_hscroll(page, "result (scale bug)")
    boxes = [img.bounding_box() for img in panels.all()]
    for above, below in zip(boxes, boxes[1:], strict=False):
        assert below["y"] >= above["y"] + above["height"], boxes  # stacked, not side by side
    for box in boxes:
        assert box["x"] + box["width"] <= PHONE["width"], box
    # the code comes under the diagnosis, not beside it
    main, code = page.locator(".result-main").bounding_box(), \
        page.locator(".code-panel").bounding_box()
    assert code["y"] >= main["y"] + main["height"] - 1
    card.evaluate("(el) => el.scrollIntoView()")
    shot(page, "result-phone.png", full_page=False)
    _result(page, "syntax")
    _no_hscroll(page, "result (syntax error)")


# ---------------------------------------------------------------- the submit page
def test_draft_survives_a_reload_and_leaving_asks_first(student_context):
    page = student_context().new_page()
    url = open_exercise(page, "makemore4/ex3")
    page.locator(".cm-editor").wait_for()
    baseline = editor_text(page)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.type), d.accept()))

    page.locator(".cm-content").click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\n# my unsubmitted idea", delay=5)
    typed = editor_text(page)
    assert typed != baseline and typed.endswith("# my unsubmitted idea")
    page.reload()  # with unsubmitted edits: the browser asks before leaving
    assert dialogs == ["beforeunload"], dialogs
    page.locator(".cm-editor").wait_for()
    assert editor_text(page) == typed
    note = page.locator(".editor-note")
    expect(note).to_contain_text("Draft restored")
    shot(page, "exercise-draft-restored.png", full_page=False)

    note.get_by_role("button", name="discard").click()
    assert editor_text(page) == baseline
    page.goto(url)
    page.locator(".cm-editor").wait_for()
    expect(page.locator(".editor-note")).to_have_count(0)
    assert editor_text(page) == baseline
    assert dialogs == ["beforeunload"]  # nothing unsaved: no second question


def test_upload_and_reset_ask_before_replacing_the_editor(student_context, service):
    page = student_context().new_page()
    open_exercise(page, "makemore4/ex3")
    page.locator(".cm-editor").wait_for()
    set_editor(page, "def backward(t):\n    return {}  # mine\n")
    mine = editor_text(page)
    answers = iter([False, True, False, True])
    asked: list[str] = []
    page.on("dialog", lambda d: (asked.append(d.message),
                                 d.accept() if next(answers) else d.dismiss()))

    upload = {"name": "solution.py", "mimeType": "text/x-python",
              "buffer": b"def backward(t):\n    return {'from': 'file'}\n"}
    page.locator("#upload").set_input_files(upload)  # answered "no"
    page.wait_for_function("() => document.getElementById('upload').value === ''")
    assert editor_text(page) == mine
    page.locator("#upload").set_input_files(upload)  # answered "yes"
    page.wait_for_function("() => window.backpropEditor.state.doc.toString().includes('file')")
    assert editor_text(page) == upload["buffer"].decode()
    assert page.locator("#upload").input_value() == ""  # the form posts the editor's text
    assert asked[:2] == ["Replace the code in the editor with solution.py?"] * 2

    starter = page.request.get(page.locator("a", has_text="-starter.py").get_attribute("href"))
    assert starter.ok and "attachment" in starter.headers["content-disposition"]
    reset = page.get_by_role("button", name="Reset to the starter")
    reset.click()  # answered "no"
    assert editor_text(page) == upload["buffer"].decode()
    reset.click()  # answered "yes"
    page.wait_for_function("(s) => window.backpropEditor.state.doc.toString() === s",
                           arg=starter.text())
    assert len(asked) == 4 and "starter" in asked[2]
