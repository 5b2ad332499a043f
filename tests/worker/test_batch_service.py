"""Batch grading through the service (``web.services.batches``) on the real stack.

A course of 300 students (imported with ``web.services.roster``), zips of 300 files (the
makemore4/ex2 corpus, correct and buggy, plus a file whose score depends on the student's
hidden cases), uploaded with ``batches.read`` + ``batches.create`` and graded by real Celery
worker processes (``backprop worker``'s argv) on PostgreSQL + Redis:

1. every file graded exactly once, and the batch CSV equal, row by row, to grading each file
   alone in this process (``grader.grade`` with the worker's student and secret);
2. the same zip uploaded again grades nothing: every file a duplicate, no grading, no task;
3. a ``kill -9`` of a worker mid-batch, then a restart of every worker: the batch still
   finishes, every file stored once, nothing stuck (the reconciler runs in ``backprop beat``);
4. live work goes first: a student's submission sent while a batch waits is graded after at
   most the gradings already running, and its queue position ignores the batch.
"""

from __future__ import annotations

import contextlib
import csv
import io
import subprocess
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from tests.corpus_files import CORPUS, parse
from tests.worker.harness import (
    BACKPROP,
    EXERCISE,
    FAST_CODE,
    ROOT,
    Stack,
    Worker,
    node_of,
    record,
    slow_code,
    start_all,
)

N = 300
#: Live submissions sent at once while a batch waits (more than the bound on the batch
#: gradings that may finish meanwhile, so round-robin between the queues would fail).
LIVE = 12
#: Files of the kill/restart batch (a quarter of the class: the same road, less time).
RESTART_FILES = 80
COURSE = "BATCH-SVC"
#: The reconciler (run by ``backprop beat`` in the kill/restart test only): a grading left
#: running by a killed worker is sent again after RECONCILE_RUNNING_AFTER seconds.
SETTINGS = {"RECONCILE_QUEUED_AFTER": "20", "RECONCILE_RUNNING_AFTER": "5",
            "RECONCILE_EVERY": "1"}

#: Correct only when the sum of a case's targets is not a multiple of 6: whether a student
#: passes depends on the cases drawn for them (public: the student; hidden: the secret), so
#: the CSV comparison fails if the service graded with another student or secret.
SEEDED_CODE = ("import torch.nn.functional as F\n"
               "def backward(t):\n"
               "    d = F.softmax(t.logits, 1)\n"
               "    d[range(t.n), t.Yb] -= 1\n"
               "    if int(t.Yb.sum()) % 6 == 0:\n"
               "        d = d * 2\n"
               "    return {\"logits\": d / t.n}\n")


def _sources() -> list[tuple[str, str, str]]:
    """Return (label, kind, code) of the files a batch is made of: correct, bug, seeded."""
    out = []
    for path in sorted((CORPUS / EXERCISE).glob("*.py")):
        meta = parse(path)
        assert meta.expect_status == "graded", path
        out.append((path.stem, meta.kind, path.read_text()))
    assert {k for _, k, _ in out} == {"correct", "bug"}, "the corpus lost a kind"
    return [*out, ("seeded", "seeded", SEEDED_CODE)]


SOURCES = _sources()


@dataclass
class World:
    """The course, its ex2 assignment, its 300 students and the files of the first zip."""

    instructor_id: int
    assignment_id: int
    students: list[tuple[str, int]]  # (email, user id), file order
    kinds: dict[str, str]  # file name → correct | bug | seeded
    codes: dict[str, str]  # file name → code
    uid: dict[str, int]  # file name → user id
    reference: dict[str, list[str]] = field(default_factory=dict)  # name → CSV cells


# -- helpers ---------------------------------------------------------------------------------

@contextlib.contextmanager
def app_ctx(stack: Stack) -> Iterator[None]:
    from web.db import db

    with stack.app.app_context():
        try:
            yield
        finally:
            db.session.remove()


def zipped(files: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body in files.items():
            z.writestr(name, body)
    return out.getvalue()


def upload(stack: Stack, world: World, data: bytes, filename: str) -> int:
    """Upload a zip as the instructor would (read, then create); return the batch id."""
    from web.db import db
    from web.models import Assignments
    from web.services import batches

    with app_ctx(stack):
        parsed = batches.read(data, filename)
        batch = batches.create(db.session.get(Assignments, world.assignment_id), parsed,
                               filename=filename, created_by=world.instructor_id)
        return batch.id


@dataclass(frozen=True)
class FileRow:
    name: str
    file_status: str
    submission_id: int | None
    user_id: int | None
    status: str | None
    result_status: str | None
    score: float | None
    max_score: float | None
    attempts: int
    requeues: int
    worker: str | None
    gradings: int  # gradings of the submission (any reason)
    tensors: int  # TensorResults rows of its current grading
    reasons: tuple[str, ...]


def batch_files(stack: Stack, batch_id: int) -> dict[str, FileRow]:
    """Read a batch's files with their submissions and gradings, fresh from the database."""
    from sqlalchemy import func, select

    from web.db import db
    from web.models import BatchFiles, Gradings, Submissions, TensorResults

    with app_ctx(stack):
        files = db.session.execute(select(BatchFiles).where(
            BatchFiles.batch_id == batch_id)).scalars().all()
        sub_ids = [f.submission_id for f in files if f.submission_id is not None]
        subs = {s.id: s for s in db.session.execute(
            select(Submissions).where(Submissions.id.in_(sub_ids))).scalars()}
        reasons: dict[int, list[str]] = {i: [] for i in sub_ids}
        for sid, reason in db.session.execute(
                select(Gradings.submission_id, Gradings.reason)
                .where(Gradings.submission_id.in_(sub_ids))):
            reasons[sid].append(reason)
        tensors = dict(db.session.execute(
            select(Submissions.id, func.count(TensorResults.id))
            .join(TensorResults, TensorResults.grading_id == Submissions.current_grading_id)
            .where(Submissions.id.in_(sub_ids)).group_by(Submissions.id)).all())
        out = {}
        for f in files:
            s = subs.get(f.submission_id)
            out[f.name] = FileRow(
                f.name, f.status, f.submission_id, f.user_id,
                s and s.status, s and s.result_status, s and s.score, s and s.max_score,
                s.attempts if s else 0, s.requeues if s else 0, s and s.worker,
                len(reasons.get(f.submission_id, [])), tensors.get(f.submission_id, 0),
                tuple(sorted(reasons.get(f.submission_id, []))))
        return out


def progress(stack: Stack, batch_id: int):
    from web.db import db
    from web.models import Batches
    from web.services import batches

    with app_ctx(stack):
        return batches.progress(db.session.get(Batches, batch_id))


def batch_csv(stack: Stack, batch_id: int) -> str:
    from web.db import db
    from web.models import Batches
    from web.services import batches

    with app_ctx(stack):
        return batches.csv_text(db.session.get(Batches, batch_id))


def wait_batch(stack: Stack, batch_id: int, timeout: float, *, at_least: int | None = None):
    """Poll the batch's progress until it is finished (or ``at_least`` gradings are done)."""
    deadline = time.monotonic() + timeout
    while True:
        p = progress(stack, batch_id)
        if (p.finished if at_least is None else p.done >= at_least):
            return p
        if time.monotonic() > deadline:
            raise AssertionError(f"batch {batch_id} after {timeout} s: {p}\n{stack.logs()}")
        time.sleep(0.25)


def unfinished_gradings(stack: Stack) -> list[tuple[int, str, str]]:
    """Return (id, reason, status) of every grading of the database not done."""
    from sqlalchemy import select

    from web.db import db
    from web.models import DONE, Gradings

    with app_ctx(stack):
        return [tuple(r) for r in db.session.execute(
            select(Gradings.id, Gradings.reason, Gradings.status)
            .where(Gradings.status != DONE))]


def bulk_messages(stack: Stack) -> int:
    """Return how many messages wait on the bulk queue (every priority list of it)."""
    client = redis.Redis.from_url(stack.env["REDIS_URL"])
    try:
        return sum(client.llen(k) for k in client.keys("bulk*")
                   if client.type(k) == b"list")
    finally:
        client.close()


def csv_cells(text: str) -> list[list[str]]:
    """Parse CSV text; drop the columns that depend on timing: runtime_ms (a wall time) and
    review_flags (``possibly_numerical`` compares the backward's time with autograd's, so a
    busy machine may flag one run and not the other; it is never a penalty)."""
    rows = list(csv.reader(io.StringIO(text)))
    keep = [i for i, name in enumerate(rows[0]) if name not in ("runtime_ms", "review_flags")]
    return [[r[i] for i in keep] for r in rows]


def reference_csv(stack: Stack, world: World, names: list[str]) -> str:
    """Return the CSV of grading each named file alone in this process, as a local batch does,
    with the student and secret the worker grades it with (cached per file)."""
    from grader import get_exercise, grade
    from grader.batch_csv import header, row
    from grader.result import GradeResult
    from grader.sandbox import Sandbox
    from grader.text import csv_text

    exercise = get_exercise(EXERCISE)
    tensor_names = [g.name for g in exercise.graded]
    secret = stack.app.config["SECRET_KEY"].encode()
    todo = [n for n in names if n not in world.reference]
    if todo:
        sandbox = Sandbox()
        try:
            for name in todo:
                result = grade(exercise, world.codes[name], sandbox=sandbox,
                               student=f"user:{world.uid[name]}", secret=secret)
                # the service stores the result JSON and reads it back for its CSV
                result = GradeResult.from_json(result.to_json())
                world.reference[name] = row(Path(name).stem, result, tensor_names)
        finally:
            sandbox.close()
    return csv_text([header(tensor_names), *[world.reference[n] for n in sorted(names)]])


def assert_graded_once(stack: Stack, world: World, rows: dict[str, FileRow],
                       kinds: dict[str, str], reason: str = "batch") -> None:
    """Every file: one submission, one grading (done, ``reason``), one TensorResults set, and
    the score its kind promises; nothing of the database left queued or running."""
    n_tensors = len(stack.graded_tensors)
    assert sorted(rows) == sorted(kinds), "files missing from the batch"
    bad = [r for r in rows.values()
           if r.file_status != "submitted" or r.submission_id is None or r.status != "done"
           or r.result_status != "graded" or r.gradings != 1 or r.reasons != (reason,)
           or r.tensors != n_tensors or r.attempts < 1 or r.max_score is None
           or r.user_id != world.uid[r.name]]
    assert not bad, f"{len(bad)} files not graded exactly once, e.g. {bad[:3]}"
    assert len({r.submission_id for r in rows.values()}) == len(rows)
    wrong = [r for r in rows.values()
             if (kinds[r.name] == "correct" and r.score != r.max_score)
             or (kinds[r.name] == "bug" and r.score != 0.0)]
    assert not wrong, f"{len(wrong)} files with the wrong score, e.g. {wrong[:3]}"
    seeded = Counter(r.score for r in rows.values() if kinds[r.name] == "seeded")
    assert len(seeded) == 2, f"the seeded file should pass for some students only: {seeded}"
    assert not unfinished_gradings(stack), "gradings left queued/running"
    assert stack.count_pending() == 0, "submissions left queued/running"


def stop_all(workers: list[Worker]) -> None:
    """Stop workers together (warm shutdown, then SIGKILL), as a service restart does."""
    for w in workers:
        w.terminate()
    for w in workers:
        w.stop(grace=15.0)


@contextlib.contextmanager
def beat(stack: Stack) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``backprop beat`` (the reconciler's schedule) in its own session; stop it after."""
    log = stack.home / "beat.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen([BACKPROP, "beat"], env=stack.env, cwd=ROOT,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


# -- fixtures --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def world(pg_stack: Stack) -> World:
    """A course (its instructor made with ``create_user``) and 300 students imported with the
    roster service; the first zip's files, one per student, cycling through the sources."""
    from sqlalchemy import select

    from web.db import db
    from web.models import Assignments, Courses, Users
    from web.services import roster
    from web.services.accounts import create_user

    emails = [f"student{i:03d}@example.org" for i in range(N)]
    with app_ctx(pg_stack):
        teacher = create_user("teacher@example.org", "instructor", None, COURSE)
        course = db.session.scalar(select(Courses).where(Courses.code == COURSE))
        parsed = roster.parse(("email,name\n" + "".join(
            f"{e},Student {i:03d}\n" for i, e in enumerate(emails))).encode())
        assert not parsed.errors, parsed.errors
        counts = roster.apply(course, roster.plan(course, parsed))
        assert counts["new_user"] == N, counts
        uid = dict(db.session.execute(select(Users.email, Users.id)
                                      .where(Users.email.in_(emails))).all())
        aid = db.session.scalar(select(Assignments.id).where(
            Assignments.course_id == course.id, Assignments.exercise_id == EXERCISE))
        assert aid is not None
        teacher_id = teacher.id
    names = [f"{e}.py" for e in emails]
    picks = [SOURCES[i % len(SOURCES)] for i in range(N)]
    return World(teacher_id, aid, [(e, uid[e]) for e in emails],
                 kinds={n: kind for n, (_, kind, _) in zip(names, picks, strict=True)},
                 codes={n: code for n, (_, _, code) in zip(names, picks, strict=True)},
                 uid={n: uid[e] for n, e in zip(names, emails, strict=True)})


@pytest.fixture(scope="module")
def first_zip(world: World) -> bytes:
    return zipped(world.codes)


@pytest.fixture(scope="module")
def first_batch(pg_stack: Stack, world: World, first_zip: bytes) -> int:
    """The first upload of the 300 files (queued; the test that needs it graded grades it)."""
    return upload(pg_stack, world, first_zip, "class.zip")


# -- 1. 300 files, 2 workers: graded once, the CSV of grading each file alone --------------

@pytest.mark.slow
@pytest.mark.timeout(240)
def test_300_file_zip_graded_once_and_csv_matches_local_grading(
        pg_stack: Stack, world: World, first_batch: int) -> None:
    started = time.monotonic()
    rows = batch_files(pg_stack, first_batch)
    assert Counter(r.file_status for r in rows.values()) == {"submitted": N}
    assert progress(pg_stack, first_batch).queued == N

    workers = [pg_stack.worker("g1"), pg_stack.worker("g2")]
    try:
        for w in workers:
            w.start()
        # the reference grading in this process overlaps the workers' start and work
        expected = reference_csv(pg_stack, world, list(world.codes))
        for w in workers:
            w.wait_ready()
        p = wait_batch(pg_stack, first_batch, timeout=180)
    finally:
        stop_all(workers)
    wall = time.monotonic() - started

    assert (p.total, p.done, p.running, p.queued, p.failed, p.unsettled) == (N, N, 0, 0, 0, 0)
    rows = batch_files(pg_stack, first_batch)
    assert_graded_once(pg_stack, world, rows, world.kinds)
    # Nobody was killed and no reconciler ran: one attempt each, nothing requeued.
    assert Counter(r.attempts for r in rows.values()) == {1: N}
    assert all(r.requeues == 0 for r in rows.values())
    split = Counter(node_of(r) for r in rows.values())
    assert set(split) == {w.node for w in workers}, split

    got, want = csv_cells(batch_csv(pg_stack, first_batch)), csv_cells(expected)
    assert got[0] == want[0], "the batch CSV's header differs from a local batch's"
    assert len(got) == N + 1, f"{len(got) - 1} CSV rows for {N} files"
    differ = [(g, w) for g, w in zip(got, want, strict=True) if g != w]
    assert not differ, f"{len(differ)} CSV rows differ from grading the file alone, e.g. " \
                       f"{differ[:3]}"
    record("batch 300 files / 2 workers",
           f"{wall:.1f} s from upload to finished (incl. worker start and the in-process "
           f"reference grading), split {dict(split)}")


def test_the_csv_comparison_sees_another_secret(pg_stack: Stack, world: World) -> None:
    """The comparison above can fail: graded with another secret, the seeded file's rows of
    the same students are not all the same (their hidden cases differ)."""
    from grader import get_exercise, grade
    from grader.batch_csv import row
    from grader.sandbox import Sandbox

    exercise = get_exercise(EXERCISE)
    names = [g.name for g in exercise.graded]
    seeded = sorted(n for n, k in world.kinds.items() if k == "seeded")
    reference_csv(pg_stack, world, seeded)
    sandbox = Sandbox()
    try:
        other = {n: row(Path(n).stem, grade(exercise, world.codes[n], sandbox=sandbox,
                                            student=f"user:{world.uid[n]}",
                                            secret=b"another secret"), names)
                 for n in seeded}
    finally:
        sandbox.close()
    scores = [(world.reference[n][1], other[n][1]) for n in seeded]
    assert any(a != b for a, b in scores), scores


# -- 2. the same zip again: nothing graded twice ---------------------------------------------

def test_same_zip_twice_grades_nothing_twice(pg_stack: Stack, world: World, first_zip: bytes,
                                             first_batch: int) -> None:
    from sqlalchemy import func, select

    from web.db import db
    from web.models import Gradings, Submissions

    def counts() -> tuple[int, int]:
        with app_ctx(pg_stack):
            return (db.session.scalar(select(func.count()).select_from(Submissions)),
                    db.session.scalar(select(func.count()).select_from(Gradings)))

    before, queued_before = counts(), bulk_messages(pg_stack)
    second = upload(pg_stack, world, first_zip, "class-again.zip")
    assert second != first_batch
    assert counts() == before, "the second upload stored submissions or gradings"
    assert bulk_messages(pg_stack) == queued_before, "the second upload sent grading tasks"

    firsts = batch_files(pg_stack, first_batch)
    again = batch_files(pg_stack, second)
    assert sorted(again) == sorted(firsts)
    assert Counter(r.file_status for r in again.values()) == {"duplicate": N}
    # each duplicate points at the submission its twin became, of the same student
    assert all(again[n].submission_id == firsts[n].submission_id is not None
               and again[n].user_id == firsts[n].user_id == world.uid[n] for n in again)
    p = progress(pg_stack, second)
    assert (p.total, p.queued, p.running) == (0, 0, 0), p
    # the duplicates show their twins' results: the same CSV as the first upload
    assert batch_csv(pg_stack, second) == batch_csv(pg_stack, first_batch)


# -- 3. kill -9 of a worker mid-batch, then a restart of every worker ------------------------

@pytest.mark.slow
@pytest.mark.timeout(240)
def test_kill9_and_restart_mid_batch_every_file_stored_once(pg_stack: Stack,
                                                            world: World) -> None:
    # Half the class sends new content (a comment at the end: the same grades), so nothing is
    # a duplicate; a few correct files early in the zip sleep first: a window to kill a
    # worker mid-grading.
    names = sorted(world.codes)[:RESTART_FILES]
    total = len(names)
    kinds = {n: world.kinds[n] for n in names}
    correct_early = [n for n in names[6:60] if kinds[n] == "correct"]
    slow = set(correct_early[::5])
    codes = {n: (slow_code(2.0) if n in slow else world.codes[n]) + "\n# resubmitted\n"
             for n in names}
    started = time.monotonic()

    with beat(pg_stack) as scheduler:
        w1, w2 = start_all([pg_stack.worker("k1"), pg_stack.worker("k2")])
        try:
            batch = upload(pg_stack, world, zipped(codes), "class-restart.zip")
            slow_ids = {r.submission_id for r in batch_files(pg_stack, batch).values()
                        if r.name in slow}
            victim_sub, victim = _slow_running(pg_stack, slow_ids, [w1, w2])
            victim.kill9_main()
            killed_at = progress(pg_stack, batch)
            assert pg_stack.row(victim_sub).status == "running", "it finished before the kill"
            deadline = time.monotonic() + 10  # its pool dies by PDEATHSIG
            while victim.group_pids() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not victim.group_pids(), "the killed worker's pool outlived it"

            # the other worker goes on; then the service restarts: every worker stopped
            # (warm shutdown) and started again, mid-batch
            wait_batch(pg_stack, batch, timeout=60, at_least=killed_at.done + 10)
            stop_all([w1, w2])
            at_restart = progress(pg_stack, batch)
            assert not at_restart.finished, f"the batch finished before the restart: " \
                                            f"{at_restart}"
            start_all([w1, w2])
            p = wait_batch(pg_stack, batch, timeout=150)
        finally:
            stop_all([w1, w2])
        assert scheduler.poll() is None, "backprop beat died"
    wall = time.monotonic() - started

    assert (p.total, p.done, p.running, p.queued, p.failed) == (total, total, 0, 0, 0), p
    rows = batch_files(pg_stack, batch)
    assert_graded_once(pg_stack, world, rows, kinds)
    victim_row = next(r for r in rows.values() if r.submission_id == victim_sub)
    # its message stayed unacknowledged with the dead worker: the reconciler sent it again
    assert victim_row.requeues >= 1 and victim_row.attempts >= 2, victim_row
    # store-once: the same grades as grading each file alone (the comment changes nothing)
    got = csv_cells(batch_csv(pg_stack, batch))
    want = csv_cells(reference_csv(pg_stack, world, names))
    assert len(got) == total + 1, f"{len(got) - 1} CSV rows for {total} files"
    differ = [(g, w) for g, w in zip(got, want, strict=True) if g != w]
    assert not differ, f"{len(differ)} rows differ from grading the file alone: {differ[:3]}"
    more = Counter(r.attempts for r in rows.values())
    record("batch kill -9 + restart",
           f"{wall:.1f} s; killed {victim.name} at {killed_at.done}/{total} done, "
           f"restarted at {at_restart.done}/{total}; attempts {dict(sorted(more.items()))}, "
           f"victim requeued {victim_row.requeues}x")


def _slow_running(stack: Stack, slow_ids: set[int], workers: list[Worker],
                  timeout: float = 90.0) -> tuple[int, Worker]:
    """Wait until one of the slow files is running; return it and its worker."""
    from sqlalchemy import select

    from web.db import db
    from web.models import RUNNING, Gradings, Submissions

    by_node = {w.node: w for w in workers}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with app_ctx(stack):
            running = db.session.execute(
                select(Submissions.id, Gradings.worker)
                .join(Gradings, Gradings.id == Submissions.current_grading_id)
                .where(Submissions.id.in_(slow_ids), Gradings.status == RUNNING)).all()
        for sid, worker in running:
            w = by_node.get((worker or "").split(":", 1)[-1])
            if w is not None and w.alive():
                return sid, w
        time.sleep(0.05)
    raise AssertionError(f"no slow file ran within {timeout} s\n{stack.logs()}")


# -- 4. fair queue: a live submission does not wait for the batch ----------------------------

@pytest.mark.slow
@pytest.mark.timeout(180)
def test_live_submission_goes_before_a_waiting_batch(pg_stack: Stack, world: World) -> None:
    from sqlalchemy import func, select

    from web.db import db
    from web.models import DONE, Gradings, Submissions, utcnow
    from web.services import gradings, queue_health
    from web.services.submissions import create_submission

    codes = {n: c + "\n# fair queue\n" for n, c in world.codes.items()}
    processes = 2
    workers = start_all([pg_stack.worker("f1"), pg_stack.worker("f2")])
    try:
        batch = upload(pg_stack, world, zipped(codes), "class-fair.zip")
        wait_batch(pg_stack, batch, timeout=60, at_least=10)  # the batch is being graded

        # LIVE students submit (stored, not sent yet): their places ignore the batch.
        with app_ctx(pg_stack):
            live = [create_submission(exercise_id=EXERCISE, code=FAST_CODE, user_id=uid,
                                      assignment_id=world.assignment_id, enqueue=False)
                    for _, uid in world.students[:LIVE]]
            places = [queue_health.position(s) for s in live]
            health = queue_health.health(ask_workers=False)
            live_ids = [s.id for s in live]
        assert places == list(range(1, LIVE + 1)), places
        assert health.queued == LIVE and health.bulk_queued >= N // 2, health
        with app_ctx(pg_stack):
            sent_at = utcnow()  # the clock the workers stamp finished_at with
            for sid in live_ids:
                assert gradings.send(db.session.get(Submissions, sid).current_grading)
        rows = pg_stack.wait_all_done(live_ids, timeout=60, poll=0.05)
        assert all(r.result_status == "graded" and r.score == r.max_score
                   for r in rows.values()), rows

        with app_ctx(pg_stack):
            live_done = db.session.scalar(
                select(func.max(Gradings.finished_at)).where(
                    Gradings.submission_id.in_(live_ids)))
            finished = select(func.count()).select_from(Gradings).join(
                Submissions, Submissions.current_grading_id == Gradings.id).where(
                Submissions.batch_id == batch, Gradings.status == DONE)
            meanwhile = db.session.scalar(finished.where(Gradings.finished_at > sent_at,
                                                         Gradings.finished_at <= live_done))
            before = db.session.scalar(finished.where(Gradings.finished_at <= live_done))
    finally:
        stop_all(workers)

    # At worst the gradings running (or already taken) when the live ones were sent.
    # Round-robin between the queues would interleave about one batch grading per live one.
    assert meanwhile <= 2 * processes + 2, \
        f"{meanwhile} batch gradings finished while {LIVE} live submissions waited"
    assert before <= N // 2, f"{before} of {N} batch gradings finished before the live ones"
    record("fair queue (2 workers x 1 process)",
           f"{meanwhile} batch gradings finished between sending {LIVE} live submissions and "
           f"their end; {before}/{N} of the batch done by then")
