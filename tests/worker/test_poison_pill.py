"""A submission that kills its worker process every time is stopped after N attempts.

GRADING_MAX_ATTEMPTS=2: each time the submission starts (status running, attempt k), the test
``kill -9``s the pool process grading it (the pid celery reports for the task). The message
comes back each time (acks_late + reject_on_worker_lost); the third claim stores a clear
error instead of running it again, and the message is not redelivered any more.
"""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest
import redis

from tests.worker.harness import FAST_CODE, Stack, record, slow_code, start_all, wait_gone

SETTINGS = {"GRADING_MAX_ATTEMPTS": "2"}


@pytest.mark.timeout(150)
def test_poison_pill_is_stored_as_error_after_max_attempts(pg_stack: Stack) -> None:
    (w1,) = start_all([pg_stack.worker("w1")])
    started = time.monotonic()
    (sid,) = pg_stack.submit(1, slow_code(3.0))
    killed: list[int] = []
    sandboxes: list[psutil.Process] = []
    for attempt in (1, 2):
        row = pg_stack.wait_for(sid, lambda r, a=attempt: r.status == "running"
                                and r.attempts == a, 60, f"running attempt {attempt}")
        assert row.result_status is None
        pid = pg_stack.pool_pid(w1.node, sid)
        assert pid != w1.pid and pid in w1.group_pids()
        sandboxes += psutil.Process(pid).children(recursive=True)
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    row = pg_stack.wait_all_done([sid], timeout=60)[sid]
    elapsed = time.monotonic() - started
    assert row.status == "done" and row.result_status == "error", row
    assert row.score == 0 and row.max_score == 1.0, row
    assert "stopped the grading worker 2 times" in (row.message or ""), row.message
    assert row.attempts == 3, row  # two killed runs, then the claim that stopped it
    assert row.tensors == len(pg_stack.graded_tensors), "one set of (not evaluated) tensors"
    for pid in killed:
        assert f"pid:{pid} exited with 'signal 9 (SIGKILL)'" in w1.log(), w1.tail()
    assert "killed its worker 2 times; storing an error" in w1.log()
    assert not wait_gone(sandboxes), "sandboxes outlived their killed pool processes"

    # Not redelivered forever: the message is acknowledged, the row stays as it is, and the
    # worker goes on grading other submissions.
    broker = redis.Redis.from_url(pg_stack.env["REDIS_URL"])
    ok = pg_stack.submit(3, FAST_CODE)
    rows = pg_stack.wait_all_done(ok, timeout=60)
    pg_stack.assert_graded_once(rows, ok)
    time.sleep(2)
    assert pg_stack.row(sid).attempts == 3
    assert broker.llen("grading") == 0
    assert broker.hlen("unacked") == 0, broker.hgetall("unacked")
    record("poison pill (GRADING_MAX_ATTEMPTS=2)",
           f"stored as error {elapsed:.1f} s after submission, after 2 kill -9")
