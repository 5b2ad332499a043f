"""Browser acceptance: batch grading and regrades on the staff pages, in headless Chromium.

An instructor uploads a zip of a class's ex2 files (named by the roster's e-mails, plus one
file nobody owns and a ``__MACOSX/`` entry): the batch page shows a live progress bar that
polls and reloads itself when the real worker has graded everything; the unmatched file is
assigned to a student through its form and graded too. A zip with a ``../`` member is
refused whole. A regrade of everything reports every score unchanged and is applied.

The instructor signs in once; the course (roster, assignments) and the graded batch are module
fixtures, so every test also runs alone (`-k`).
"""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import BrowserLog
from tests.e2e.helpers import EX2_CORRECT, corpus, shot

pytestmark = pytest.mark.timeout(300)

TAG = secrets.token_hex(3)
CODE = f"BAT-{TAG.upper()}"
TITLE = f"Batch grading {TAG}"
MAIN = "Softmax backward (batch)"
OTHER = "Softmax backward (hostile upload)"
BATCH_URL = re.compile(r"/staff/courses/[^/]+/batches/\d+$")
REGRADE_URL = re.compile(r"/staff/courses/[^/]+/regrades/\d+$")


@dataclass(frozen=True)
class Person:
    email: str
    name: str
    file: str | None  # the corpus file in the zip (None: no file of theirs)
    score: str        # what the batch page shows once graded


def _person(who: str, name: str, file: str | None, score: str) -> Person:
    return Person(f"batch-{who}-{TAG}@example.org", name, file, score)


FILED = (
    _person("ana", "Ana Lecture", "ex2/lecture.py", "1 / 1"),
    _person("ben", "Ben Onehot", "ex2/one_hot.py", "1 / 1"),
    _person("cai", "Cai Logsoftmax", "ex2/log_softmax.py", "1 / 1"),
    _person("dee", "Dee Fused", "ex2/fused.py", "1 / 1"),
    _person("eli", "Eli Sign", "ex2/bug_sign.py", "0 / 1"),
    _person("fay", "Fay Overn", "ex2/bug_no_1_over_n.py", "0 / 1"),
)
OWNER = _person("gus", "Gus Nofile", None, "1 / 1")  # the unmatched file becomes theirs
ROSTER = (*FILED, OWNER)
UNMATCHED = "unknown-author.py"


def roster_csv() -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["email", "name", "student_id", "section"])
    for i, p in enumerate(ROSTER, start=1):
        writer.writerow([p.email, p.name, f"B{TAG}{i:02d}", "A"])
    return out.getvalue()


def class_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for p in FILED:
            z.writestr(f"{p.email}.py", corpus(p.file))
        z.writestr(UNMATCHED, EX2_CORRECT + "\n")
        # what macOS's Finder adds: AppleDouble resource forks, never a student's work
        z.writestr(f"__MACOSX/._{FILED[0].email}.py", b"\x00\x05\x16\x07\x00\x02\x00\x00Mac")
    return buf.getvalue()


def hostile_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(f"{FILED[0].email}.py", corpus("ex2/lecture.py"))
        z.writestr("../evil.py", "import os\nos.system('echo pwned')\n")
    return buf.getvalue()


def file_row(page: Page, text: str):
    return page.locator("main table tbody tr").filter(has=page.locator("td", has_text=text))


def upload(page: Page, name: str, data: bytes) -> None:
    page.get_by_label("A zip of the students' files").set_input_files(files=[{
        "name": name, "mimeType": "application/zip", "buffer": data}])
    page.get_by_role("button", name="Upload and grade").click()


# Every load of a page with a progress bar, as the server rendered it, kept in the tab's
# sessionStorage (it survives the page's own reloads). Read in the page, not in a route:
# Playwright never calls a route handler for the target of a redirect, and these pages are
# reached through POST → 302 (the route would only see the reload, already finished).
PROGRESS_PAGES = "bpProgressPages"
RECORD_PROGRESS_PAGES = """
window.addEventListener('DOMContentLoaded', () => {
  const box = document.querySelector('[data-progress-url]');
  if (!box) return;
  const bar = box.querySelector('progress');
  const apply = [...document.querySelectorAll('main button')]
    .find((b) => b.textContent.trim().startsWith('Apply:'));
  const seen = JSON.parse(sessionStorage.getItem('KEY') || '[]');
  seen.push({path: location.pathname, finished: box.hasAttribute('data-finished'),
             done: Number(bar.getAttribute('value')), max: Number(bar.getAttribute('max')),
             apply: apply ? (apply.disabled ? 'disabled' : 'enabled') : null});
  sessionStorage.setItem('KEY', JSON.stringify(seen));
});
""".replace("KEY", PROGRESS_PAGES)


def progress_pages(page: Page) -> list[dict]:
    """The progress pages this tab loaded so far (see RECORD_PROGRESS_PAGES), in order."""
    return page.evaluate(f"() => JSON.parse(sessionStorage.getItem('{PROGRESS_PAGES}') || '[]')")


def record_polls(page: Page) -> list[dict]:
    """Record the body of every progress.json the page fetches (passed on unchanged)."""
    polls: list[dict] = []

    def record(route) -> None:
        response = route.fetch()
        if response.ok:
            polls.append(json.loads(response.text()))
        route.fulfill(response=response)

    page.route("**/progress.json", record)
    return polls


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def staff_context(new_context, staff_state) -> Callable[..., object]:
    def make(**kwargs):
        return new_context(storage_state=staff_state, **kwargs)
    return make


@dataclass
class Course:
    code: str
    assignments: dict[str, str]  # title → the assignment page's path


def _add_assignment(page: Page, title: str) -> None:
    page.locator("nav.tabs").get_by_role("link", name="Assignments").click()
    page.get_by_role("link", name="Add an assignment").click()
    page.get_by_label("Exercise").select_option("makemore4/ex2")
    page.get_by_label("Title").fill(title)
    page.get_by_role("button", name="Add assignment").click()
    page.wait_for_url(f"**/staff/courses/{CODE}/assignments")
    expect(page.locator(".flash.ok")).to_contain_text("added")


@pytest.fixture(scope="module")
def course(staff_context) -> Course:
    """A course created through the form, its roster imported, two ex2 assignments."""
    ctx = staff_context()
    page = ctx.new_page()
    page.goto("/staff/")
    page.get_by_label("Course code", exact=True).fill(CODE)
    page.get_by_label("Title").fill(TITLE)
    page.get_by_role("button", name="Create course").click()
    page.wait_for_url(f"**/staff/courses/{CODE}")

    page.locator("nav.tabs").get_by_role("link", name="Roster").click()
    page.locator("input[type=file][name=upload]").set_input_files(files=[{
        "name": "roster.csv", "mimeType": "text/csv", "buffer": roster_csv().encode()}])
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("table.roster-changes tbody tr")).to_have_count(len(ROSTER))
    page.get_by_role("button", name="Apply these changes").click()
    expect(page.locator(".flash.ok")).to_contain_text("Roster imported")

    for title in (MAIN, OTHER):
        _add_assignment(page, title)
    paths = {}
    for title in (MAIN, OTHER):
        row = page.locator("table tbody tr").filter(has_text=title)
        link = row.get_by_role("link", name="Batches & regrades")
        paths[title] = link.get_attribute("href")
        assert re.fullmatch(rf"/staff/courses/{CODE}/assignments/\d+", paths[title]), paths
    ctx.close()
    return Course(CODE, paths)


@dataclass
class Batch:
    url: str
    loads: list[dict]  # every load of the batch page until it finished (RECORD_PROGRESS_PAGES)
    polls: list[dict]  # progress.json bodies, in order
    header: str = ""
    scores: dict[str, str] = field(default_factory=dict)  # file row → score cell
    unmatched: dict[str, object] = field(default_factory=dict)
    csv_rows: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture(scope="module")
def batch(course: Course, staff_context) -> Batch:
    """Upload the class's zip from the assignment page (reached from the Assignments tab),
    watch the batch page finish by itself, then assign the unmatched file and wait for it."""
    ctx = staff_context()
    page = ctx.new_page()
    page.goto(f"/staff/courses/{CODE}/assignments")
    page.locator("table tbody tr").filter(has_text=MAIN).get_by_role(
        "link", name="Batches & regrades").click()
    expect(page).to_have_url(re.compile(course.assignments[MAIN] + "$"))
    expect(page.get_by_role("heading", name="Grade a batch")).to_be_visible()
    expect(page.get_by_text("No batch uploaded yet.")).to_be_visible()

    page.add_init_script(RECORD_PROGRESS_PAGES)
    polls = record_polls(page)
    upload(page, "class.zip", class_zip())
    page.wait_for_url(BATCH_URL)
    url = page.url
    expect(page.locator("[data-progress-url][data-finished]")).to_be_attached(timeout=120_000)
    page.unroute("**/progress.json")
    loads = progress_pages(page)
    assert loads and url.endswith(loads[0]["path"]), loads
    result = Batch(url, loads, list(polls))
    result.header = page.locator("main h2").first.inner_text()
    for p in FILED:
        result.scores[p.email] = file_row(page, p.email).locator("td").nth(3).inner_text()
    row = file_row(page, UNMATCHED)
    result.unmatched = {
        "student": row.locator("td").nth(1).inner_text(),
        "status": row.locator("td").nth(2).inner_text(),
        "note": row.locator("td").nth(4).inner_text(),
        "forms": row.locator("form").count(),
        "warning": page.locator("main p.flash.error").first.inner_text()
        if page.locator("main p.flash.error").count() else "",
        "suggestions": page.locator("datalist#students option").evaluate_all(
            "os => os.map(o => o.value)"),
    }

    # assign the unmatched file to the student who sent nothing: it is graded as theirs
    field_ = row.get_by_label(f"Student for {UNMATCHED}")
    assert field_.get_attribute("list") == "students"
    field_.fill(OWNER.email)
    row.get_by_role("button", name="Grade as theirs").click()
    page.wait_for_url(BATCH_URL)
    expect(page.locator(".flash.ok")).to_contain_text(f"{UNMATCHED} is graded as {OWNER.email}'s")
    row = file_row(page, UNMATCHED)
    expect(row.locator("td").nth(1)).to_have_text(OWNER.email)
    expect(row.locator("td").nth(3).get_by_role("link")).to_have_count(1)  # its submission
    expect(row.locator("form")).to_have_count(0)
    # the page polls again (the batch has one more grading) and reloads with the score
    expect(row.locator("td").nth(3)).to_have_text(OWNER.score, timeout=90_000)
    result.scores[OWNER.email] = row.locator("td").nth(3).inner_text()
    expect(page.locator("[data-progress-url][data-finished]")).to_be_attached()
    shot(page, "batch.png")

    # the Results CSV link: one row per graded file
    href = page.get_by_role("link", name="Results CSV").get_attribute("href")
    response = ctx.request.get(href)
    assert response.ok and response.headers["content-type"].startswith("text/csv"), response
    result.csv_rows = list(csv.DictReader(io.StringIO(response.text())))
    ctx.close()
    return result


# ------------------------------------------------------------------ 1. a batch
def test_batch_upload_progress_scores_and_assigning_the_unmatched_file(batch: Batch):
    # the junk entry is left out: 6 students' files and the unmatched one
    assert "plain layout, 7 files" in batch.header, batch.header
    assert "__MACOSX" not in batch.header
    first, last = batch.loads[0], batch.loads[-1]
    assert first["max"] == len(FILED) and last["finished"], batch.loads
    assert last["done"] == last["max"] == len(FILED), batch.loads
    if not first["finished"]:  # it must poll, and reload by itself once finished
        assert batch.polls, "the batch page never polled progress.json"
        assert len(batch.loads) >= 2, f"the batch page did not reload by itself: {batch.loads}"
        assert batch.polls[-1]["finished"], batch.polls
        # the bar only moves forward, from what the first page said to the end
        done = [first["done"], *(p["done"] for p in batch.polls), last["done"]]
        assert done == sorted(done) and done[0] < done[-1], f"the bar did not advance: {done}"
        assert {(p["total"], p["unsettled"]) for p in batch.polls} == {(len(FILED), 1)}, \
            batch.polls
    # every matched file shows its score
    want = {p.email: p.score for p in ROSTER}
    assert batch.scores == want, batch.scores
    # the unmatched file was listed with the assign form and the roster as suggestions
    assert batch.unmatched["student"] == "—", batch.unmatched
    assert batch.unmatched["status"] == "unmatched", batch.unmatched
    assert "no roster student fits" in batch.unmatched["note"], batch.unmatched
    assert batch.unmatched["forms"] == 1, batch.unmatched
    assert "1 file waits for you" in batch.unmatched["warning"], batch.unmatched
    assert sorted(batch.unmatched["suggestions"]) == sorted(p.email for p in ROSTER), \
        batch.unmatched
    # the CSV has the 7 graded files (the student column is the student's e-mail: the
    # assigned file is under the student it was given to)
    students = sorted(r["student"] for r in batch.csv_rows)
    assert students == sorted([p.email for p in FILED] + [OWNER.email]), batch.csv_rows
    scores = {r["student"]: float(r["score"]) for r in batch.csv_rows}
    assert scores[OWNER.email] == 1.0 and scores[FILED[4].email] == 0.0, scores


def test_assignment_page_lists_the_batch(course: Course, batch: Batch, staff_context):
    page = staff_context().new_page()
    page.goto(course.assignments[MAIN])
    rows = page.locator("section[aria-labelledby=batch-h] table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("class.zip")
    expect(rows.first).to_contain_text("plain")
    expect(rows.first.locator("td").nth(4)).to_have_text("7 / 7 graded")
    rows.first.get_by_role("link").click()
    expect(page).to_have_url(batch.url)


# ------------------------------------------------------------------ 2. a hostile zip
def test_hostile_zip_is_refused_whole(course: Course, staff_context):
    page = staff_context().new_page()
    path = course.assignments[OTHER]
    page.goto(path)
    upload(page, "hostile.zip", hostile_zip())
    page.wait_for_load_state()
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))
    flash = page.locator(".flash.error")
    expect(flash).to_have_count(1)
    expect(flash).to_contain_text("Nothing was stored")
    expect(flash).to_contain_text("'../evil.py' points outside the archive")
    section = page.locator("section[aria-labelledby=batch-h]")
    expect(section.get_by_text("No batch uploaded yet.")).to_be_visible()
    expect(section.locator("table")).to_have_count(0)
    # the good file in it was not stored either: this assignment has nothing to regrade
    page.get_by_role("button", name="Regrade…").click()
    expect(page.locator(".flash.error")).to_contain_text("nothing to regrade")


# ------------------------------------------------------------------ 3. a regrade
def test_regrade_everything_reports_no_change_and_applies(course: Course, batch: Batch,
                                                          staff_context):
    ctx = staff_context()
    page = ctx.new_page()
    page.goto(course.assignments[MAIN])
    expect(page.get_by_label("Only this student (optional)")).to_have_value("")

    page.add_init_script(RECORD_PROGRESS_PAGES)
    polls = record_polls(page)
    page.get_by_role("button", name="Regrade…").click()
    page.wait_for_url(REGRADE_URL)
    expect(page.locator("main h2").first).to_contain_text("of assignment")
    expect(page.locator("main h2 .badge")).to_have_text("pending")
    expect(page.get_by_role("status").filter(has=page.locator("progress"))).to_have_count(1)
    # the page reloads by itself when the regrade is finished: then the counts show
    expect(page.locator("#r-same")).to_be_visible(timeout=120_000)
    page.unroute("**/progress.json")
    loads = progress_pages(page)
    assert loads and loads[-1]["finished"] and loads[-1]["apply"] == "enabled", loads
    if not loads[0]["finished"]:
        assert loads[0]["apply"] == "disabled", f"Apply was enabled too early: {loads}"
        assert polls and polls[-1]["finished"], f"the regrade page did not poll: {polls}"
        assert len(loads) >= 2, f"the regrade page did not reload by itself: {loads}"

    total = len(ROSTER)  # every graded submission of the assignment
    expect(page.locator(".progress .p-total")).to_have_text(str(total))
    expect(page.locator(".progress .p-done")).to_have_text(str(total))
    expect(page.locator("#r-up")).to_have_text("0")
    expect(page.locator("#r-down")).to_have_text("0")
    expect(page.locator("#r-same")).to_have_text(str(total))
    expect(page.locator("#r-none")).to_have_text("No score changed.")
    expect(page.locator("main table")).to_have_count(0)
    apply = page.get_by_role("button", name=re.compile(r"^Apply"))
    expect(apply).to_be_enabled()
    expect(apply).to_have_text(f"Apply: make the {total} new grades current")
    expect(page.get_by_role("button", name=re.compile(r"^Discard"))).to_be_enabled()

    apply.click()
    page.wait_for_url(REGRADE_URL)
    expect(page.locator(".flash.ok")).to_contain_text(f"applied: {total} new gradings now count")
    expect(page.locator("main h2 .badge")).to_have_text("applied")
    expect(page.get_by_text(re.compile(r"^Applied .*: the new grades count"))).to_be_visible()
    expect(page.get_by_role("button", name=re.compile(r"^Apply"))).to_have_count(0)
    # after the apply the counts still compare with the grades before it
    expect(page.locator("#r-same")).to_have_text(str(total))
    shot(page, "regrade.png")

    # the assignment page lists it as applied; the gradebook keeps every score
    page.goto(course.assignments[MAIN])
    regrades = page.locator("section[aria-labelledby=regrade-h] table tbody tr")
    expect(regrades).to_have_count(1)
    expect(regrades.first.locator(".badge")).to_have_text("applied")
    page.goto(f"/staff/courses/{CODE}/grades")
    for p in ROSTER:
        row = page.locator("#grid tbody tr").filter(
            has=page.locator("th[scope=row]", has_text=p.email))
        expect(row.locator("td.score").first).to_have_text(p.score.split(" ")[0])
    ctx.close()


# ------------------------------------------------------------------ 4. keyboard, a11y
def test_upload_form_and_progress_are_accessible(course: Course, batch: Batch, staff_context,
                                                  browser_log: BrowserLog):
    page = staff_context().new_page()
    page.goto(course.assignments[MAIN])
    file_input = page.get_by_label("A zip of the students' files")
    expect(file_input).to_have_attribute("type", "file")
    expect(file_input).to_have_attribute("id", "upload")
    expect(page.get_by_label("Only this student (optional)")).to_have_attribute("type", "email")
    # the keyboard reaches the file input, then its button
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.id") == "upload":
            break
    else:
        pytest.fail("Tab never reached the file input")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent.trim()") == \
        "Upload and grade"

    # the batch page's progress region is a polite live status around the progress bar
    page.goto(batch.url)
    region = page.locator("[data-progress-url]")
    expect(region).to_have_attribute("role", "status")
    expect(region).to_have_attribute("aria-live", "polite")
    status = page.get_by_role("status").filter(has=page.get_by_role("progressbar"))
    expect(status).to_have_count(1)
    expect(status).to_contain_text(f"{len(ROSTER)} / {len(ROSTER)} graded")

    mine = f"/staff/courses/{CODE}/"
    problems = [m for m in (browser_log.console_errors + browser_log.page_errors
                            + browser_log.csp_violations) if mine in m]
    assert not problems, "\n".join(problems)
