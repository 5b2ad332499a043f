"""Browser acceptance: an instructor's road through the /staff workspace, in headless Chromium.

An instructor creates a course, imports a roster (with hostile names), adds an assignment
with a deadline typed in their own time zone, watches students' submissions arrive on the
class grid, drills down to a student and a submission, opens the per-tensor analytics and
downloads CSVs; the grid and the analytics fit a phone, work with the keyboard, and raise
no console error or CSP violation.

The instructor signs in once (the sign-in form is rate limited); the course, its roster,
its assignment and the students' graded submissions are module fixtures, so every test
also runs alone (`-k`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import secrets
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import BACKPROP, REPO, BrowserLog, Service
from tests.e2e.helpers import corpus, set_editor, shot

pytestmark = pytest.mark.timeout(180)

TAG = secrets.token_hex(3)
CODE = f"E2E-{TAG.upper()}"
TITLE = f"Backprop by hand {TAG}"
ZONE = "Europe/Paris"  # the instructor's browser: deadlines are typed in it
PHONE = {"width": 375, "height": 800}
SUBMISSION_URL = re.compile(r"/submissions/(\d+)$")

HOSTILE_FORMULA = "=cmd|' /C calc'!A0"
HOSTILE_SCRIPT = "<script>alert(1)</script>"


@dataclass(frozen=True)
class Person:
    email: str
    name: str
    student_id: str
    section: str
    code: str | None  # what they submit (None: nothing)
    score: str        # what the grid shows then


FORMULA = Person(f"e2e-formula-{TAG}@example.org", HOSTILE_FORMULA, "S001", "A",
                 corpus("ex2/lecture.py"), "1")
SCRIPT = Person(f"e2e-script-{TAG}@example.org", HOSTILE_SCRIPT, "S002", "B",
                corpus("ex2/bug_sign.py"), "0")
ALICE = Person(f"e2e-alice-{TAG}@example.org", "Alice Plain", "S003", "A", None, "—")
ROSTER = (FORMULA, SCRIPT, ALICE)
# not on the roster: registers with the join code alone
GRACE = Person(f"e2e-grace-{TAG}@example.org", "Grace Hopper", "", "", corpus("ex2/one_hot.py"),
               "1")
SUBMITTERS = (FORMULA, SCRIPT, GRACE)
EX2_TENSORS = ("dlogits",)  # makemore4/ex2 grades one tensor


def roster_csv() -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["email", "name", "student_id", "section"])
    for p in ROSTER:
        writer.writerow([p.email, p.name, p.student_id, p.section])
    return out.getvalue()


def watch_dialogs(page: Page, dialogs: list[str]) -> None:
    """Record (and dismiss) every alert/confirm/prompt: a hostile name must never fire one."""
    def on_dialog(dialog):
        dialogs.append(f"{dialog.type}: {dialog.message} ({page.url})")
        dialog.dismiss()
    page.on("dialog", on_dialog)


def grid_row(page: Page, person: Person):
    return page.locator("#grid tbody tr").filter(
        has=page.locator("th[scope=row]", has_text=person.email))


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def staff_context(new_context, staff_state) -> Callable[..., object]:
    """Return a factory of contexts signed in as the instructor, in their time zone."""
    def make(**kwargs):
        kwargs.setdefault("timezone_id", ZONE)
        return new_context(storage_state=staff_state, **kwargs)
    return make


@dataclass
class Course:
    code: str
    join_code: str
    assignment_id: int
    deadline_local: str  # as typed in the datetime-local input
    deadline_utc: str    # as the server should store it (ISO, Z)
    preview_counts: dict[str, str]
    dialogs: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def course(staff_context) -> Course:
    """Create a course through the form, import the roster, add an ex2 assignment."""
    ctx = staff_context()
    page = ctx.new_page()
    dialogs: list[str] = []
    watch_dialogs(page, dialogs)

    # -- create the course
    page.goto("/staff/")
    expect(page.locator("h1")).to_have_text("Courses you teach")
    page.get_by_label("Course code", exact=True).fill(CODE)
    page.get_by_label("Title").fill(TITLE)
    page.get_by_role("button", name="Create course").click()
    page.wait_for_url(f"**/staff/courses/{CODE}")
    expect(page.locator("h1")).to_have_text(TITLE)
    join_code = page.locator("#join-code").inner_text().strip()
    assert re.fullmatch(r"[A-Za-z0-9_-]{4,40}", join_code), join_code
    expect(page.locator(".flash.ok")).to_contain_text(join_code)
    expect(page.get_by_role("button", name="Regenerate join code")).to_be_visible()

    # -- import the roster: upload a CSV, check the preview, apply
    page.locator("nav.tabs").get_by_role("link", name="Roster").click()
    expect(page.locator("table.roster caption")).to_contain_text("1 member")  # the instructor
    page.locator("input[type=file][name=upload]").set_input_files(files=[{
        "name": "roster.csv", "mimeType": "text/csv", "buffer": roster_csv().encode()}])
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("h2").first).to_have_text("Preview of roster.csv")
    counts = {}
    for stat in page.locator(".stat").all():  # "3 new", "0 errors", …
        number, _, label = " ".join(stat.text_content().split()).partition(" ")
        counts[label.split(" ")[0].rstrip("s")] = number
    changes = page.locator("table.roster-changes tbody tr")
    expect(changes).to_have_count(3)
    for line, p in enumerate(ROSTER, start=2):  # line 1 is the header
        row = changes.filter(has_text=p.email)
        expect(row.locator("td").nth(0)).to_have_text(str(line))
        expect(row.locator("td").nth(1)).to_have_text("new (invited)")
        expect(row.locator("td").nth(3)).to_have_text(p.name)  # literally, not run
    expect(page.locator(".errors-list")).to_have_count(0)
    shot(page, "staff-roster-preview.png")
    page.get_by_role("button", name="Apply these changes").click()
    page.wait_for_url(f"**/staff/courses/{CODE}/roster")
    expect(page.locator(".flash.ok")).to_contain_text("Roster imported")

    # -- add an assignment with a deadline two days ahead, typed in the instructor's zone
    page.locator("nav.tabs").get_by_role("link", name="Assignments").click()
    page.get_by_role("link", name="Add an assignment").click()
    expect(page.locator("h2")).to_have_text("Add an assignment")
    expect(page.locator("input[name=tz]")).to_have_value(ZONE)  # app.js filled it
    local = (dt.datetime.now(ZoneInfo(ZONE)) + dt.timedelta(days=2)).replace(
        minute=0, second=0, microsecond=0)
    deadline_local = local.strftime("%Y-%m-%dT%H:%M")
    deadline_utc = local.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    page.get_by_label("Exercise").select_option("makemore4/ex2")
    page.get_by_label("Title").fill("Softmax backward")
    page.locator("input#deadline").fill(deadline_local)
    page.get_by_label("Late policy").select_option("penalty")
    page.get_by_label("Penalty per day (%)").fill("10")
    page.get_by_label("Cut-off (days after the deadline)").fill("3")
    page.get_by_label("Max submissions").fill("10")
    page.get_by_label("Minimum interval (seconds)").fill("0")
    page.get_by_label("Counted submission").select_option("best")
    page.get_by_role("button", name="Add assignment").click()
    page.wait_for_url(f"**/staff/courses/{CODE}/assignments")
    expect(page.locator(".flash.ok")).to_contain_text("added")
    row = page.locator("table tbody tr").filter(has_text="Softmax backward")
    expect(row).to_have_count(1)
    href = row.get_by_role("link", name="Analytics").get_attribute("href")
    assignment_id = int(re.search(r"/assignments/(\d+)/analytics", href).group(1))
    stored = row.locator("td").nth(2).locator("time").get_attribute("datetime")
    ctx.close()
    assert stored == deadline_utc, (stored, deadline_utc, deadline_local)
    return Course(CODE, join_code, assignment_id, deadline_local, deadline_utc, counts,
                  dialogs)


@dataclass
class Graded:
    before: dict[str, str]        # the grid's cells before anybody submitted
    after: dict[str, str]         # … once the grading is done
    submissions: dict[str, str]   # email → the student's submission URL
    waited: float                 # seconds from the last submission to the full grid
    dialogs: list[str]


def _register_and_submit(new_context, course: Course, person: Person, dialogs: list[str]) -> str:
    """Register through the form with the join code (claiming an invited account when the
    roster has the address), open the assignment and submit; return the submission URL."""
    ctx = new_context()
    page = ctx.new_page()
    watch_dialogs(page, dialogs)
    page.goto("/register")
    page.get_by_label("E-mail").fill(person.email)
    if person not in ROSTER:  # an invited account keeps the roster's name
        page.get_by_label("Name").fill(person.name)
    else:  # claiming an invitation: the roster's student id proves it is theirs
        page.get_by_label("Student ID (if your instructor listed you with one)").fill(
            person.student_id)
    page.get_by_label("Course join code").fill(course.join_code)
    page.get_by_label("Password", exact=True).fill("correct-horse-1")
    page.get_by_label("Repeat password").fill("correct-horse-1")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(f"**/courses/{course.code}")
    expect(page.locator("h1")).to_have_text(TITLE)
    page.locator("table.assignments").get_by_role("link", name="Softmax backward").click()
    expect(page.locator(".crumbs")).to_contain_text("makemore4/ex2")
    set_editor(page, person.code)
    page.get_by_role("button", name="Submit for grading").click()
    page.wait_for_url(SUBMISSION_URL)
    url = page.url
    ctx.close()
    return url


def _cells(page: Page) -> dict[str, str]:
    return {p.email: grid_row(page, p).locator("td.score").first.inner_text().strip()
            for p in (*ROSTER, GRACE) if grid_row(page, p).count()}


@pytest.fixture(scope="module")
def graded(course: Course, staff_context, new_context) -> Graded:
    """Three students submit (two right, one sign error) while the instructor watches the
    grid; wait (reloading) until every submission shows its score there."""
    dialogs: list[str] = []
    ctx = staff_context()
    page = ctx.new_page()
    watch_dialogs(page, dialogs)
    page.goto(f"/staff/courses/{course.code}/grades")
    expect(page.locator("#grid")).to_be_visible()
    before = _cells(page)

    submissions = {p.email: _register_and_submit(new_context, course, p, dialogs)
                   for p in SUBMITTERS}
    start = time.monotonic()
    deadline = start + 60
    want = {p.email: p.score for p in (*ROSTER, GRACE)}
    while True:
        page.reload()
        after = _cells(page)
        if after == want:
            break
        assert time.monotonic() < deadline, f"the grid never showed the scores: {after}"
        time.sleep(0.5)
    waited = time.monotonic() - start
    ctx.close()
    return Graded(before, after, submissions, waited, dialogs)


# ------------------------------------------------------------------ 1. course, roster, assignment
def test_instructor_creates_course_imports_roster_and_adds_assignment(course, staff_context):
    assert course.preview_counts["new"] == "3", course.preview_counts
    assert course.preview_counts["error"] == "0", course.preview_counts
    assert course.preview_counts["unchanged"] == "0", course.preview_counts
    assert not course.dialogs, course.dialogs

    page = staff_context().new_page()
    dialogs: list[str] = []
    watch_dialogs(page, dialogs)
    page.goto(f"/staff/courses/{course.code}/roster")
    expect(page.locator("table.roster caption")).to_contain_text("4 members")
    for p in ROSTER:
        row = page.locator("table.roster tbody tr").filter(has_text=p.email)
        expect(row.locator("td").nth(0)).to_have_text(p.name)  # shown literally, never run
        expect(row.locator(".badge.invited")).to_be_visible()
        expect(row.locator("td").nth(2)).to_have_text(p.student_id)
        expect(row.locator("td").nth(3)).to_have_text(p.section)
    assert page.evaluate("() => document.querySelectorAll('main script').length") == 0

    # the course list knows the course and its join code
    page.goto("/staff/")
    row = page.locator("table tbody tr").filter(has_text=course.code)
    expect(row.locator("code")).to_have_text(course.join_code)

    # the assignment list shows the deadline in the viewer's zone (app.js rewrote the UTC)
    page.goto(f"/staff/courses/{course.code}/assignments")
    cell = page.locator("table tbody tr").filter(has_text="Softmax backward").locator("td").nth(2)
    expect(cell.locator("time")).not_to_contain_text("UTC")
    expect(page.locator("[data-zone-name]")).to_have_text(ZONE)
    # and the edit form gives the deadline back as typed
    page.goto(f"/staff/courses/{course.code}/assignments/{course.assignment_id}/edit")
    expect(page.locator("input#deadline")).to_have_value(course.deadline_local)
    assert not dialogs, dialogs


# ------------------------------------------------------------------ 2. submissions on the grid
def test_submissions_arrive_on_the_grid_and_drill_down(course, graded, staff_context):
    # nothing before; the scores once graded (a roster student without a submission: "—")
    assert graded.before == {p.email: "—" for p in ROSTER}, graded.before
    assert graded.after == {p.email: p.score for p in (*ROSTER, GRACE)}, graded.after
    assert not graded.dialogs, graded.dialogs

    page = staff_context().new_page()
    dialogs: list[str] = []
    watch_dialogs(page, dialogs)
    page.goto(f"/staff/courses/{course.code}/grades")
    expect(page.locator("#grid tbody tr")).to_have_count(4)
    for p in (*ROSTER, GRACE):
        header = grid_row(page, p).locator("th[scope=row] a")
        expect(header).to_have_text(p.name)  # hostile names as text
    expect(grid_row(page, ALICE).locator("td.score.cell-none").first).to_have_text("—")
    expect(grid_row(page, FORMULA).locator("td.score.cell-full")).to_have_count(1)
    expect(grid_row(page, SCRIPT).locator("td.score.cell-zero")).to_have_count(1)
    assert page.evaluate("() => document.querySelectorAll('main script').length") == 0
    shot(page, "staff-dashboard.png")

    # search narrows the grid
    page.get_by_label("Search").fill("grace")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#grid tbody tr")).to_have_count(1)
    page.goto(f"/staff/courses/{course.code}/grades")

    # a score cell links to the submission, which staff can read
    grid_row(page, FORMULA).locator("td.score a").first.click()
    expect(page).to_have_url(graded.submissions[FORMULA.email])
    expect(page.locator("p.score")).to_contain_text("1 / 1")

    # the row header leads to the student's drill-down, and on to the submission
    page.go_back()
    grid_row(page, SCRIPT).locator("th[scope=row] a").click()
    expect(page).to_have_url(re.compile(rf"/staff/courses/{course.code}/students/\d+$"))
    expect(page.locator("main h2").first).to_contain_text(HOSTILE_SCRIPT)
    subs = page.locator("table").filter(has=page.locator("caption", has_text="Every submission"))
    expect(subs.locator("tbody tr")).to_have_count(1)
    expect(subs.locator("tbody tr td").nth(4)).to_have_text("0 / 1")
    subs.locator("tbody tr a").first.click()
    expect(page).to_have_url(graded.submissions[SCRIPT.email])
    expect(page.locator("p.score")).to_contain_text("0 / 1")
    expect(page.locator("table.tensors tbody tr th").first).to_have_text("dlogits")
    assert not dialogs, dialogs


# ------------------------------------------------------------------ 3. analytics and CSV
def test_per_tensor_analytics_and_csv_downloads(course, graded, staff_context):
    ctx = staff_context()
    page = ctx.new_page()
    page.goto(f"/staff/courses/{course.code}/grades")
    page.locator("#grid thead").get_by_role("link", name="analytics").click()
    expect(page).to_have_url(re.compile(
        rf"/staff/courses/{course.code}/assignments/{course.assignment_id}/analytics$"))
    expect(page.locator("main h2").first).to_contain_text("Analytics: Softmax backward")

    stats = page.locator(".analytics-stats")
    expect(stats.locator(".stat").filter(has_text="students")).to_contain_text("4")
    expect(stats.locator(".stat").filter(has_text="submitted")).to_contain_text("3")
    expect(stats.locator(".stat").filter(has_text="full marks")).to_contain_text("2")

    # the per-tensor difficulty chart: one bar (and label) per graded tensor
    chart = page.locator("section[aria-labelledby=difficulty] svg")
    expect(chart).to_be_visible()
    assert chart.get_attribute("role") == "img"
    expect(chart.locator("rect.bar")).to_have_count(len(EX2_TENSORS))
    labels = chart.locator("g > text[text-anchor=end]").all_text_contents()
    assert labels == list(EX2_TENSORS), labels
    expect(chart.locator("g > text").nth(1)).to_have_text("67 % (2/3)")
    box = chart.bounding_box()
    assert box and box["width"] > 200 and box["height"] > 20, box
    for name in ("scores", "timeline", "attempts"):
        expect(page.locator(f"section[aria-labelledby={name}] svg rect.bar").first).to_be_attached()
    # the deadline two days ahead is drawn on the timeline
    expect(page.locator("section[aria-labelledby=timeline] svg .mark")).to_have_count(1)

    # the tables
    items = page.locator("table.analytics-items tbody tr")
    expect(items).to_have_count(len(EX2_TENSORS))
    expect(items.first.locator("th")).to_have_text("dlogits")
    expect(items.first.locator("td").first).to_contain_text("67 %")
    mistakes = page.locator("table.analytics-mistakes tbody tr")
    expect(mistakes.first).to_be_visible()
    assert mistakes.count() >= 1

    # a CSV link downloads the table
    with page.expect_download() as info:
        page.locator("table.analytics-items caption").get_by_role("link", name="CSV").click()
    download = info.value
    assert download.suggested_filename == (
        f"{course.code}-assignment-{course.assignment_id}-tensors.csv")
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert [r["tensor"] for r in rows] == list(EX2_TENSORS), rows
    assert [(r["students"], r["students_right"]) for r in rows] == [("3", "2")], rows

    # the grid's Canvas CSV defuses the formula in the hostile name with a leading '
    response = ctx.request.get(f"/staff/courses/{course.code}/gradebook.csv?format=canvas")
    assert response.ok, response.status
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(response.text())))
    by_login = {r[3]: r for r in table[2:]}
    assert by_login[FORMULA.email][0] == "'" + HOSTILE_FORMULA, by_login[FORMULA.email]
    assert by_login[SCRIPT.email][0] == HOSTILE_SCRIPT, by_login[SCRIPT.email]
    assert float(by_login[FORMULA.email][-1]) == 1 and float(by_login[SCRIPT.email][-1]) == 0, table
    assert by_login[ALICE.email][-1] == "", table


# ------------------------------------------------------------------ 4. phone width
NO_HSCROLL = "() => [document.documentElement.scrollWidth, window.innerWidth]"


def _assert_no_hscroll(page: Page, what: str) -> None:
    scroll_width, inner = page.evaluate(NO_HSCROLL)
    assert scroll_width <= inner + 1, f"{what}: page scrolls sideways ({scroll_width} > {inner})"


def test_grid_and_analytics_fit_a_phone(course, graded, staff_context):
    ctx = staff_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = ctx.new_page()
    for what, path in (
            ("grades", f"/staff/courses/{course.code}/grades"),
            ("analytics", f"/staff/courses/{course.code}/assignments/{course.assignment_id}"
                          "/analytics"),
            ("roster", f"/staff/courses/{course.code}/roster")):
        page.goto(path)
        page.wait_for_load_state()
        _assert_no_hscroll(page, what)
    # the grid scrolls inside its wrapper instead, and the charts shrink to the screen
    page.goto(f"/staff/courses/{course.code}/grades")
    expect(page.locator(".table-wrap #grid")).to_be_visible()
    page.goto(f"/staff/courses/{course.code}/assignments/{course.assignment_id}/analytics")
    for svg in page.locator("figure.plot svg").all():
        box = svg.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 1, box


# ------------------------------------------------------------------ 5. keyboard
FOCUS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return {kind: 'body'};
  let kind = el.tagName.toLowerCase();
  if (el.classList.contains('skip')) kind = 'skip';
  else if (el.closest('nav.tabs')) kind = 'tab';
  else if (el.closest('#grid thead')) kind = 'sort';
  const style = getComputedStyle(el);
  return {kind, outline: style.outlineStyle, outlineWidth: style.outlineWidth,
          focusVisible: el.matches(':focus-visible'), text: (el.textContent || '').trim(),
          href: el.getAttribute('href') || '', rect: el.getBoundingClientRect().toJSON()};
}"""


def test_keyboard_reaches_tabs_and_sorts_the_grid(course, graded, staff_context):
    page = staff_context().new_page()
    url = f"/staff/courses/{course.code}/grades"
    page.goto(url)
    seen = []
    for _ in range(40):
        page.keyboard.press("Tab")
        info = page.evaluate(FOCUS)
        seen.append(info)
        if info["kind"] == "sort":
            break
    kinds = [s["kind"] for s in seen]
    assert kinds[0] == "skip", kinds
    assert "tab" in kinds and kinds[-1] == "sort", kinds
    first = {}
    for s in seen:
        first.setdefault(s["kind"], s)
    for kind in ("skip", "tab", "sort"):
        s = first[kind]
        assert s["focusVisible"] and s["outline"] != "none" and s["outlineWidth"] != "0px", s
    assert first["skip"]["rect"]["x"] >= 0, first["skip"]  # shows itself when focused
    assert first["tab"]["text"] == "Overview", first["tab"]
    assert first["sort"]["text"].startswith("Student"), first["sort"]
    # the skip link's target is <main>
    page.goto(url)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"

    # Enter on the focused "Student" header sorts (the grid starts by name, ascending)
    names = page.locator("#grid tbody th[scope=row] a")
    ascending = names.all_inner_texts()
    assert len(set(ascending)) == 4, ascending
    header = page.locator("#grid thead a").first
    header.focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    header = page.locator("#grid thead a").first
    expect(header).to_have_attribute("aria-sort", "descending")
    assert names.all_inner_texts() == list(reversed(ascending)), names.all_inner_texts()
    # focus a score column header and sort by it: Enter again
    col = page.locator("#grid thead th").nth(3).get_by_role("link").first
    col.focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "sort=a" in page.url, page.url
    expect(page.locator("#grid thead th").nth(3).locator("a[aria-sort]")).to_have_count(1)


# ------------------------------------------------------------------ 6. console and CSP
def test_no_console_errors_or_csp_violations_on_staff_pages(course, graded, staff_context,
                                                            browser_log: BrowserLog,
                                                            service: Service):
    page = staff_context().new_page()
    base = f"/staff/courses/{course.code}"
    paths = ["/staff/", "/staff/queue", base, f"{base}/roster", f"{base}/assignments",
             f"{base}/assignments/new", f"{base}/assignments/{course.assignment_id}/edit",
             f"{base}/assignments/{course.assignment_id}/extensions",
             f"{base}/grades", f"{base}/grades?sort=total&desc=1",
             f"{base}/assignments/{course.assignment_id}/analytics",
             f"{base}/assignments/{course.assignment_id}/analytics?section=B"]
    statuses = {}
    for path in paths:
        response = page.goto(path)
        statuses[path] = response.status if response else None
        expect(page.locator("h1")).to_be_visible()
    page.goto(f"{base}/grades")
    grid_row(page, FORMULA).locator("th[scope=row] a").click()
    expect(page.locator("main h2").first).to_be_visible()
    statuses["drill-down"] = 200
    bad = {p: s for p, s in statuses.items() if s != 200}
    assert not bad, f"{bad}\n{service.log_tail(80)}"

    def staff(lines: list[str]) -> list[str]:
        return [m for m in lines if "/staff" in m]
    problems = (staff(browser_log.console_errors) + staff(browser_log.page_errors)
                + staff(browser_log.csp_violations))
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------ 7. the whole backward pass
EX1_FILES = {FORMULA: "ex1/lecture.py", SCRIPT: "ex1/bug_no_1_over_n.py",
             GRACE: "ex1/bug_tanh_hpreact.py"}


def _api(service: Service, method: str, path: str, token: str, body: dict | None = None):
    request = urllib.request.Request(
        service.url + path, method=method, data=json.dumps(body).encode() if body else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def test_ex1_analytics_shows_where_the_class_breaks(course, graded, staff_context, service):
    """An ex1 assignment (26 tensors): the difficulty chart has a bar per tensor in backward
    order, dlogprobs first and dC last, lower where the students' bugs bite."""
    from grader import get_exercise

    ctx = staff_context()
    page = ctx.new_page()
    page.goto(f"/staff/courses/{course.code}/assignments/new")
    page.get_by_label("Exercise").select_option("makemore4/ex1")
    page.get_by_label("Title").fill("The whole MLP")
    page.get_by_role("button", name="Add assignment").click()
    page.wait_for_url(f"**/staff/courses/{course.code}/assignments")
    row = page.locator("table tbody tr").filter(has_text="The whole MLP")
    href = row.get_by_role("link", name="Analytics").get_attribute("href")
    # the students submit through the API with their own tokens (the CLI prints one)
    env = {**os.environ, "BACKPROP_HOME": str(service.home)}
    pending = []
    for person, name in EX1_FILES.items():
        token = subprocess.run([str(BACKPROP), "token", person.email], env=env, cwd=REPO,
                               capture_output=True, text=True, timeout=120,
                               check=True).stdout.strip()
        sub = _api(service, "POST", "/api/v1/submissions", token,
                   {"exercise": "makemore4/ex1", "code": corpus(name)})
        pending.append((sub["id"], token))
    deadline = time.monotonic() + 90
    for ident, token in pending:
        while _api(service, "GET", f"/api/v1/submissions/{ident}", token)["status"] != "done":
            assert time.monotonic() < deadline, "ex1 submissions were not graded in 90 s"
            time.sleep(0.5)
    page.goto(href)
    chart = page.locator("section[aria-labelledby=difficulty] svg")
    names = [g.name for g in get_exercise("makemore4/ex1").graded]
    labels = chart.locator("g > text[text-anchor=end]").all_text_contents()
    assert labels == [f"d{n}" for n in names] and labels[0] == "dlogprobs" \
        and labels[-1] == "dC", labels
    expect(chart.locator("rect.bar")).to_have_count(len(names))
    # the correct file gets everything; the missing 1/n breaks dlogprobs and all below it;
    # the tanh bug breaks dhpreact and below: the bars drop there
    items = {r.locator("th").inner_text(): r.locator("td").first.inner_text()
             for r in page.locator("table.analytics-items tbody tr").all()}
    assert items["dlogprobs"] == "67 % (2/3)" and items["dh"] == "67 % (2/3)", items
    assert items["dhpreact"] == "33 % (1/3)" and items["dC"] == "33 % (1/3)", items
    shot(page, "staff-analytics.png")
    ctx.close()
