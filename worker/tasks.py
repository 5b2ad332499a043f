"""Grading tasks. They take ids only; everything else is read from the database."""

from __future__ import annotations

import logging
import socket
import time
from functools import partial

from celery import signals
from flask import current_app
from sqlalchemy.exc import DBAPIError, OperationalError

from grader import get_exercise, grade
from grader.registry import UnknownExercise
from grader.result import ERROR, GradeResult
from grader.sandbox import Sandbox, SandboxError
from web.services import gradings
from worker import logs
from worker.celery_app import celery

log = logging.getLogger(__name__)

#: Infrastructure failures worth a retry with backoff; a student's error is a result, never
#: an exception, so it is never retried.
INFRA_ERRORS = (OperationalError, DBAPIError, SandboxError, ConnectionError)

#: House defaults for every task (Redash's ``job = partial(...)``).
task = partial(celery.task, bind=True, acks_late=True, reject_on_worker_lost=True)

_sandbox: Sandbox | None = None


def sandbox() -> Sandbox:
    """Return this worker process's warm sandbox, started on first use."""
    global _sandbox
    if _sandbox is None:
        _sandbox = Sandbox()
    return _sandbox


@signals.worker_process_init.connect
def _init_process(**_) -> None:
    import torch

    # One thread per pool process: the pool already uses every core, and a forked
    # process must not inherit a running OpenMP pool.
    torch.set_num_threads(1)
    logs.install()
    sandbox()  # start the zygote now: its torch import overlaps the wait for a first task


@signals.worker_process_shutdown.connect
def _stop_sandbox(**_) -> None:
    if _sandbox is not None:
        _sandbox.close()


@task(name="worker.tasks.grade", autoretry_for=INFRA_ERRORS, retry_backoff=1,
      retry_backoff_max=30, retry_jitter=True, max_retries=12)
def grade_grading(self, grading_id: int) -> str:
    """Run one grading and store its result once, however often this task runs.

    The queue (live or bulk) is chosen by the sender; the task is the same for both.
    """
    t0 = time.perf_counter()
    max_attempts = current_app.config["GRADING_MAX_ATTEMPTS"]
    claimed = gradings.claim(grading_id, f"{socket.gethostname()}:{self.request.hostname}",
                             max_attempts, count=not self.request.retries)
    if claimed is None:
        return "skipped"
    if claimed.poison:
        log.error("grading %s killed its worker %s times; storing an error", grading_id,
                  max_attempts)
        gradings.store_result(grading_id, gradings.poison_result(claimed, max_attempts))
        return "poison"
    try:
        exercise = get_exercise(claimed.exercise_id)
    except UnknownExercise as exc:  # the pack was uninstalled since: a clear error, no retry
        log.error("grading %s: %s", grading_id, exc)
        # Refused before any of the student's code ran: it costs them no attempt.
        gradings.store_result(grading_id, GradeResult(
            exercise=claimed.exercise_id, status=ERROR, score=0.0, max_score=0.0,
            message=f"cannot grade: {exc}"), gradable=False)
        return ERROR
    t1 = time.perf_counter()
    result = grade(exercise, claimed.code, sandbox=sandbox(), student=claimed.student,
                   secret=current_app.config["SECRET_KEY"].encode())
    t2 = time.perf_counter()
    stored = gradings.store_result(grading_id, result)
    t3 = time.perf_counter()
    log.info("graded submission %s (grading %s): %s %s/%s in %.0f ms (claim %.1f, grade %.1f, "
             "store %.1f ms)%s",
             claimed.submission_id, grading_id, result.status, result.score,
             result.max_score, result.runtime_ms, (t1 - t0) * 1e3, (t2 - t1) * 1e3,
             (t3 - t2) * 1e3, "" if stored else " (already stored by another run)")
    return result.status


@task(name="worker.tasks.reconcile", queue="maintenance", autoretry_for=INFRA_ERRORS,
      max_retries=3)
def reconcile(self) -> int:
    """Requeue gradings stuck in queued/running: lost messages, dead workers, Redis restarts."""
    cfg = current_app.config
    candidates = gradings.stuck(cfg["RECONCILE_QUEUED_AFTER"], cfg["RECONCILE_RUNNING_AFTER"])
    resend = gradings.lost(candidates, _queue_lengths({c.queue for c in candidates}))
    for c in resend:
        gradings.requeue(c.id, c.queue)
    if resend:
        log.warning("reconciler requeued %d stuck gradings: %s", len(resend),
                    [c.id for c in resend[:20]])
    return len(resend)


def _queue_lengths(queues: set[str]) -> dict[str, int | None]:
    """Return how many messages each queue holds in the broker (None when it cannot say)."""
    out: dict[str, int | None] = dict.fromkeys(queues)
    try:
        with celery.connection_for_write() as conn:
            client = conn.default_channel.client  # the Redis transport's own client
            for q in queues:
                out[q] = int(client.llen(q))
    except Exception as exc:  # noqa: BLE001 — unknown lengths: resend as before
        log.warning("could not read the queue lengths (%s); resending by age", exc)
    return out
