"""Server time of the instructor's class pages on a realistic course, SQLite and PostgreSQL.

    .venv/bin/python bench/dashboard_bench.py                    # 500 × 4 × 10, both backends
    .venv/bin/python bench/dashboard_bench.py --students 200 --repeat 10 --backends sqlite
    .venv/bin/python bench/dashboard_bench.py --profile          # + cProfile of two requests

What it measures, and why: the class dashboard (``/staff/courses/<CODE>/grades``) and an
assignment's analytics (``…/assignments/<ID>/analytics``) read a whole course at once — every
graded submission, deadlines, extensions and late policies, and for analytics the tensor rows
of every student's best submission. The issue's budget is p50 ≤ 300 ms for both pages on
PostgreSQL at 500 students × 4 assignments × 10 submissions (20,000 submissions, ~520,000
tensor rows), and their number of SQL statements must not grow with the class.

For each backend (a temporary SQLite file; a fresh temporary database on the local PostgreSQL,
dropped at the end) the course is seeded with bulk Core inserts (one transaction per table;
nothing is graded), the schema coming from the real migrations. An instructor signs in through
the real /login form (CSRF on) and the Flask test client requests, after two warm-ups,
``--repeat`` times each: the grid (first page, default sort), the grid sorted by an assignment
column, the analytics page of the first assignment and the Canvas gradebook CSV. The time is
``perf_counter`` around ``client.get`` (server time: no network, no browser). SQL statements
per request are counted with a ``before_cursor_execute`` listener, at the full size and at a
small one (``--small-students``), printed side by side.

Machines differ 2–3×, so the same run also times ``python -c "import torch"`` in a subprocess
(median of 3, after one untimed run) and prints each p50 as a ratio of it: compare ratios, not
milliseconds, across machines. PostgreSQL tables are ``VACUUM ANALYZE``d after seeding (as
autovacuum would have done on a live server); SQLite is left as the app leaves it (no ANALYZE).
A benchmark never fails CI: the exit status is 0 whatever the numbers (2 on bad arguments).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import hashlib
import itertools
import logging
import math
import os
import pstats
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EXERCISE = "makemore4/ex1"
BACKENDS = ("sqlite", "postgresql")
ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@localhost/postgres")
COURSE = "BENCH-DASH"
INSTRUCTOR_EMAIL = "instructor@example.org"
PASSWORD = "bench " + secrets.token_hex(8)
SECTIONS = ("L01", "L02", "L03", "L04")
#: The issue's budget: p50 of the grid and analytics pages on PostgreSQL (SQLite: reference).
BUDGET_MS = 300.0
#: Rows per ``execute`` of a bulk insert (all in the table's one transaction).
BATCH = 10_000
#: A handful of fingerprint codes (grader.diagnosis.CODES) and their relative frequency.
FINGERPRINTS = (("scale_1_over_n", 5), ("sign", 3), ("factor_2", 2), ("transpose", 3),
                ("missing_keepdim", 2), ("wrong_sum_dim", 3), ("bessel", 2),
                ("embedding_duplicates", 1), ("unclassified", 3))
#: Plausible shapes of makemore4/ex1's gradients (batch 32, 64 hidden, 10-dim embeddings).
SHAPES = {"logprobs": [32, 27], "probs": [32, 27], "counts_sum_inv": [32, 1],
          "counts_sum": [32, 1], "counts": [32, 27], "norm_logits": [32, 27],
          "logit_maxes": [32, 1], "logits": [32, 27], "h": [32, 64], "W2": [64, 27],
          "b2": [27], "hpreact": [32, 64], "bngain": [1, 64], "bnbias": [1, 64],
          "bnraw": [32, 64], "bnvar_inv": [1, 64], "bnvar": [1, 64], "bndiff2": [32, 64],
          "bndiff": [32, 64], "bnmeani": [1, 64], "hprebn": [32, 64], "embcat": [32, 30],
          "W1": [30, 64], "b1": [64], "emb": [32, 3, 10], "C": [27, 10]}
#: Assignment settings, cycled: (late policy, penalty, cut-off days, scoring, shape rule,
#: counted rule).
POLICIES = (("penalty", 0.1, 3, "strict", "strict", "best"),
            ("accept", 0.0, None, "carry_forward", "values", "best"),
            ("refuse", 0.0, None, "strict", "strict", "last"),
            ("penalty", 0.1, 3, "carry_forward", "values", "best"))
FIRST = ("Ada", "Ben", "Chloé", "Dmitri", "Elif", "Farah", "Gustav", "Hana", "Ivan", "Jun",
         "Kwame", "Lea", "Mateo", "Nadia", "Oscar", "Priya", "Quentin", "Rosa", "Sven", "Tariq",
         "Uma", "Viktor", "Wen", "Ximena", "Yusuf", "Zoë")
LAST = ("Andersen", "Brown", "Castillo", "Dubois", "Eriksson", "Fischer", "García", "Huang",
        "Ito", "Jovanović", "Kowalski", "Lefèvre", "Müller", "Nakamura", "Okafor", "Petrov",
        "Quinn", "Rossi", "Singh", "Tanaka", "Usman", "Vargas", "Weber", "Xu", "Yilmaz",
        "Zhang")


@dataclass(frozen=True)
class Page:
    """One page the benchmark requests."""

    key: str
    label: str
    url: Callable[[str, list[int]], str]
    budget_ms: float | None


PAGES = (
    Page("grid", "grid", lambda c, a: f"/staff/courses/{c}/grades",
         BUDGET_MS),
    Page("grid_sorted", "grid ?sort=a1&desc=1",
         lambda c, a: f"/staff/courses/{c}/grades?sort=a{a[0]}&desc=1", BUDGET_MS),
    Page("analytics", "analytics a1",
         lambda c, a: f"/staff/courses/{c}/assignments/{a[0]}/analytics", BUDGET_MS),
    Page("canvas_csv", "gradebook.csv canvas",
         lambda c, a: f"/staff/courses/{c}/gradebook.csv?format=canvas", None),
)


@dataclass
class Size:
    """The course to seed."""

    students: int
    assignments: int
    submissions: int


@dataclass
class Seeded:
    """What the seed made: the assignments' ids, rows and seconds per table."""

    assignment_ids: list[int]
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())


@dataclass
class Measured:
    """One page on one backend: timings at the full size, statement counts at both sizes."""

    backend: str
    page: Page
    times_ms: list[float] = field(default_factory=list)
    #: This process's CPU time per request (the app and SQLite; not PostgreSQL's server).
    cpu_ms: list[float] = field(default_factory=list)
    queries: int | None = None
    queries_small: int | None = None
    error: str | None = None

    @property
    def p50(self) -> float | None:
        return statistics.median(self.times_ms) if self.times_ms else None

    @property
    def p95(self) -> float | None:
        if not self.times_ms:
            return None
        xs = sorted(self.times_ms)  # nearest rank
        return xs[max(0, math.ceil(0.95 * len(xs)) - 1)]

    @property
    def cpu_p50(self) -> float | None:
        return statistics.median(self.cpu_ms) if self.cpu_ms else None


# --- arguments ------------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Return the arguments; bad ones print a clear message and exit 2 (argparse's code)."""
    p = argparse.ArgumentParser(
        description="Server time of the staff grid and analytics pages on a seeded course.")
    p.add_argument("--students", type=int, default=500)
    p.add_argument("--assignments", type=int, default=4)
    p.add_argument("--submissions", type=int, default=10, help="per student and assignment")
    p.add_argument("--repeat", type=int, default=30, help="timed requests per page")
    p.add_argument("--backends", default=",".join(BACKENDS),
                   help="comma-separated: sqlite, postgresql")
    p.add_argument("--small-students", type=int, default=50,
                   help="the second, small class whose statement counts are compared")
    p.add_argument("--seed", type=int, default=20260301, help="random seed of the data")
    p.add_argument("--profile", action="store_true",
                   help="cProfile one grid and one analytics request per backend")
    args = p.parse_args(argv)
    for name, low, high in (("students", 1, 100_000), ("assignments", 1, 50),
                            ("submissions", 1, 200), ("repeat", 1, 10_000),
                            ("small_students", 1, 100_000)):
        value = getattr(args, name)
        if not low <= value <= high:
            p.error(f"--{name.replace('_', '-')} must be between {low} and {high} (got {value})")
    backends = [b.strip().lower() for b in args.backends.split(",") if b.strip()]
    bad = [b for b in backends if b not in BACKENDS]
    if not backends or bad:
        p.error(f"--backends takes a comma-separated list of {', '.join(BACKENDS)}"
                + (f" (unknown: {', '.join(bad)})" if bad else ""))
    args.backends = list(dict.fromkeys(backends))
    return args


# --- the data -------------------------------------------------------------------------------

def _ascii(name: str) -> str:
    """Return a name folded to lower-case ASCII for an e-mail address (Chloé → chloe)."""
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()


_CODES = [c for c, _ in FINGERPRINTS]
_CUM_WEIGHTS = list(itertools.accumulate(w for _, w in FINGERPRINTS))


def outcome(rng: random.Random, ability: float, progress: float,
            tensors: list[tuple[str, float]]) -> list[dict[str, Any]]:
    """Return one graded submission's tensor rows (without ids), as the grader stores them.

    Bugs (root causes, with a fingerprint) get rarer as ``progress`` (0 → 1 over a student's
    attempts) and ``ability`` grow; a root cause makes some tensors after it in backward
    order wrong too, but locally correct (inherited, carry-forward credit); a weak early
    attempt may stop before the end (missing tensors); a few ``bngain``-like tensors come back
    with the wrong shape but the right values (the "values" shape rule).
    """
    p_bug = 0.004 + 0.10 * (1 - ability) * (1 - progress) ** 1.5
    stop = len(tensors)
    if rng.random() < 0.35 * (1 - ability) * (1 - progress):
        stop = rng.randint(len(tensors) // 3, len(tensors) - 1)
    rows: list[dict[str, Any]] = []
    inherited_from: str | None = None
    for pos, (name, points) in enumerate(tensors):
        shape = SHAPES.get(name, [32, 64])
        row: dict[str, Any] = dict(
            position=pos, name=name, status="exact", points=points, max_points=points,
            max_abs_diff=0.0, rel_error=0.0, expected_shape=shape, got_shape=shape,
            failed_case=None, message="", diagnosis=None, root_cause=False,
            locally_correct=None, fingerprint=None, line=None, carry_forward_points=points,
            values_match=None)
        if pos >= stop:
            row.update(status="missing", points=0.0, max_abs_diff=None, rel_error=None,
                       got_shape=None, message=f"d{name} is missing from the returned dict",
                       fingerprint="missing_key", carry_forward_points=0.0, values_match=False,
                       diagnosis=f"d{name} was not returned")
        elif shape[0] == 1 and rng.random() < 2 * p_bug:
            match = rng.random() < 0.7
            row.update(status="shape_mismatch", points=0.0, max_abs_diff=None, rel_error=None,
                       got_shape=shape[1:], root_cause=True, locally_correct=False,
                       fingerprint="missing_keepdim" if match else "shape",
                       message=f"expected shape {shape}, got {shape[1:]}",
                       diagnosis="a reduction lost its kept dimension (keepdim=True)",
                       line=40 + pos, carry_forward_points=0.0, values_match=match)
        elif rng.random() < p_bug:
            code = rng.choices(_CODES, cum_weights=_CUM_WEIGHTS)[0]
            diff = round(rng.uniform(0.01, 2.0), 5)
            row.update(status="wrong", points=0.0, max_abs_diff=diff, rel_error=diff / 3,
                       failed_case="public", root_cause=True, locally_correct=False,
                       fingerprint=code, message=f"max abs diff {diff:g} in case public",
                       diagnosis=f"d{name}: {code.replace('_', ' ')}", line=40 + pos,
                       carry_forward_points=0.0, values_match=False)
            inherited_from = name
        elif inherited_from is not None and rng.random() < 0.6:
            diff = round(rng.uniform(0.001, 1.0), 5)
            row.update(status="wrong", points=0.0, max_abs_diff=diff, rel_error=diff / 3,
                       failed_case="public", locally_correct=True, values_match=False,
                       message=f"max abs diff {diff:g} in case public",
                       diagnosis=f"inherited: d{name} follows from your upstream gradients, "
                                 f"but d{inherited_from} is wrong")
        elif rng.random() < 0.2:
            err = rng.uniform(1e-8, 1e-6)
            row.update(status="close", max_abs_diff=err, rel_error=err / 10)
        rows.append(row)
    return rows


def scores(rows: list[dict[str, Any]]) -> tuple[float, float, float, float, float]:
    """Return (score, carry-forward, values, values carry-forward, max) of tensor rows."""
    score = sum(r["points"] for r in rows)
    cf = sum(r["max_points"] for r in rows
             if r["status"] in ("exact", "close") or r["locally_correct"])
    reshaped = sum(r["max_points"] for r in rows if r["values_match"])
    return score, cf, score + reshaped, cf + reshaped, sum(r["max_points"] for r in rows)


def _times(rng: random.Random, n: int, deadline: dt.datetime, latest: dt.datetime) \
        -> list[dt.datetime]:
    """Return n sorted submission times within two weeks around the deadline, crowding
    towards it (11 days before it to ``latest``)."""
    start = deadline - dt.timedelta(days=11)
    span = (latest - start).total_seconds()
    return sorted(start + dt.timedelta(seconds=span * rng.betavariate(4.0, 1.4))
                  for _ in range(n))


def seed(engine, size: Size, tensors: list[tuple[str, float]], code: str, rng_seed: int,
         make_instructor: Callable[[], None]) -> Seeded:
    """Fill an empty, migrated database with one course: bulk Core inserts, one transaction
    per table, explicit ids (PostgreSQL sequences are moved past them afterwards)."""
    from sqlalchemy import insert, text

    from web.models import (
        Assignments,
        Courses,
        Enrolments,
        Extensions,
        Submissions,
        TensorResults,
        Users,
    )

    rng = random.Random(rng_seed)
    out = Seeded([])
    pg = engine.dialect.name == "postgresql"
    now = dt.datetime(2026, 3, 1, 12, 0)
    max_score = sum(p for _, p in tensors)

    def bulk(model, rows) -> None:
        t0 = time.perf_counter()
        n = 0
        with engine.begin() as conn:
            batch: list[dict[str, Any]] = []
            for row in rows:
                batch.append(row)
                if len(batch) >= BATCH:
                    conn.execute(insert(model), batch)
                    n += len(batch)
                    batch = []
            if batch:
                conn.execute(insert(model), batch)
                n += len(batch)
            if pg and n:
                table = model.__tablename__
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT max(id) FROM {table}))"))
        out.rows[model.__tablename__] = n
        out.seconds[model.__tablename__] = time.perf_counter() - t0

    bulk(Courses, [dict(id=1, code=COURSE, title="Backprop bench course", join_code=COURSE,
                        created_at=now - dt.timedelta(days=60))])

    students = list(range(1, size.students + 1))
    ability = {u: rng.betavariate(4, 2) for u in students}

    def users():
        for u in students:
            first, last = rng.choice(FIRST), rng.choice(LAST)
            yield dict(id=u, email=f"{_ascii(first)}.{_ascii(last)}.{u}@example.org",
                       name=f"{first} {last}", role="student",
                       password_hash=None if rng.random() < 0.08 else "scrypt:bench$not$used",
                       created_at=now - dt.timedelta(days=50))

    bulk(Users, users())
    bulk(Enrolments, (dict(id=u, user_id=u, course_id=1, role="student",
                           student_number=f"{2025_0000 + u}", section=rng.choice(SECTIONS),
                           created_at=now - dt.timedelta(days=50)) for u in students))

    assignments = []
    for i in range(size.assignments):
        policy, penalty, cutoff, scoring, shape_rule, counted = POLICIES[i % len(POLICIES)]
        deadline = now - dt.timedelta(days=35) + dt.timedelta(days=7 * i, hours=11, minutes=59)
        assignments.append(dict(
            id=i + 1, course_id=1, exercise_id=EXERCISE, title=f"Assignment {i + 1}: backprop",
            opens_at=deadline - dt.timedelta(days=14), deadline=deadline, late_policy=policy,
            late_penalty=penalty, cutoff_days=cutoff, max_submissions=20,
            min_interval_seconds=10, scoring=scoring, shape_rule=shape_rule,
            max_score=max_score, counted=counted, created_at=now - dt.timedelta(days=49)))
    bulk(Assignments, assignments)

    extended: dict[tuple[int, int], dt.datetime] = {}
    for a in assignments:  # an extension or two per assignment (more in a big class)
        for u in rng.sample(students, min(len(students), max(2, len(students) // 100))):
            extended[(a["id"], u)] = a["deadline"] + dt.timedelta(days=rng.choice((2, 3, 5)))
    bulk(Extensions, (dict(id=i, assignment_id=a, user_id=u, deadline=d,
                           created_at=d - dt.timedelta(days=6))
                      for i, ((a, u), d) in enumerate(sorted(extended.items()), 1)))

    # Submissions, then their tensor rows: the same per-submission random stream both times,
    # so the rows need not be kept in memory between the two tables' transactions.
    plan: list[tuple[int, int, int, dt.datetime, float]] = []
    for a in assignments:
        deadline = a["deadline"]
        for u in students:
            mine = extended.get((a["id"], u))
            if a["late_policy"] == "refuse":
                latest = mine or deadline
            elif a["late_policy"] == "penalty":
                latest = (mine or deadline) + dt.timedelta(days=a["cutoff_days"])
            else:
                latest = (mine or deadline) + dt.timedelta(days=3)
            for k, t in enumerate(_times(rng, size.submissions, deadline, latest)):
                progress = k / max(1, size.submissions - 1)
                plan.append((len(plan) + 1, u, a["id"], t, progress))

    def rows_of(sub_id: int, user_id: int, progress: float) -> list[dict[str, Any]]:
        return outcome(random.Random(rng_seed * 1_000_003 + sub_id), ability[user_id],
                       progress, tensors)

    def submissions():
        for sub_id, u, a, t, progress in plan:
            rows = rows_of(sub_id, u, progress)
            s, cf, vs, vcf, top = scores(rows)
            body = f"{code}\n# attempt {sub_id}\n"
            result = {"exercise": EXERCISE, "status": "graded", "score": s, "max_score": top,
                      "carry_forward_score": cf, "values_score": vs,
                      "values_carry_forward_score": vcf, "message": f"{s:g} / {top:g}",
                      "stdout": "", "runtime_ms": 41.0, "exercise_version": 1,
                      "tensors": [{k: v for k, v in r.items() if k != "position"}
                                  for r in rows]}
            yield dict(id=sub_id, user_id=u, assignment_id=a, exercise_id=EXERCISE, code=body,
                       code_sha256=hashlib.sha256(body.encode()).hexdigest(), status="done",
                       created_at=t, updated_at=t + dt.timedelta(seconds=3),
                       started_at=t + dt.timedelta(seconds=1),
                       finished_at=t + dt.timedelta(seconds=3), attempts=1, requeues=0,
                       worker="bench@localhost", exercise_version=1, result_status="graded",
                       score=s, carry_forward_score=cf, values_score=vs,
                       values_carry_forward_score=vcf, max_score=top, runtime_ms=41.0,
                       message=f"{s:g} / {top:g}", stdout="", result=result)

    def tensor_rows():
        n = 0
        for sub_id, u, _, _, progress in plan:
            for r in rows_of(sub_id, u, progress):
                n += 1
                yield dict(r, id=n, submission_id=sub_id, arrays=None)

    bulk(Submissions, submissions())
    bulk(TensorResults, tensor_rows())
    t0 = time.perf_counter()
    make_instructor()
    out.seconds["instructor"] = time.perf_counter() - t0
    if pg:  # a live server's autovacuum would have analysed the tables by now
        t0 = time.perf_counter()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        out.seconds["vacuum analyze"] = time.perf_counter() - t0
    out.assignment_ids = [a["id"] for a in assignments]
    return out


# --- the app --------------------------------------------------------------------------------

class _Csrf(HTMLParser):
    """Find the login form's hidden ``csrf_token`` input."""

    def __init__(self) -> None:
        super().__init__()
        self.token: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "input" and a.get("name") == "csrf_token" and a.get("value"):
            self.token = a["value"]


def login(client) -> None:
    """Sign the instructor in through the real form: GET /login, POST it back with its token."""
    page = client.get("/login")
    parser = _Csrf()
    parser.feed(page.get_data(as_text=True))
    if page.status_code != 200 or parser.token is None:
        raise RuntimeError(f"GET /login answered {page.status_code} without a CSRF token")
    r = client.post("/login", data={"email": INSTRUCTOR_EMAIL, "password": PASSWORD,
                                    "csrf_token": parser.token})
    if r.status_code != 302:
        raise RuntimeError(f"sign-in failed: POST /login answered {r.status_code}")


@contextlib.contextmanager
def database(backend: str) -> Iterator[str | None]:
    """Yield a fresh database URL (None: PostgreSQL unreachable); remove it afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="dashboard-bench-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    import psycopg

    name = f"bench_dashboard_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split())
        print(f"PostgreSQL at {ADMIN_URL} is unreachable ({reason}): skipping it.")
        yield None
        return
    try:
        base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def seeded_app(url: str, size: Size, tensors: list[tuple[str, float]], code: str,
               rng_seed: int) -> Iterator[tuple[Any, Seeded]]:
    """Yield (app, what was seeded) on a migrated, seeded database at ``url``."""
    import flask_migrate

    from web import create_app
    from web.db import db
    from web.services.accounts import create_user

    app = create_app({
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": secrets.token_urlsafe(32),
        "REDIS_URL": os.environ["REDIS_URL"],
        "RATELIMIT_STORAGE_URI": "memory://",
        "PROPAGATE_EXCEPTIONS": True,  # a failing page raises here, with its traceback
    })
    try:
        with app.app_context():
            flask_migrate.upgrade()
            seeded = seed(db.engine, size, tensors, code, rng_seed,
                          lambda: create_user(INSTRUCTOR_EMAIL, "instructor", PASSWORD, COURSE))
            db.session.remove()
        yield app, seeded
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


class StatementCounter:
    """Count the SQL statements an engine executes (``before_cursor_execute``)."""

    def __init__(self, engine) -> None:
        from sqlalchemy import event

        self.n = 0
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_args: Any) -> None:
        self.n += 1


def get(client, url: str, counter: StatementCounter) -> tuple[float, float, int]:
    """Request ``url``; return (ms, CPU ms of this process, statements); raise on anything
    but 200."""
    counter.n = 0
    c0, t0 = time.process_time(), time.perf_counter()
    r = client.get(url)
    ms, cpu = (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000
    if r.status_code != 200:
        raise RuntimeError(f"GET {url} answered {r.status_code}: "
                           f"{r.get_data(as_text=True)[:500]}")
    return ms, cpu, counter.n


def measure(app, seeded: Seeded, repeat: int, results: dict[str, Measured], small: bool,
            profile: bool) -> None:
    """Sign in, warm up twice, then time (or, for the small class, count) every page."""
    from web.db import db

    with app.app_context():
        counter = StatementCounter(db.engine)
    client = app.test_client()
    login(client)
    for page in PAGES:
        m = results[page.key]
        if m.error:
            continue
        url = page.url(COURSE, seeded.assignment_ids)
        try:
            for _ in range(2):
                get(client, url, counter)
            if small:
                m.queries_small = get(client, url, counter)[2]
                continue
            counts = set()
            for _ in range(repeat):
                ms, cpu, n = get(client, url, counter)
                m.times_ms.append(ms)
                m.cpu_ms.append(cpu)
                counts.add(n)
            m.queries = max(counts)
            if len(counts) > 1:
                m.error = f"statement count varied between requests: {sorted(counts)}"
        except Exception:
            m.error = traceback.format_exc()
    if profile and not small:
        for key in ("grid", "analytics"):
            if not results[key].error:
                print_profile(client, results[key], seeded)


def print_profile(client, m: Measured, seeded: Seeded) -> None:
    """cProfile one request; print the top 10 cumulative entries of the app's own code."""
    url = m.page.url(COURSE, seeded.assignment_ids)
    prof = cProfile.Profile()
    prof.enable()
    client.get(url)
    prof.disable()
    entries: dict[tuple[str, int, str], tuple] = pstats.Stats(prof).stats  # type: ignore
    web = str(ROOT / "web") + os.sep
    rows = [(ct, tt, nc, f"{Path(f).relative_to(ROOT)}:{line} {fn}")
            for (f, line, fn), (_, nc, tt, ct, _) in entries.items() if f.startswith(web)]
    total = max((e[3] for e in entries.values()), default=0.0)
    print(f"\ncProfile of {m.backend} {m.page.label} (one request, {total * 1000:.0f} ms "
          "under the profiler): top 10 cumulative under web/")
    print(f"  {'cum ms':>8} {'own ms':>8} {'calls':>7}  function")
    for ct, tt, nc, where in sorted(rows, reverse=True)[:10]:
        print(f"  {ct * 1000:8.1f} {tt * 1000:8.1f} {nc:7d}  {where}")


# --- the report -----------------------------------------------------------------------------

def torch_import_ms() -> float | None:
    """Return the median of 3 ``python -c "import torch"`` runs (after one untimed run), or
    None when torch does not import."""
    times = []
    for i in range(4):
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True)
        if done.returncode:
            return None
        if i:
            times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def report(results: list[Measured], torch_ms: float | None, size: Size, small: int) -> None:
    """Print the table (rich when available) and any errors."""
    head = ["backend", "page", "p50 ms", "p95 ms", "CPU p50 ms", "p50 / import torch",
            f"queries @{size.students}", f"queries @{small}", "budget", "verdict"]
    body = []
    for m in results:
        p50, p95 = m.p50, m.p95
        if m.error and p50 is None:
            verdict = "ERROR"
        elif m.page.budget_ms is None:
            verdict = "—"
        else:
            ok = p50 is not None and p50 <= m.page.budget_ms
            verdict = ("ok" if ok else "OVER") + ("" if m.backend == "postgresql" else " (ref)")
        if m.queries is not None and m.queries_small is not None \
                and m.queries != m.queries_small:
            verdict += "; queries grow"
        body.append([m.backend, m.page.label, "—" if p50 is None else f"{p50:.1f}",
                     "—" if p95 is None else f"{p95:.1f}",
                     "—" if m.cpu_p50 is None else f"{m.cpu_p50:.1f}",
                     "—" if p50 is None or not torch_ms else f"{p50 / torch_ms:.3f}",
                     "—" if m.queries is None else str(m.queries),
                     "—" if m.queries_small is None else str(m.queries_small),
                     "—" if m.page.budget_ms is None else f"≤ {m.page.budget_ms:.0f} ms p50",
                     verdict])
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    title = (f"{size.students} students × {size.assignments} assignments × "
             f"{size.submissions} submissions; import torch = "
             f"{'unavailable' if torch_ms is None else f'{torch_ms:.0f} ms'}; "
             f"load average {load} on {os.cpu_count()} CPUs")
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(title)
        widths = [max(len(str(r[i])) for r in [head, *body]) for i in range(len(head))]
        for r in [head, *body]:
            print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))
    else:
        table = Table(title=title)
        for i, h in enumerate(head):
            table.add_column(h, justify="right" if 2 <= i <= 7 else "left")
        for r in body:
            table.add_row(*r)
        Console(width=max(150, shutil.get_terminal_size().columns)).print(table)
    for m in results:
        if m.error:
            print(f"\n{m.backend} {m.page.label}: {m.error}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tmp = tempfile.TemporaryDirectory(prefix="dashboard-bench-home-")
    # Nothing of the user's instance is read or written; no grading task is ever sent.
    os.environ["BACKPROP_HOME"] = tmp.name
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(32))
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
    logging.getLogger("alembic").setLevel(logging.WARNING)

    from grader import get_exercise

    exercise = get_exercise(EXERCISE)
    tensors = [(spec.name, float(spec.points)) for spec in exercise.graded]
    lecture = ROOT / "tests" / "corpus" / EXERCISE / "lecture.py"
    code = lecture.read_text() if lecture.exists() else "def backward(t):\n    return {}\n"
    size = Size(args.students, args.assignments, args.submissions)
    small = Size(min(args.small_students, args.students), args.assignments, args.submissions)

    total = size.students * size.assignments * size.submissions
    print(f"Course: {size.students} students × {size.assignments} assignments × "
          f"{size.submissions} submissions = {total:,} "
          f"submissions × {len(tensors)} tensors ({EXERCISE}); {args.repeat} timed requests "
          "per page after 2 warm-ups.")
    print("Timing `python -c \"import torch\"` (median of 3) …", flush=True)
    torch_ms = torch_import_ms()
    print("import torch: " + ("does not import (no ratios)" if torch_ms is None
                              else f"{torch_ms:.0f} ms"))

    results: list[Measured] = []
    for backend in args.backends:
        mine = {p.key: Measured(backend, p) for p in PAGES}
        skipped = False
        for s, is_small in ((size, False), (small, True)):
            with database(backend) as url:
                if url is None:
                    skipped = True
                    break
                t0 = time.perf_counter()
                try:
                    with seeded_app(url, s, tensors, code, args.seed) as (app, seeded):
                        elapsed = time.perf_counter() - t0
                        per_table = ", ".join(f"{k} {v:.1f} s" for k, v in seeded.seconds.items())
                        rows = sum(seeded.rows.values())
                        print(f"{backend}: {s.students} students seeded in {elapsed:.1f} s "
                              f"(migrations included; {rows:,} rows: {per_table})", flush=True)
                        measure(app, seeded, args.repeat, mine, is_small, args.profile)
                except Exception:
                    for m in mine.values():
                        m.error = m.error or traceback.format_exc()
        if not skipped:
            results.extend(mine.values())
    print()
    if results:
        report(results, torch_ms, size, small.students)
    else:
        print("No backend was measured.")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
