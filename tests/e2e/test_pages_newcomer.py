"""A newcomer's pages in a real browser on the real service (tests/e2e/conftest.py).

Grace registers with the course code typed in lower case, makes an API token on her account
page and uses it, compares her two attempts (wide and on a 390 px phone) from her history;
the instructor copies the course's join link and makes her a one-time password-reset link.
Grace is this module's own student, so other tests' histories stay as they expect.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import COURSE
from tests.e2e.helpers import corpus, open_exercise, set_editor, shot, wait_for_quota

GRACE = ("grace@example.org", "hopper-1906")
NEW_PASSWORD = "cobol-is-1959"
PHONE = {"width": 390, "height": 844}
NO_HSCROLL = "() => [document.documentElement.scrollWidth, window.innerWidth]"
#: Attempt 2 ends with a line far wider than any screen: the diff must wrap it in its box.
LONG_LINE = "# " + "x" * 300 + "\n"


def _api(url: str, token: str, method: str = "GET", body: dict | None = None) \
        -> tuple[int, dict]:
    request = urllib.request.Request(
        url, method=method, data=json.dumps(body).encode() if body else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _no_hscroll(page: Page, what: str) -> None:
    scroll_width, inner = page.evaluate(NO_HSCROLL)
    assert scroll_width <= inner, f"{what}: the page scrolls sideways ({scroll_width} > {inner})"


def _times_are_local(page: Page) -> None:
    """Every time shown is a <time data-local> that app.js rewrote in the browser's zone."""
    times = page.locator("main time")
    assert times.count() >= 1
    for t in times.all():
        assert t.get_attribute("data-local") is not None
        assert t.get_attribute("title", timeout=5000).endswith("UTC")  # the UTC original
        assert not t.inner_text().endswith("UTC")


@pytest.fixture(scope="module")
def grace(new_context) -> Iterator[dict]:
    """Grace, registered through the join link with the code in lower case."""
    ctx = new_context()
    page = ctx.new_page()
    page.goto(f"/register?course={COURSE.lower()}")
    expect(page.get_by_label("Course join code")).to_have_value(COURSE.lower())
    page.get_by_label("E-mail").fill(GRACE[0])
    page.get_by_label("Name").fill("Grace")
    page.get_by_label("Password", exact=True).fill(GRACE[1])
    page.get_by_label("Repeat password").fill(GRACE[1])
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("h1")).to_have_text(COURSE)  # joined: straight to the course
    expect(page.locator(".flash").first).to_contain_text(f"You joined {COURSE}")
    yield {"state": ctx.storage_state()}
    ctx.close()


def test_account_page_token_is_shown_once_works_and_is_revoked(new_context, grace, service):
    page = new_context(storage_state=grace["state"]).new_page()
    page.goto("/")
    page.get_by_role("link", name="Account").click()
    expect(page.locator("h1")).to_have_text("Your account")
    expect(page.locator("#cli")).to_contain_text(f"export BACKPROP_SERVER={service.url}")
    expect(page.locator("#notebook")).to_contain_text(
        f'submit(backward, "makemore4/ex1", server="{service.url}", token="YOUR_TOKEN")')

    page.get_by_label("Name (where you will use it)").fill("notebook")
    page.get_by_role("button", name="Create a token").click()
    field = page.locator("#new-token")
    expect(field).to_be_visible()
    token = field.input_value()
    assert len(token) >= 40
    expect(page.locator("#notebook")).to_contain_text(f'token="{token}"')
    _times_are_local(page)
    shot(page, "account.png")
    page.goto("/account")  # shown once: not on the page any more
    assert token not in page.content()
    row = page.locator("table.tokens tbody tr").filter(has_text="notebook")
    expect(row).to_have_count(1)

    status, _ = _api(f"{service.url}/api/v1/exercises", token)
    assert status == 200
    status, created = _api(f"{service.url}/api/v1/submissions", token, "POST",
                           {"exercise": "makemore4/ex1",
                            "code": corpus("ex1/bug_transpose_dW2.py")})
    assert status == 202, created
    own = f"{service.url}/api/v1/submissions/{created['id']}"
    assert _api(own, token)[0] == 200
    page.reload()
    expect(row.locator("td").nth(2)).not_to_have_text("never")  # last used: just now

    row.get_by_role("button", name=re.compile("Revoke")).click()
    expect(page.locator(".flash")).to_contain_text("revoked")
    expect(page.locator("table.tokens tbody")).to_contain_text("No tokens yet.")
    status, body = _api(own, token)
    assert status == 401, body


def test_history_numbers_attempts_and_the_diff_fits_any_width(new_context, grace, service):
    page = new_context(storage_state=grace["state"]).new_page()
    open_exercise(page, "makemore4/ex1")
    wait_for_quota(page)  # after the first attempt, sent through the API
    set_editor(page, corpus("ex1/lecture.py") + LONG_LINE)
    page.get_by_role("button", name="Submit for grading").click()
    expect(page.locator("p.score")).to_be_visible(timeout=90_000)

    page.get_by_role("link", name="All my submissions").click()
    expect(page.locator("h1")).to_have_text("Your submissions")
    attempts = page.locator("table.history tbody tr td:first-child a")
    expect(attempts).to_have_text(["Attempt 2", "Attempt 1"])
    for _ in range(90):  # attempt 1 (sent first) may still be in the queue: reload till graded
        if page.locator("svg.chart circle").count() == 2:
            break
        page.wait_for_timeout(1000)
        page.reload()
    chart = page.locator("svg.chart")
    expect(chart.locator("title").first).to_contain_text("Score per attempt")
    assert chart.locator("line.axis").count() == 2
    labels = chart.locator("text").all_text_contents()
    assert {"score", "attempt", "1", "2", "0"} <= set(labels), labels
    _times_are_local(page)
    shot(page, "history-attempts.png")

    page.get_by_role("link", name="Compare with attempt 1").click()
    expect(page.locator("h1")).to_have_text("Changes from attempt 1 to attempt 2")
    added = page.locator("table.diff tr.add")
    removed = page.locator("table.diff tr.del")
    expect(added.filter(has_text="dW2 = t.h.T @ dlogits")).to_have_count(1)
    expect(removed.filter(has_text="dW2 = dlogits.T @ t.h")).to_have_count(1)
    colours = {kind: page.locator(f"table.diff tr.{kind}").first.evaluate(
        "(tr) => getComputedStyle(tr).backgroundColor") for kind in ("add", "del")}
    assert colours["add"] != colours["del"] and "rgba(0, 0, 0, 0)" not in colours.values()
    numbers = removed.filter(has_text="dW2 = dlogits.T").locator("td.ln").all_inner_texts()
    assert numbers[0].isdigit() and numbers[1] == "", numbers
    shot(page, "diff-wide.png")
    diff_url = page.url

    phone = new_context(storage_state=grace["state"], viewport=PHONE, device_scale_factor=2,
                        is_mobile=True, has_touch=True).new_page()
    phone.goto(diff_url)
    expect(phone.locator("table.diff")).to_be_visible()
    _no_hscroll(phone, "diff on a phone")
    box = phone.locator(".diff-box").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    long_row = phone.locator("table.diff tr.add").filter(has_text="x" * 50)
    assert long_row.bounding_box()["width"] <= box["width"] + 1  # wrapped inside the box
    shot(phone, "diff-phone.png")
    phone.get_by_role("link", name=re.compile("Back to your submissions")).first.click()
    expect(phone.locator("h1")).to_have_text("Your submissions")
    _no_hscroll(phone, "history on a phone")


def test_course_page_join_link_copies(new_context, staff_state, service):
    ctx = new_context(storage_state=staff_state)
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=service.url)
    page = ctx.new_page()
    page.goto(f"/courses/{COURSE}")
    card = page.locator("section.join-card")
    link = f"{service.url}/register?course={COURSE}"
    expect(card.locator("#join-link")).to_have_value(link)
    expect(card.get_by_role("link", name=link)).to_have_attribute("href", link)  # no JS
    card.get_by_role("button", name="Copy").click()
    expect(card.locator(".copy-status")).to_have_text("Copied.")
    assert page.evaluate("() => navigator.clipboard.readText()") == link


def test_an_instructors_reset_link_works_once(new_context, staff_state, grace):
    staff = new_context(storage_state=staff_state).new_page()
    staff.goto(f"/staff/courses/{COURSE}/roster")
    row = staff.locator("table.roster tbody tr").filter(has_text=GRACE[0])
    row.get_by_role("button", name=re.compile("Reset link")).click()
    expect(staff.locator("h2")).to_contain_text("Password-reset link for Grace")
    link = staff.locator("#reset-link").input_value()
    assert "/reset/" in link
    _times_are_local(staff)
    shot(staff, "reset-link.png")

    anon = new_context().new_page()
    anon.goto("/login")
    expect(anon.locator("main")).to_contain_text(
        "Forgot your password? Ask your instructor for a reset link.")
    anon.goto(link)
    expect(anon.locator("h1")).to_have_text("Set a new password")
    anon.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    anon.get_by_label("Repeat new password").fill(NEW_PASSWORD)
    anon.get_by_role("button", name="Set the password").click()
    expect(anon.locator(".flash")).to_contain_text("Your new password is set")
    anon.get_by_label("E-mail").fill(GRACE[0])
    anon.get_by_label("Password").fill(NEW_PASSWORD)
    anon.get_by_role("button", name="Sign in").click()
    expect(anon.locator("h1")).to_have_text(COURSE)

    again = new_context().new_page()
    response = again.goto(link)
    assert response.status == 410
    expect(again.locator("main")).to_contain_text("expired or was already used")
