"""The real service under measure: batch grading for ``batch_bench.py``, and a live
submission's stored → stored latency against the sandboxed grade (``stored_to_stored``).

    .venv/bin/python bench/service_bench.py --stored              # ex1 and ex2, 7 samples
    .venv/bin/python bench/service_bench.py --stored --samples 15 --exercise makemore4/ex1

Batch grading: ``backprop serve -c 2``
(gunicorn, one Celery worker with 2 grading processes, embedded Redis and SQLite) on a fresh
BACKPROP_HOME; a roster imported with the CLI; the files uploaded as one zip through the API
(``POST /api/v1/courses/CODE/batches``) and followed through it until done.

It also times a live submission (``POST /api/v1/submissions`` → done) on an idle queue and
while a second batch of the same size is being graded: the bulk queue must not hold it up.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

BACKPROP = str(Path(sys.executable).with_name("backprop"))
COURSE = "BENCH"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(env: dict[str, str], *args: str) -> str:
    out = subprocess.run([BACKPROP, *args], env=env, capture_output=True, text=True,
                         timeout=300, stdin=subprocess.DEVNULL)
    if out.returncode != 0:
        raise RuntimeError(f"backprop {' '.join(args)}: {out.stderr.strip()}")
    return out.stdout.strip()


def _zip(files: list[tuple[str, str]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, code in files:
            z.writestr(f"{name}.py", code)
    return out.getvalue()


class _Service:
    """``backprop serve`` on a temporary instance, stopped (process group) on exit."""

    def __init__(self, concurrency: int) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="bench-service-")
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("DATABASE_URL", "REDIS_URL")}
        self.env["BACKPROP_HOME"] = str(Path(self.tmp.name) / "home")
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(Path(self.tmp.name) / "serve.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [BACKPROP, "serve", "--port", str(self.port), "-c", str(concurrency)],
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 180) -> None:
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"backprop serve exited; see {self.log.name}")
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        else:
            raise RuntimeError("backprop serve did not answer")
        # the worker is up when its zygotes have started: its log says "ready"
        while time.monotonic() < deadline and b"ready" not in \
                Path(self.log.name).read_bytes():
            time.sleep(0.5)

    def close(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()
        self.tmp.cleanup()


def measure(files: list[tuple[str, str]], exercise_id: str, live_code: str,
            concurrency: int = 2, live_runs: int = 3) -> dict[str, float]:
    """Return the service's batch rate (files/s) and live latencies (ms), idle and busy."""
    import requests

    svc = _Service(concurrency)
    try:
        svc.wait_ready()
        env = svc.env
        _run(env, "user", "add", "prof@bench.org", "--role", "instructor")
        _run(env, "course", "add", COURSE, "--instructor", "prof@bench.org")
        _run(env, "assignment", "add", COURSE, exercise_id)
        roster = Path(svc.tmp.name) / "roster.csv"
        roster.write_text("email,name\n" + "".join(f"{n},{n}\n" for n, _ in files)
                          + "live@bench.org,Live\n")
        _run(env, "roster", "import", COURSE, str(roster))
        staff = {"Authorization": f"Bearer {_run(env, 'token', 'prof@bench.org')}"}
        student = {"Authorization": f"Bearer {_run(env, 'token', 'live@bench.org')}"}
        api = svc.url + "/api/v1"

        def upload(batch_files: list[tuple[str, str]]) -> int:
            r = requests.post(f"{api}/courses/{COURSE}/batches", headers=staff, timeout=300,
                              files={"file": ("b.zip", _zip(batch_files))},
                              data={"exercise": exercise_id})
            r.raise_for_status()
            return r.json()["id"]

        def progress(batch_id: int) -> dict:
            r = requests.get(f"{api}/courses/{COURSE}/batches/{batch_id}", headers=staff,
                             timeout=30)
            r.raise_for_status()
            return r.json()["progress"]

        def live(tag: int) -> float:
            start = time.perf_counter()
            r = requests.post(f"{api}/submissions", headers=student, timeout=30,
                              json={"exercise": exercise_id, "code": f"{live_code}\n# {tag}\n"})
            r.raise_for_status()
            ident = r.json()["id"]
            while requests.get(f"{api}/submissions/{ident}", headers=student,
                               timeout=30).json()["status"] != "done":
                time.sleep(0.02)
            return (time.perf_counter() - start) * 1000

        live(-1)  # warm-up: the first grading of a process pays for imports
        idle = [live(i) for i in range(live_runs)]

        start = time.perf_counter()
        first = upload(files)
        while not (p := progress(first))["finished"]:
            time.sleep(0.25)
        rate = p["total"] / (time.perf_counter() - start)

        second = upload([(n, code + "\n# second batch\n") for n, code in files])
        while progress(second)["done"] < max(1, len(files) // 10):
            time.sleep(0.1)
        busy = [live(100 + i) for i in range(live_runs)]
        left = len(files) - progress(second)["done"]
        return {"rate": rate, "n": p["total"], "live_idle_ms": statistics.median(idle),
                "live_busy_ms": statistics.median(busy), "batch_left_after_live": left}
    finally:
        svc.close()


# --- stored → stored ------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
#: The budget: the queue and the database add at most a third on top of grading.
STORED_BUDGET = 1.35


def _epoch(value: str) -> float:
    """Return the epoch seconds of a naive UTC timestamp as SQLite stores it."""
    import datetime as dt

    return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC).timestamp()


def _p50(values: list[float]) -> float:
    return round(statistics.median(values), 1)


def stored_to_stored(samples: int = 5, exercise_id: str = "makemore4/ex1", warmup: int = 2,
                     concurrency: int | None = None) -> dict[str, float | int | str]:
    """Measure a live submission from its stored row to its stored result, on an idle service,
    against the sandboxed grade of the same source, in one run on this machine.

    A fresh ``backprop serve`` (gunicorn, a Celery worker with ``concurrency`` grading
    processes — default: serve's, one per core — each with its warm sandbox, embedded Redis,
    SQLite) on a temporary BACKPROP_HOME; the exercise's
    ``tests/corpus/<exercise>/lecture.py`` (full marks) is posted ``samples`` times through
    ``POST /api/v1/submissions``, one at a time, after ``warmup`` untimed ones.

    - ``stored``: the submission row's ``created_at`` (the web's clock, in the row) → the
      moment the result is committed, seen by polling the database file every 2 ms.
    - ``grade``: the same source through ``grade()`` on a warm ``Sandbox`` in this process
      (one torch thread, as a grading process), wall clock around the whole call — the
      child's fork and jail, the cases, the judge, diagnosis: the grading work itself through
      the sandbox. Interleaved with the service's samples so both see the same machine.
      (``runtime_ms``, what the worker stores, starts the clock after the child is up, so it
      would flatter the service: it is shown as ``worker_runtime_p50_ms``.)
    - the parts of ``stored``, from the grading row's timestamps: ``queue`` (row stored →
      claimed by the worker: commit, broker, prefetch), ``run`` (claimed → result written:
      the claim's commit and the grade) and ``commit`` (→ result committed and seen: tensor
      rows, arrays, commit).
    """
    import sqlite3

    import requests
    import torch

    from grader import get_exercise, grade
    from grader.sandbox import Sandbox

    source = (ROOT / "tests" / "corpus" / exercise_id / "lecture.py").read_text()
    exercise = get_exercise(exercise_id)
    torch.set_num_threads(1)
    sandbox = Sandbox()
    svc = _Service(concurrency or os.cpu_count() or 2)
    try:
        svc.wait_ready()
        _run(svc.env, "user", "add", "live@bench.org")
        headers = {"Authorization": f"Bearer {_run(svc.env, 'token', 'live@bench.org')}"}
        database = sqlite3.connect(f"file:{Path(svc.env['BACKPROP_HOME']) / 'backprop.db'}"
                                   "?mode=ro", uri=True, isolation_level=None)
        query = ("SELECT s.status, s.created_at, g.started_at, g.finished_at, g.runtime_ms, "
                 "s.score, s.max_score FROM submissions s JOIN gradings g "
                 "ON g.id = s.current_grading_id WHERE s.id = ?")

        def live(tag: int) -> dict[str, float]:
            r = requests.post(f"{svc.url}/api/v1/submissions", headers=headers, timeout=30,
                              json={"exercise": exercise_id, "code": f"{source}\n# {tag}\n"})
            r.raise_for_status()
            ident = r.json()["id"]
            deadline = time.monotonic() + 60
            while (row := database.execute(query, (ident,)).fetchone())[0] != "done":
                if time.monotonic() > deadline:
                    raise RuntimeError(f"submission {ident} not graded in 60 s")
                time.sleep(0.002)
            seen = time.time()
            status, created, started, finished, runtime, score, top = row
            if score != top:
                raise RuntimeError(f"{exercise_id}/lecture.py scored {score}/{top}")
            created, started, finished = map(_epoch, (created, started, finished))
            return {"stored": (seen - created) * 1000, "queue": (started - created) * 1000,
                    "run": (finished - started) * 1000, "commit": (seen - finished) * 1000,
                    "runtime": runtime}

        def sandboxed() -> float:
            start = time.perf_counter()
            result = grade(exercise, source, sandbox=sandbox, student="user:1",
                           secret=b"bench")
            took = (time.perf_counter() - start) * 1000
            if result.score != result.max_score:
                raise RuntimeError(f"{exercise_id}/lecture.py scored {result.score}")
            return took

        for i in range(warmup):
            live(-1 - i)
            sandboxed()
        rows, grades = [], []
        for i in range(samples):
            rows.append(live(i))
            grades.append(sandboxed())
        database.close()
    finally:
        svc.close()
        sandbox.close()
    out: dict[str, float | int | str] = {"exercise": exercise_id, "samples": samples}
    for key in ("stored", "queue", "run", "commit"):
        out[f"{key}_p50_ms"] = _p50([r[key] for r in rows])
    out["worker_runtime_p50_ms"] = _p50([r["runtime"] for r in rows])
    out["grade_p50_ms"] = _p50(grades)
    out["ratio"] = round(out["stored_p50_ms"] / out["grade_p50_ms"], 2)
    out["budget"] = STORED_BUDGET
    return out


def page_to_result(samples: int = 5, exercise_id: str = "makemore4/ex1",
                   warmup: int = 1) -> dict[str, float | int | str]:
    """Measure what a student sees: submitting → the result shown, in headless Chromium
    (playwright, the machine's chromium), on a fresh idle ``backprop serve``.

    The student signs in through the form, opens the assignment, puts the exercise's
    ``lecture.py`` in the editor and clicks "Submit for grading"; the time runs from the
    form's POST leaving the browser until the result page shows its score (the POST, the
    redirect, the live status polls and the reload). Also returns how many ``status.json``
    polls a submission took.
    """
    from playwright.sync_api import expect, sync_playwright

    source = (ROOT / "tests" / "corpus" / exercise_id / "lecture.py").read_text()
    svc = _Service(os.cpu_count() or 2)
    try:
        svc.wait_ready()
        _run(svc.env, "user", "add", "page@bench.org", "--password", "bench-password",
             "--course", COURSE)
        _run(svc.env, "assignment", "add", COURSE, exercise_id, "--min-interval", "0")
        times, polls = [], []
        with sync_playwright() as pw:
            # the machine's chromium, as the browser tests use it
            browser = pw.chromium.launch(executable_path=shutil.which("chromium") or None,
                                         args=["--no-sandbox"])
            page = browser.new_context(base_url=svc.url).new_page()
            page.goto("/login")
            page.get_by_label("E-mail").fill("page@bench.org")
            page.get_by_label("Password").fill("bench-password")
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_load_state()
            seen: list[str] = []
            page.on("request", lambda r: seen.append(r.url) if "status.json" in r.url else None)
            for i in range(warmup + samples):
                page.goto(f"/courses/{COURSE}")
                page.locator("table.assignments tbody tr").filter(has_text=exercise_id) \
                    .get_by_role("link").first.click()
                page.locator(".cm-editor .cm-content").wait_for()
                page.evaluate("""(code) => { const v = window.backpropEditor;
                    v.dispatch({changes: {from: 0, to: v.state.doc.length, insert: code}}); }""",
                              f"{source}\n# {i}\n")
                seen.clear()
                # From the form's POST leaving the browser (the button may wait for the
                # page's own rate-limit countdown first: not the service's time).
                with page.expect_request(lambda r: r.method == "POST") as posted:
                    page.get_by_role("button", name="Submit for grading").click()
                expect(page.locator("p.score")).to_be_visible(timeout=60_000)
                shown = time.time() * 1000
                if i >= warmup:
                    times.append(shown - posted.value.timing["startTime"])
                    polls.append(len(seen))
            browser.close()
    finally:
        svc.close()
    return {"exercise": exercise_id, "samples": samples, "page_p50_ms": _p50(times),
            "page_max_ms": round(max(times), 1), "polls_p50": statistics.median(polls)}


def main() -> None:
    """Print the stored → stored table (``--stored``), with the budget."""
    import argparse

    parser = argparse.ArgumentParser(description="stored → stored latency of the service")
    parser.add_argument("--stored", action="store_true", help="measure stored → stored")
    parser.add_argument("--samples", type=int, default=7)
    parser.add_argument("--exercise", action="append",
                        help="default: makemore4/ex1 and makemore4/ex2")
    parser.add_argument("--page", action="store_true",
                        help="also time submit → result shown in headless Chromium")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not args.stored:
        parser.error("say what to measure: --stored (batch figures: bench/batch_bench.py)")
    pages = [page_to_result(args.samples, e) for e in args.exercise or ["makemore4/ex1"]] \
        if args.page else []
    rows = [stored_to_stored(args.samples, e)
            for e in args.exercise or ["makemore4/ex1", "makemore4/ex2"]]
    if args.json:
        import json

        print(json.dumps(rows + pages, indent=2))
        return
    cols = ("exercise", "stored_p50_ms", "grade_p50_ms", "ratio", "queue_p50_ms",
            "run_p50_ms", "commit_p50_ms", "worker_runtime_p50_ms")
    print(f"stored → stored on an idle `backprop serve`, {args.samples} samples "
          f"each, {os.cpu_count()} cores (p50, ms)")
    print("  ".join(f"{c.removesuffix('_p50_ms'):>14}" for c in cols))
    for r in rows:
        print("  ".join(f"{r[c]:>14}" for c in cols))
    for r in rows:
        verdict = "met" if r["ratio"] <= STORED_BUDGET else "MISSED"
        print(f"budget {r['exercise']}: stored p50 ≤ {STORED_BUDGET} × grade p50 — "
              f"{r['ratio']}×: {verdict}")
    for r in pages:
        verdict = "met" if r["page_p50_ms"] <= 1000 else "MISSED"
        print(f"page {r['exercise']}: submit POST → result shown p50 {r['page_p50_ms']} ms "
              f"(max {r['page_max_ms']}, {r['polls_p50']:g} status polls; budget ≤ 1000 ms: "
              f"{verdict})")


if __name__ == "__main__":
    main()
