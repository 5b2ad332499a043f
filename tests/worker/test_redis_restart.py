"""The broker loses its queue (a Redis restart without persistence: FLUSHDB on a private db).

Submissions are committed rows first, so nothing is lost with the messages: the reconciler
(``--beat``) finds the submissions stuck in ``queued`` and sends them again.
"""

from __future__ import annotations

import time

import pytest
import redis

from tests.worker.harness import FAST_CODE, Stack, record, slow_code, start_all

SETTINGS = {"RECONCILE_QUEUED_AFTER": "3", "RECONCILE_RUNNING_AFTER": "8",
            "RECONCILE_EVERY": "1"}


def _broker(stack: Stack) -> redis.Redis:
    return redis.Redis.from_url(stack.env["REDIS_URL"])


@pytest.mark.timeout(120)
def test_queue_lost_while_no_worker_runs(pg_stack: Stack) -> None:
    ids = pg_stack.submit(20, FAST_CODE)
    broker = _broker(pg_stack)
    assert broker.llen("grading") == 20, "the tasks were not queued in Redis"
    broker.flushdb()  # the broker restarts empty: every message is gone
    assert broker.llen("grading") == 0
    time.sleep(1)
    assert all(r.status == "queued" for r in pg_stack.rows(ids).values())

    started = time.monotonic()
    start_all([pg_stack.worker("w1", beat=True)])
    rows = pg_stack.wait_all_done(ids, timeout=60)
    pg_stack.assert_graded_once(rows, ids)
    assert all(r.requeues >= 1 for r in rows.values()), "graded without a requeue?"
    record("queue lost, no worker running (FLUSHDB)",
           f"all 20 graded {time.monotonic() - started:.1f} s after the worker started")


@pytest.mark.timeout(120)
def test_queue_lost_while_workers_run(pg_stack: Stack) -> None:
    """Redis loses everything (queue, unacked set, kombu's bindings) under a running worker."""
    (w1,) = [w for w in pg_stack.workers if w.name == "w1"] or [None]
    if w1 is None or not w1.alive():
        start_all([pg_stack.worker("w1", beat=True)])
    slow = pg_stack.submit(1, slow_code(2.0))
    pg_stack.wait_for(slow[0], lambda r: r.status == "running", 30, "running")
    queued = pg_stack.submit(10, FAST_CODE)
    broker = _broker(pg_stack)
    broker.flushdb()
    started = time.monotonic()
    # Submissions made after the loss must get through as well.
    later = pg_stack.submit(5, FAST_CODE)
    ids = slow + queued + later
    rows = pg_stack.wait_all_done(ids, timeout=60)
    pg_stack.assert_graded_once(rows, ids)
    record("queue lost under a running worker (FLUSHDB)",
           f"all {len(ids)} graded {time.monotonic() - started:.1f} s after the flush")
