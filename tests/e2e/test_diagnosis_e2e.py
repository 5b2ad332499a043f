"""Browser acceptance of diagnosis: a student's planted 1/n bug is traced to its root cause in
headless Chromium, and the instructor's switch to error-carried-forward scoring on the course
page changes the score the student sees. Screenshot: docs/screenshots/diagnosis.png."""

from __future__ import annotations

import os
import re
import subprocess

import pytest
from playwright.sync_api import Page, expect

from grader import get_exercise
from tests.corpus_files import CORPUS, parse
from tests.e2e.conftest import BACKPROP, COURSE, INSTRUCTOR, REPO
from tests.e2e.helpers import (
    corpus,
    course_page,
    open_exercise,
    set_editor,
    shot,
    wait_for_quota,
    wait_for_result,
)

pytestmark = pytest.mark.timeout(150)

EX1 = "makemore4/ex1"
SUBMISSION_URL = re.compile(r"/submissions/(\d+)$")
BUG = "ex1/bug_no_1_over_n.py"


def _sign_in(page: Page, email: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    expect(page.locator("header .who")).to_have_text(email)


def _set_scoring(page: Page, value: str) -> str:
    """Choose the ex1 assignment's scoring on the course page and save; return the flash."""
    course_page(page)
    select = page.get_by_label(f"Scoring of {get_exercise(EX1).title}")
    select.select_option(value)
    row = page.locator("table.assignments tbody tr").filter(has_text=EX1)
    row.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    expect(page.locator("h1")).to_have_text(COURSE)
    expect(page.get_by_label(f"Scoring of {get_exercise(EX1).title}")).to_have_value(value)
    return page.locator(".flash").first.inner_text()


def _restore_strict(service) -> None:
    """Put the assignment back to strict with the CLI after a failure midway (the other
    browser tests, sharing this service, expect strict scoring)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("REDIS_URL", "DATABASE_URL", "SECRET_KEY")}
    env["BACKPROP_HOME"] = str(service.home)
    subprocess.run([str(BACKPROP), "assignment", "scoring", COURSE, EX1, "strict"], env=env,
                   cwd=REPO, capture_output=True, text=True, timeout=120)


def test_root_cause_inherited_and_carry_forward_in_the_browser(
        student_context, new_context, browser_log, service) -> None:
    errors_before = len(browser_log.page_errors)
    header = parse(CORPUS / "makemore4" / BUG)
    inherited_expected = set(header.expect_wrong) - {header.root_cause}

    # the student submits the planted bug through the editor and waits for the live result
    page: Page = student_context().new_page()
    open_exercise(page, EX1)
    wait_for_quota(page)
    set_editor(page, corpus(BUG))
    page.get_by_role("button", name="Submit for grading").click()
    page.wait_for_url(SUBMISSION_URL)
    wait_for_result(page, timeout=60)
    result_url = page.url
    expect(page.locator("p.score .badge")).to_have_text("partly correct")

    # the root cause is the first row of the tensor table, with its badge
    first = page.locator("table.tensors tbody tr").first
    expect(first.locator("th")).to_have_text("dlogprobs")
    expect(first.locator(".badge.root")).to_have_text("root cause")
    expect(page.locator("table.tensors .badge.root")).to_have_count(1)
    # every tensor the error only flowed into is marked inherited
    marked = page.locator("table.tensors tbody tr").filter(has=page.locator(".badge.inherited"))
    names = {n.removeprefix("d") for n in marked.locator("th").all_inner_texts()}
    assert names >= inherited_expected and "logprobs" not in names, names
    # the diagnosis names the missing 1/n, with its fingerprint code
    card = page.locator("section#t-logprobs")
    expect(card.locator(".badge.root")).to_have_text("root cause")
    expect(card.locator("p.diagnosis")).to_contain_text(
        "dlogprobs is n = 32 times too big: a 1/n is missing")
    expect(card.locator("p.diagnosis .code")).to_have_text("scale_1_over_n")
    expect(page.locator("section.tensor").first).to_have_id("t-logprobs")

    # strict scoring (the default) counts; both scores are shown
    strong = page.locator("p.score strong")
    strict = float(strong.inner_text().split("/")[0])
    assert strict < 25 and strong.inner_text().endswith("/ 26"), strong.inner_text()
    expect(page.locator("p.score")).to_contain_text("strict scoring")
    expect(page.locator("p.scores")).to_contain_text(
        f"Strict (must match autograd): {strict:g} · error carried forward (right given your "
        "own upstream gradients): 25 — this assignment counts the first.")

    # the instructor switches the assignment to error carried forward on the course page
    teacher: Page = new_context().new_page()
    try:
        _sign_in(teacher, *INSTRUCTOR)
        flash = _set_scoring(teacher, "carry_forward")
        assert flash == f"{get_exercise(EX1).title} now uses error-carried-forward scoring."

        # the student's result page now counts 25
        page.goto(result_url)
        expect(page.locator("p.score strong")).to_have_text("25 / 26")
        expect(page.locator("p.score")).to_contain_text("error carried forward scoring")
        expect(page.locator("p.scores")).to_contain_text("this assignment counts the second.")
        expect(first.locator("td").last).to_have_text("0/1")  # the root cause earns nothing
        expect(marked.first.locator("td").last).to_have_text("1/1")  # inherited ones do
        shot(page, "diagnosis.png")
        course_page(page)
        row = page.locator("table.assignments tbody tr").filter(has_text=EX1)
        expect(row.locator("td").nth(2)).to_have_text("25 / 26")

        # and back to strict
        flash = _set_scoring(teacher, "strict")
        assert flash == f"{get_exercise(EX1).title} now uses strict scoring."
        page.goto(result_url)
        expect(page.locator("p.score strong")).to_have_text(f"{strict:g} / 26")
    except BaseException:
        _restore_strict(service)
        raise
    assert browser_log.page_errors[errors_before:] == []
