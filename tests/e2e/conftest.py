"""End-to-end fixtures: the real service (`backprop serve`) and a real headless Chromium.

One service and one browser for the whole session:

- ``service``: a fresh ``BACKPROP_HOME`` and ``backprop serve`` on a free port — gunicorn, a real
  Celery worker and the embedded Redis on SQLite — plus an instructor who owns course ML101,
  created with the real CLI (``backprop user add``) once ``serve`` has migrated the database.
  Stopped at teardown (SIGTERM to its process group, then SIGKILL).
- ``browser``: Debian's Chromium driven by Playwright (no browser download, ever).
- ``student``: a student who registered through the web form with the course code; later
  contexts reuse their cookies instead of signing in again (the sign-in form is rate limited).
- every context made with ``new_context`` reports console errors, uncaught page errors and
  ``securitypolicyviolation`` events to the session-wide ``browser_log``.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "docs" / "screenshots"
BACKPROP = Path(sys.executable).with_name("backprop")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
COURSE = "ML101"
INSTRUCTOR = ("prof@example.org", "secret123")
STUDENT = ("ada@example.org", "lovelace-1815")


# --------------------------------------------------------------------------- the service
@dataclass
class Service:
    url: str
    home: Path
    log: Path
    proc: subprocess.Popen[bytes]

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pids_of_instance(home: Path) -> list[int]:
    """Processes of *this* test instance still alive (their command line names our home).

    The embedded Redis runs in a session of its own, so the process-group kill cannot reach
    it if `serve` itself had to be SIGKILLed; it is found by its unique socket path instead.
    """
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(home) in cmdline:
            pids.append(int(entry.name))
    return pids


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """Run the real service on embedded defaults in a fresh instance folder."""
    home = tmp_path_factory.mktemp("e2e-home")
    env = {k: v for k, v in os.environ.items()
           if k not in ("REDIS_URL", "DATABASE_URL", "SECRET_KEY")}
    env["BACKPROP_HOME"] = str(home)
    env["PYTHONUNBUFFERED"] = "1"
    port = _free_port()
    log = home / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(BACKPROP), "serve", "--port", str(port)], env=env, cwd=REPO,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    svc = Service(f"http://127.0.0.1:{port}", home, log, proc)
    try:
        # `serve` migrates the fresh database first; once it says it is serving, the instructor
        # and the course are created while gunicorn and the worker boot (saves ~6 s)
        _wait_for_log(svc, "backprop-grader: serving on", 60)
        user_add = subprocess.run(
            [str(BACKPROP), "user", "add", INSTRUCTOR[0], "--role", "instructor",
             "--password", INSTRUCTOR[1], "--course", COURSE],
            env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
        assert user_add.returncode == 0, user_add.stderr
        assert f"enrolled in {COURSE}" in user_add.stdout, user_add.stdout
        _wait_until_ready(svc)
        yield svc
    finally:
        _stop(svc)


def _wait_for_log(svc: Service, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in svc.log.read_text(errors="replace"):
        if svc.proc.poll() is not None:
            raise RuntimeError(f"backprop serve exited ({svc.proc.returncode}):\n{svc.log_tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"no {text!r} in {timeout} s:\n{svc.log_tail()}")
        time.sleep(0.1)


def _wait_until_ready(svc: Service, timeout: float = 90.0) -> None:
    """Wait for /healthz, then for the Celery worker to say it is ready."""
    deadline = time.monotonic() + timeout
    while True:
        if svc.proc.poll() is not None:
            raise RuntimeError(f"backprop serve exited ({svc.proc.returncode}):\n{svc.log_tail()}")
        try:
            with urllib.request.urlopen(svc.url + "/healthz", timeout=2) as r:
                if r.status == 200:
                    break
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"/healthz did not answer in {timeout} s:\n{svc.log_tail()}")
        time.sleep(0.2)
    # the worker logs "backprop@<host> ready." once it consumes the queue
    ready = re.compile(r"backprop@\S+ ready\.")
    worker_deadline = time.monotonic() + 30
    while time.monotonic() < worker_deadline:
        if ready.search(svc.log.read_text(errors="replace")):
            break
        time.sleep(0.2)
    time.sleep(0.5)  # "a little more" for the worker's first zygote


def _stop(svc: Service) -> None:
    """SIGTERM the service's process group, then SIGKILL whatever is left of it."""
    try:
        os.killpg(svc.proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        svc.proc.wait(30)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(svc.proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    svc.proc.wait(10)
    for pid in _pids_of_instance(svc.home):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# --------------------------------------------------------------------------- the browser
@dataclass
class BrowserLog:
    """What the pages said: console errors, uncaught errors, CSP violations."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    visited: list[str] = field(default_factory=list)

    def csp_problems(self) -> list[str]:
        csp = [m for m in self.console_errors
               if "content security policy" in m.lower() or "content-security-policy" in m.lower()]
        return csp + self.csp_violations


CSP_LISTENER = """
document.addEventListener('securitypolicyviolation', (e) => {
  const what = `${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`;
  try { window.__bpCsp(`${what} on ${location.pathname}`); } catch (_) {}
});
"""


@pytest.fixture(scope="session")
def playwright() -> Iterator[object]:
    if not os.path.exists(CHROMIUM):  # pragma: no cover - depends on the machine
        pytest.skip(f"{CHROMIUM} is not installed (browsers are never downloaded)")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright) -> Iterator[object]:
    b = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield b
    b.close()


@pytest.fixture(scope="session")
def browser_log() -> BrowserLog:
    return BrowserLog()


@pytest.fixture(scope="session")
def new_context(browser, service: Service, browser_log: BrowserLog) \
        -> Iterator[Callable[..., object]]:
    """Return a factory of browser contexts on the service that report to ``browser_log``."""
    made = []

    def make(**kwargs):
        kwargs.setdefault("base_url", service.url)
        kwargs.setdefault("viewport", {"width": 1280, "height": 900})
        ctx = browser.new_context(**kwargs)
        ctx.set_default_timeout(15_000)
        ctx.expose_function("__bpCsp", lambda text: browser_log.csp_violations.append(text))
        ctx.add_init_script(CSP_LISTENER)

        def on_page(page):
            page.on("console", lambda m: browser_log.console_errors.append(
                f"{m.type}: {m.text} ({page.url})") if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: browser_log.page_errors.append(f"{e} ({page.url})"))
            page.on("framenavigated", lambda f: browser_log.visited.append(f.url)
                    if f == page.main_frame else None)

        ctx.on("page", on_page)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        try:
            ctx.close()
        except Exception:
            pass


@dataclass
class Student:
    email: str
    password: str
    storage_state: dict
    landing_url: str
    landing_heading: str
    flash: str


@pytest.fixture(scope="session")
def staff_state(new_context) -> dict:
    """The instructor's cookies: signed in once through the form (sign-in is rate limited)."""
    from playwright.sync_api import expect

    ctx = new_context()
    page = ctx.new_page()
    page.goto("/login")
    page.get_by_label("E-mail").fill(INSTRUCTOR[0])
    page.get_by_label("Password").fill(INSTRUCTOR[1])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name="Teaching")).to_be_visible()
    state = ctx.storage_state()
    ctx.close()
    return state


@pytest.fixture(scope="session")
def student(new_context, service: Service) -> Student:
    """A student who created their account through the register form with the course code."""
    ctx = new_context()
    page = ctx.new_page()
    page.goto("/login")
    page.get_by_role("link", name=re.compile("Create an account")).click()
    page.get_by_label("E-mail").fill(STUDENT[0])
    page.get_by_label("Name").fill("Ada")
    page.get_by_label("Course join code").fill(COURSE)
    page.get_by_label("Password", exact=True).fill(STUDENT[1])
    page.get_by_label("Repeat password").fill(STUDENT[1])
    page.get_by_role("button", name="Create account").click()
    page.wait_for_load_state()
    flash = page.locator(".flash").first.inner_text() if page.locator(".flash").count() else ""
    st = Student(STUDENT[0], STUDENT[1], ctx.storage_state(), page.url,
                 page.locator("h1").first.inner_text(), flash)
    ctx.close()
    return st


@pytest.fixture()
def student_context(new_context, student: Student):
    """A fresh desktop context signed in as the student (their cookies, no new sign-in)."""
    def make(**kwargs):
        return new_context(storage_state=student.storage_state, **kwargs)
    return make


@pytest.fixture(scope="session", autouse=True)
def _screenshots_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
