"""Batch grading through the real service, for ``batch_bench.py``: ``backprop serve -c 2``
(gunicorn, one Celery worker with 2 grading processes, embedded Redis and SQLite) on a fresh
BACKPROP_HOME; a roster imported with the CLI; the files uploaded as one zip through the API
(``POST /api/v1/courses/CODE/batches``) and followed through it until done.

It also times a live submission (``POST /api/v1/submissions`` → done) on an idle queue and
while a second batch of the same size is being graded: the bulk queue must not hold it up.
"""

from __future__ import annotations

import io
import os
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
