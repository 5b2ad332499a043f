"""Browser acceptance: a student's whole road through the web app, in headless Chromium.

The tests share one service and one student. They are written so that each also runs alone
(`-k`), and ordered so the assignment's 10 s rate limit between two ex2 submissions is spent
doing other tests rather than sleeping.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import (
    EX2_CORRECT,
    EX2_HEAD,
    EX2_SIGN_BUG,
    EX2_TITLE,
    EX2_TYPED,
    corpus,
    course_page,
    editor_text,
    last_result,
    open_exercise,
    set_editor,
    shot,
    wait_for_quota,
    wait_for_result,
)

pytestmark = pytest.mark.timeout(120)

SUBMISSION_URL = re.compile(r"/submissions/(\d+)$")
#: Records, for every submission page load, whether the server sent the live status.
RECORD_LIVE = """
window.addEventListener('DOMContentLoaded', () => {
  if (!/\\/submissions\\/\\d+$/.test(location.pathname)) return;
  const seen = JSON.parse(sessionStorage.getItem('bpLive') || '[]');
  seen.push(document.getElementById('live-status') !== null);
  sessionStorage.setItem('bpLive', JSON.stringify(seen));
});
"""
PHONE = {"width": 390, "height": 844}


# ------------------------------------------------------------------ 1. register → full marks
def test_register_then_full_marks_with_live_status(student, student_context):
    # registered through the form with the course code, and landed on the course page
    assert student.landing_url.endswith("/courses/ML101"), student.landing_url
    assert student.landing_heading == "ML101"
    assert "ML101" in student.flash

    page: Page = student_context().new_page()
    course_page(page)
    page.get_by_role("link", name=EX2_TITLE).click()
    expect(page.locator("h1")).to_have_text(EX2_TITLE)

    # CodeMirror replaced the textarea
    editor = page.locator(".cm-editor")
    expect(editor).to_be_visible()
    expect(page.locator("textarea#code")).to_be_hidden()

    # most of the solution through the editor's API, the last line with the real keyboard:
    # Tab indents the empty last line (indentWithTab), then type through the auto-closed
    # brackets and quotes
    set_editor(page, EX2_HEAD)
    page.locator(".cm-content").click()
    page.keyboard.press("Control+End")
    page.keyboard.press("Tab")
    assert editor_text(page).endswith("\n    "), repr(editor_text(page)[-20:])
    page.keyboard.type(EX2_TYPED, delay=5)
    page.keyboard.press("Escape")  # close a completion popup, if any
    assert editor_text(page) == EX2_CORRECT
    # the hidden textarea follows the editor (what the form posts)
    assert page.locator("textarea#code").input_value() == EX2_CORRECT
    shot(page, "exercise.png")

    # submit: the page itself polls status.json and reloads when the grading is done
    polled: list[str] = []
    page.on("response", lambda r: polled.append(r.url) if r.url.endswith("/status.json")
            else None)
    loads: list[str] = []
    page.on("load", lambda: loads.append(page.url))
    # What each submission page said as served: a fast worker may have graded it before the
    # first one was (then there is nothing to poll). Recorded in the page (sessionStorage
    # survives its reloads): Playwright calls no route handler for a redirect's target.
    page.add_init_script(RECORD_LIVE)
    page.get_by_role("button", name="Submit for grading").click()
    page.wait_for_url(SUBMISSION_URL)
    wait_for_result(page, timeout=60)
    served = page.evaluate("() => JSON.parse(sessionStorage.getItem('bpLive') || '[]')")
    assert served, "the submission page was never served"
    if served[0]:  # it was still queued or running: it must poll and reload by itself
        assert polled, "the submission page never polled its status"
        assert len(loads) >= 2, f"the page did not reload by itself: {loads}"
    expect(page.locator("p.score")).to_contain_text("1 / 1")
    expect(page.locator("p.score .badge")).to_have_text("all correct")
    expect(page.locator("table.tensors tbody tr")).to_have_count(1)
    expect(page.locator("table.tensors tbody .badge").first).to_have_text(re.compile("exact|close"))
    shot(page, "result-full-marks.png")


# ------------------------------------------------------------------ 3. without JavaScript
def test_exercise_page_works_without_javascript(student_context):
    ctx = student_context(java_script_enabled=False)
    page = ctx.new_page()
    open_exercise(page, "makemore4/ex1")
    textarea = page.locator("textarea#code")
    expect(textarea).to_be_visible()
    expect(page.locator(".cm-editor")).to_have_count(0)
    wait_for_quota(page)

    textarea.fill(corpus("ex1/bug_sign_bnmeani.py"))
    page.get_by_role("button", name="Submit for grading").click()
    page.wait_for_url(SUBMISSION_URL)
    if not page.locator("p.score").count():
        # without JS the page cannot update itself: it says to reload
        expect(page.get_by_role("link", name="Reload")).to_be_visible()
    wait_for_result(page, reload=True)
    expect(page.locator("p.score .badge")).to_have_text("partly correct")
    score = page.locator("p.score strong").inner_text()
    got, total = (float(x) for x in score.split("/"))
    assert total == 26 and got < 26, score
    wrong = page.locator("table.tensors tbody tr").filter(
        has=page.locator(".badge", has_text=re.compile("^wrong$")))
    expect(wrong).to_have_count(7)  # dbnmeani and everything upstream of it
    expect(wrong.locator("th")).to_contain_text(["dbnmeani"])
    # the heatmaps are plain <img>: fetch one the way the browser would
    src = page.locator("img.heatmap").first.get_attribute("src")
    response = ctx.request.get(src)
    assert response.ok and response.headers["content-type"] == "image/png"
    assert response.body()[:8] == b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------ 5. keyboard
FOCUS_KIND = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return {kind: 'body'};
  const style = getComputedStyle(el.closest('.cm-editor') || el);
  let kind = el.tagName.toLowerCase();
  if (el.classList.contains('skip')) kind = 'skip';
  else if (el.closest('.cm-editor')) kind = 'editor';
  else if (el.id === 'upload') kind = 'upload';
  else if (el.matches('#submit-form button[type=submit]')) kind = 'submit';
  return {kind, outline: style.outlineStyle, outlineWidth: style.outlineWidth,
          focusVisible: el.matches(':focus-visible'),
          text: (el.textContent || '').trim().slice(0, 40),
          rect: el.getBoundingClientRect().toJSON()};
}"""


def _tab_walk(page: Page, until: str, max_steps: int = 60) -> list[dict]:
    """Press Tab from the current focus until ``until`` is focused; Esc-Tab leaves the editor."""
    seen = []
    for _ in range(max_steps):
        if seen and seen[-1]["kind"] == "editor":
            page.keyboard.press("Escape")  # CodeMirror: Escape, then Tab moves the focus on
        page.keyboard.press("Tab")
        info = page.evaluate(FOCUS_KIND)
        if info["kind"] == "editor":  # CodeMirror marks its focus with a class, a bit later
            page.locator(".cm-editor.cm-focused").wait_for()
            info = page.evaluate(FOCUS_KIND)
        seen.append(info)
        if info["kind"] == until:
            return seen
    raise AssertionError(f"Tab never reached {until}: {[s['kind'] for s in seen]}")


def test_keyboard_navigation_and_focus_outline(student_context):
    page = student_context().new_page()
    url = open_exercise(page, "makemore4/ex3")
    wait_for_quota(page)
    page.goto(url)
    page.locator(".cm-editor").wait_for()

    # the skip link works: Enter on it moves the focus to <main>
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUS_KIND)["kind"] == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    page.goto(url)
    page.locator(".cm-editor").wait_for()

    seen = _tab_walk(page, "submit")
    kinds = [s["kind"] for s in seen]
    order = [k for k in kinds if k in ("skip", "editor", "upload", "submit")]
    assert order == ["skip", "editor", "upload", "submit"], kinds
    by_kind = {s["kind"]: s for s in seen}
    # the skip link is first, and shows itself when focused
    assert kinds[0] == "skip"
    assert by_kind["skip"]["rect"]["x"] >= 0, by_kind["skip"]
    # a focus outline on every stop (`:focus-visible` for the native controls)
    for kind in ("skip", "upload", "submit"):
        assert by_kind[kind]["focusVisible"], by_kind[kind]
        assert by_kind[kind]["outline"] != "none", by_kind[kind]
    assert by_kind["editor"]["outline"] != "none", by_kind["editor"]

    # Space presses the focused submit button: with an empty editor the server says so and
    # nothing is stored
    page.evaluate("() => window.backpropEditor.dispatch({changes: {from: 0, "
                  "to: window.backpropEditor.state.doc.length, insert: ''}})")
    page.locator("#submit-form button[type=submit]").focus()
    with page.expect_navigation():
        page.keyboard.press("Space")
    expect(page.locator(".field-error")).to_contain_text("Write or upload your backward pass")
    expect(page.locator("#quota")).to_contain_text("0 of 20")

    # Enter presses it too: the starter file is stored and graded
    page.locator(".cm-editor").wait_for()
    page.locator("#submit-form button[type=submit]").focus()
    assert page.evaluate(FOCUS_KIND)["kind"] == "submit"
    page.keyboard.press("Enter")
    page.wait_for_url(SUBMISSION_URL)
    wait_for_result(page)
    expect(page.locator("p.score")).to_contain_text("/ 1")


# ------------------------------------------------------------------ 2. wrong → heatmap
def test_sign_error_shows_heatmap(student_context):
    page = student_context().new_page()
    open_exercise(page, "makemore4/ex2")
    wait_for_quota(page)  # min_interval_seconds = 10 after test 1's submission
    set_editor(page, EX2_SIGN_BUG)
    page.get_by_role("button", name="Submit for grading").click()
    page.wait_for_url(SUBMISSION_URL)
    wait_for_result(page)

    expect(page.locator("p.score")).to_contain_text("0 / 1")
    row = page.locator("table.tensors tbody tr").first
    expect(row.locator("th")).to_have_text("dlogits")
    expect(row.locator(".badge").first).to_have_text("wrong")
    card = page.locator("section.tensor#t-logits")
    expect(card).to_be_visible()
    img = card.locator("img.heatmap").first  # one image per panel
    img.scroll_into_view_if_needed()
    expect(img).to_be_visible()
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0",
                           arg=img.element_handle())
    natural = img.evaluate("(img) => [img.naturalWidth, img.naturalHeight]")
    assert natural[0] > 200 and natural[1] > 100, natural
    # yours, autograd, difference, and the ratio: a sign error is yours ≈ −1 × autograd's
    expect(card.locator("img.heatmap")).to_have_count(4)
    expect(card.locator(".multiple")).to_contain_text("yours ≈ −1 × autograd's")
    shot(page, "result-wrong-heatmap.png")

    page.get_by_role("link", name="All my submissions").click()
    expect(page.locator("h1")).to_have_text("Your submissions")
    rows = page.locator("table tbody tr")
    assert rows.count() >= 1
    expect(rows.first).to_contain_text("0 / 1")
    expect(page.locator("svg.chart")).to_be_visible()
    shot(page, "history.png")


# ------------------------------------------------------------------ 4. phone width
NO_HSCROLL = "() => [document.documentElement.scrollWidth, window.innerWidth]"


def _assert_no_hscroll(page: Page, what: str) -> None:
    scroll_width, inner = page.evaluate(NO_HSCROLL)
    assert scroll_width <= inner + 1, f"{what}: page scrolls sideways ({scroll_width} > {inner})"


def test_phone_width_has_no_horizontal_scrolling(new_context, student):
    ctx = new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = ctx.new_page()
    page.goto("/login")
    _assert_no_hscroll(page, "login")
    page.get_by_label("E-mail").fill(student.email)
    page.get_by_label("Password").fill(student.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("h1")).to_have_text("ML101")  # one course: straight to it
    _assert_no_hscroll(page, "course")

    open_exercise(page, "makemore4/ex2")
    page.locator(".cm-editor").wait_for()
    _assert_no_hscroll(page, "exercise ex2")
    open_exercise(page, "makemore4/ex1")
    page.locator(".cm-editor").wait_for()
    _assert_no_hscroll(page, "exercise ex1")

    last_result(page, "makemore4/ex2", EX2_SIGN_BUG)
    for img in page.locator("img.heatmap").all():
        img.scroll_into_view_if_needed()
    _assert_no_hscroll(page, "result ex2")
    shot(page, "phone-result.png")
    last_result(page, "makemore4/ex1", corpus("ex1/bug_transpose_dW2.py"))
    _assert_no_hscroll(page, "result ex1")
    page.get_by_role("link", name="All my submissions").click()
    _assert_no_hscroll(page, "history")


# ------------------------------------------------------------------ 6. CSP
def test_no_csp_violations_on_any_page(new_context, student_context, browser_log, service):
    anon = new_context().new_page()
    anon.goto("/")
    expect(anon.locator("h1")).to_have_text("Sign in")  # / asks to sign in first
    shot(anon, "login.png")
    anon.goto("/register")
    expect(anon.locator("h1")).to_have_text("Create an account")

    page = student_context().new_page()
    course_page(page)
    shot(page, "course.png")
    for ex in ("makemore4/ex1", "makemore4/ex2", "makemore4/ex3", "makemore4/ex4"):
        open_exercise(page, ex)
        page.locator(".cm-editor").wait_for()
        link = page.get_by_role("link", name="Last result")
        if link.count():
            link.click()
            wait_for_result(page)
            for img in page.locator("img.heatmap").all():
                img.scroll_into_view_if_needed()
        page.goto(service.url + page.url.split(service.url, 1)[1])  # settle
    for path in ("/join", "/password"):
        page.goto(path)
        expect(page.locator("h1")).to_be_visible()
    open_exercise(page, "makemore4/ex2")
    page.get_by_role("link", name="History").click()
    if page.locator("table tbody tr").count() >= 2:
        page.get_by_role("button", name="Show the diff").click()
        expect(page.locator("h1")).to_contain_text("Changes from")
        expect(page.locator("table.diff")).to_be_visible()

    # the detector itself works: a script injected into the DOM is refused and reported
    before = (len(browser_log.console_errors), len(browser_log.csp_violations))
    page.evaluate("() => { const s = document.createElement('script');"
                  " s.textContent = 'window.__inline = 1'; document.body.append(s); }")
    page.wait_for_timeout(300)
    canary_console = browser_log.console_errors[before[0]:]
    canary_events = browser_log.csp_violations[before[1]:]
    assert page.evaluate("() => window.__inline") is None  # the CSP blocked it
    assert canary_events and any("script-src" in m for m in canary_events), canary_events
    assert any("Content Security Policy" in m for m in canary_console), canary_console
    del browser_log.console_errors[before[0]:]
    del browser_log.csp_violations[before[1]:]

    assert not browser_log.csp_problems(), "\n".join(browser_log.csp_problems())
    assert not browser_log.page_errors, "\n".join(browser_log.page_errors)


# ------------------------------------------------------------------ history with one submission
def test_history_with_one_submission_does_not_offer_a_broken_diff(student_context):
    page = student_context().new_page()
    last_result(page, "makemore4/ex4", "def backward(t):\n    return {}\n")
    page.get_by_role("link", name="All my submissions").click()
    expect(page.locator("table tbody tr")).to_have_count(1)
    button = page.get_by_role("button", name="Show the diff")
    if button.count():  # offered: then it must lead somewhere useful, not to an error page
        button.click()
        page.wait_for_load_state()
        heading = page.locator("h1").inner_text()
        assert heading.startswith("Changes from"), heading
