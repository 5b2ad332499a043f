"""The real stack for the reliability tests: PostgreSQL/SQLite, Redis, Celery worker processes.

Nothing here is mocked: submissions are created through
``web.services.submissions.create_submission``
in this process, graded by ``celery -A worker.celery_app worker`` subprocesses (the argv of
``backprop worker``), and every assertion reads the database the workers wrote.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg
import redis

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
BACKPROP = str(BIN / "backprop")
HOSTNAME = socket.gethostname()

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL",
                              "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_SERVER = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")

EXERCISE = "makemore4/ex2"
#: The correct cross-entropy backward: one graded tensor (logits), about 50 ms to grade.
FAST_CODE = ("import torch.nn.functional as F\n"
             "def backward(t):\n"
             "    d = F.softmax(t.logits, 1)\n"
             "    d[range(t.n), t.Yb] -= 1\n"
             "    return {\"logits\": d / t.n}\n")

#: Wall times of the tests, printed in the terminal summary (see conftest.py).
TIMINGS: dict[str, str] = {}


def slow_code(seconds: float = 1.5, every_case: bool = False) -> str:
    """Return a correct submission whose ``backward`` sleeps (on its first call by default,
    so one grading takes ``seconds`` plus ~50 ms: a window to kill it in)."""
    guard = "" if every_case else "    if not _calls:\n    "
    return ("import time\n"
            "import torch.nn.functional as F\n"
            "_calls = []\n"
            "def backward(t):\n"
            f"{guard}    time.sleep({seconds})\n"
            "    _calls.append(1)\n"
            "    d = F.softmax(t.logits, 1)\n"
            "    d[range(t.n), t.Yb] -= 1\n"
            "    return {\"logits\": d / t.n}\n")


# -- infrastructure: a database per module, a Redis db per module ----------------------------

@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """Create ``bp_test_<random>`` on the machine's PostgreSQL; yield its URL; drop it (FORCE)."""
    name = f"bp_test_{secrets.token_hex(5)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def private_redis_db() -> Iterator[str]:
    """Reserve an empty Redis db number (15 downwards) on the system Redis; flush it around.

    The reservation is a key in db 0 with an expiry, so concurrent test runs (or other test
    directories) never share a db; a db that is not empty is never taken.
    """
    admin = redis.Redis.from_url(f"{REDIS_SERVER}/0")
    token = f"{os.getpid()}:{secrets.token_hex(4)}"
    for number in range(15, 0, -1):
        key = f"backprop-grader-tests:db:{number}"
        if not admin.set(key, token, nx=True, ex=900):
            continue
        client = redis.Redis.from_url(f"{REDIS_SERVER}/{number}")
        if client.dbsize():
            admin.delete(key)
            continue
        try:
            client.flushdb()
            yield f"{REDIS_SERVER}/{number}"
        finally:
            client.flushdb()
            if admin.get(key) == token.encode():
                admin.delete(key)
        return
    raise RuntimeError("no free Redis db number on the system Redis for the worker tests")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**values: str) -> dict[str, str]:
    """Return this process's environment without the service's settings, plus ``values``."""
    drop = ("DATABASE_URL", "REDIS_URL", "BACKPROP_HOME", "SECRET_KEY", "GRADING_MAX_ATTEMPTS",
            "RECONCILE_QUEUED_AFTER", "RECONCILE_RUNNING_AFTER", "RECONCILE_EVERY")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("PYTEST_")}
    env.update(PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")
    env.update(values)
    return env


@contextlib.contextmanager
def environ(env: dict[str, str]) -> Iterator[None]:
    """Temporarily make ``os.environ`` exactly ``env`` (the app reads it at creation)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def migrate(env: dict[str, str]) -> None:
    """Run ``backprop db upgrade`` as an operator would."""
    out = subprocess.run([BACKPROP, "db", "upgrade"], env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, f"backprop db upgrade failed:\n{out.stdout}\n{out.stderr}"


# -- worker processes -------------------------------------------------------------------------

def celery_argv(name: str, concurrency: int, beat: bool, home: Path) -> list[str]:
    """Return ``backprop worker``'s celery argv with a distinct node name and schedule file."""
    from cli.service import _celery_argv

    argv = _celery_argv(concurrency, beat)
    argv[argv.index("--hostname") + 1] = f"{name}@%h"
    if beat:
        argv[argv.index("--schedule") + 1] = str(home / f"celerybeat-schedule-{name}")
    return argv


class Worker:
    """One real worker process tree (``start_new_session``: the group is ours to kill)."""

    def __init__(self, name: str, env: dict[str, str], home: Path, *, concurrency: int = 1,
                 beat: bool = False) -> None:
        self.name, self.env, self.home = name, env, home
        self.concurrency, self.beat = concurrency, beat
        self.node = f"{name}@{HOSTNAME}"
        self.logfile = home / f"worker-{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    def start(self) -> Worker:
        """Start the worker (it logs to ``worker-NAME.log`` in the instance folder)."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self._log_offset = self.logfile.stat().st_size if self.logfile.exists() else 0
        with open(self.logfile, "ab") as log:
            self.proc = subprocess.Popen(
                celery_argv(self.name, self.concurrency, self.beat, self.home), env=self.env,
                cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log(self) -> str:
        try:
            return self.logfile.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_since_start(self) -> str:
        return self.log()[self._log_offset:]

    def tail(self, lines: int = 40) -> str:
        return f"--- {self.logfile.name} ---\n" + "\n".join(self.log().splitlines()[-lines:])

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Wait for celery's ``NODE ready.`` line (the consumer is then taking tasks)."""
        deadline = time.monotonic() + timeout
        marker = f"{self.node} ready."
        while time.monotonic() < deadline:
            if marker in self.log_since_start():
                return
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"worker {self.name} exited ({self.proc.returncode}) "
                                     f"before it was ready\n{self.tail()}")
            time.sleep(0.1)
        raise AssertionError(f"worker {self.name} not ready after {timeout} s\n{self.tail()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def group_pids(self) -> list[int]:
        """Return every live process of this worker's process group (main, pool, beat)."""
        if self.proc is None:
            return []
        out = []
        for p in psutil.process_iter(["pid", "status"]):
            with contextlib.suppress(psutil.Error):
                if p.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(p.pid) == self.pid:
                    out.append(p.pid)
        return out

    def kill9_main(self) -> None:
        """``kill -9`` the worker's main process only (its pool dies by PDEATHSIG)."""
        os.kill(self.pid, signal.SIGKILL)
        assert self.proc is not None
        self.proc.wait(10)

    def kill9_group(self) -> None:
        """``kill -9`` the worker's whole process group."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        assert self.proc is not None
        self.proc.wait(10)

    def processes(self) -> list[psutil.Process]:
        """Return the worker's process tree: main, pool, beat, and the sandboxes below them."""
        if not self.alive():
            return []
        try:
            main = psutil.Process(self.pid)
            return [main, *main.children(recursive=True)]
        except psutil.Error:
            return []

    def terminate(self) -> None:
        """Ask for a warm shutdown (SIGTERM to the whole group)."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)

    def stop(self, grace: float = 10.0) -> None:
        """TERM the group (warm shutdown), then KILL what is left."""
        if self.proc is None:
            return
        self.terminate()
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)


def wait_gone(procs: Iterable[psutil.Process], timeout: float = 15.0) -> list[psutil.Process]:
    """Wait until every process has exited; return (and SIGKILL) those still alive."""
    procs = list(procs)
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    alive = [p for p in alive if _running(p)]
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()
    return alive


def _running(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def start_all(workers: Iterable[Worker], timeout: float = 90.0) -> list[Worker]:
    """Start workers together (their imports overlap) and wait until every one is ready."""
    workers = list(workers)
    for w in workers:
        w.start()
    for w in workers:
        w.wait_ready(timeout)
    return workers


# -- the web side: an app in this process, its database, its broker ---------------------------

@dataclass
class Row:
    id: int
    status: str
    result_status: str | None
    score: float | None
    max_score: float | None
    attempts: int
    requeues: int
    worker: str | None
    message: str | None
    stdout: str | None
    tensors: int
    tensor_names: list[str]


class Stack:
    """The app (this process) plus the environment its worker subprocesses get."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home = home
        self.env = env
        self.workers: list[Worker] = []
        with environ(env):
            from web import create_app

            self.app = create_app()
        from grader import get_exercise

        self.graded_tensors = [g.name for g in get_exercise(EXERCISE).graded]

    # workers

    def worker(self, name: str, *, concurrency: int = 1, beat: bool = False,
               env: dict[str, str] | None = None) -> Worker:
        """Return a (not yet started) worker on this stack; stopped at teardown."""
        w = Worker(name, {**self.env, **(env or {})}, self.home, concurrency=concurrency,
                   beat=beat)
        self.workers.append(w)
        return w

    def logs(self) -> str:
        return "\n".join(w.tail() for w in self.workers)

    def close(self) -> None:
        """Stop every worker (together), then check that no process of theirs survived.

        The sandboxes (bwrap + zygote) run in sessions of their own, outside the worker's
        process group: they must go away by themselves when their pool process exits.
        """
        from web.db import db

        trees = [p for w in self.workers for p in w.processes()]
        for w in self.workers:
            w.terminate()
        for w in self.workers:
            w.stop(grace=3.0)  # then SIGKILL: the sandboxes must still go away by themselves
        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()
        left = wait_gone(trees)
        assert not left, f"processes outlived their worker: {[p.pid for p in left]}"

    # submissions

    def submit(self, n: int = 1, code: str = FAST_CODE, *, enqueue: bool = True) -> list[int]:
        """Create ``n`` submissions with ``create_submission`` (row committed, task sent)."""
        from web.services.submissions import create_submission

        with self.app.app_context():
            return [create_submission(exercise_id=EXERCISE, code=code, enqueue=enqueue).id
                    for _ in range(n)]

    def enqueue(self, submission_id: int) -> None:
        """Send a submission's current grading task once more (``enqueue_grading``)."""
        from web.db import db
        from web.models import Submissions
        from web.queue import enqueue_grading

        with self.app.app_context():
            try:
                enqueue_grading(db.session.get(Submissions, submission_id).current_grading_id)
            finally:
                db.session.remove()

    def rows(self, ids: Iterable[int]) -> dict[int, Row]:
        """Read the submissions and count their TensorResults rows, fresh from the database."""
        from sqlalchemy import select
        from sqlalchemy.orm import selectinload

        from web.db import db
        from web.models import Submissions, TensorResults

        ids = list(ids)
        with self.app.app_context():
            try:
                subs = db.session.execute(
                    select(Submissions).where(Submissions.id.in_(ids))
                    .options(selectinload(Submissions.current_grading))).scalars().all()
                names: dict[int, list[str]] = {i: [] for i in ids}
                for sid, name in db.session.execute(
                        select(Submissions.id, TensorResults.name)
                        .join(TensorResults,
                              TensorResults.grading_id == Submissions.current_grading_id)
                        .where(Submissions.id.in_(ids))):
                    names[sid].append(name)
                return {s.id: Row(s.id, s.status, s.result_status, s.score, s.max_score,
                                  s.attempts, s.requeues, s.worker, s.message,
                                  (s.stdout or '')[:300],
                                  len(names[s.id]), sorted(names[s.id])) for s in subs}
            finally:
                db.session.remove()

    def row(self, submission_id: int) -> Row:
        return self.rows([submission_id])[submission_id]

    def count_pending(self) -> int:
        """Return how many submissions of the whole database are queued or running."""
        from sqlalchemy import func, select

        from web.db import db
        from web.models import DONE, Submissions

        with self.app.app_context():
            try:
                return db.session.execute(select(func.count()).select_from(Submissions)
                                          .where(Submissions.status != DONE)).scalar_one()
            finally:
                db.session.remove()

    def wait_all_done(self, ids: Iterable[int], timeout: float, poll: float = 0.25) \
            -> dict[int, Row]:
        """Poll the database until every submission is done; fail with the stragglers."""
        ids = list(ids)
        deadline = time.monotonic() + timeout
        while True:
            rows = self.rows(ids)
            left = [r for r in rows.values() if r.status != "done"]
            if not left and len(rows) == len(ids):
                return rows
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(left)} of {len(ids)} submissions not done after {timeout} s, e.g. "
                    f"{left[:5]}\n{self.logs()}")
            time.sleep(poll)

    def wait_for(self, submission_id: int, predicate, timeout: float, what: str,
                 poll: float = 0.05) -> Row:
        """Poll one submission until ``predicate(row)`` holds."""
        deadline = time.monotonic() + timeout
        while True:
            row = self.row(submission_id)
            if predicate(row):
                return row
            if time.monotonic() > deadline:
                raise AssertionError(f"submission {submission_id}: not {what} after {timeout} s:"
                                     f" {row}\n{self.logs()}")
            time.sleep(poll)

    # assertions

    def assert_graded_once(self, rows: dict[int, Row], ids: Iterable[int]) -> None:
        """Every submission done exactly once: graded, full score, one TensorResults set."""
        ids = list(ids)
        assert sorted(rows) == sorted(ids), "submissions missing from the database"
        bad = []
        for sid in ids:
            r = rows[sid]
            if (r.status != "done" or r.result_status != "graded" or r.max_score is None
                    or r.score != r.max_score or r.tensors != len(self.graded_tensors)
                    or r.tensor_names != sorted(self.graded_tensors) or r.attempts < 1):
                bad.append(r)
        assert not bad, f"{len(bad)} submissions not graded exactly once, e.g. {bad[:5]}"
        assert self.count_pending() == 0, "submissions left queued/running in the database"

    # the broker

    def broker_client(self):
        """Return a Celery client on this stack's broker, for remote control (inspect)."""
        from celery import Celery

        url = self.env["REDIS_URL"]
        return Celery("backprop-tests", broker=url, set_as_current=False)

    def pool_pid(self, node: str, submission_id: int, timeout: float = 10.0) -> int:
        """Ask the worker ``node`` (celery inspect active) which pool process runs a task."""
        client = self.broker_client()
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                active = client.control.inspect(destination=[node], timeout=1.0).active() or {}
                for task in active.get(node, []):
                    args = task.get("args")
                    if args in ([submission_id], (submission_id,), f"[{submission_id}]",
                                f"({submission_id},)") and task.get("worker_pid"):
                        return int(task["worker_pid"])
                time.sleep(0.05)
        finally:
            client.close()
        raise AssertionError(f"{node} does not report submission {submission_id} as active\n"
                             f"{self.logs()}")


def node_of(row: Row) -> str:
    """Return the celery node name stored in ``Submissions.worker`` (``host:node``)."""
    assert row.worker, row
    return row.worker.split(":", 1)[1]


def record(name: str, text: str) -> None:
    TIMINGS[name] = text
    print(f"[timing] {name}: {text}", file=sys.stderr)
