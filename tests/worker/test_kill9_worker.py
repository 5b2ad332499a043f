"""``kill -9`` during grading: the pool process, then a worker's main process.

Two workers with one pool process each (w1 also runs the reconciler's beat). Two slow
submissions run at once, one per worker; the one on w2 loses its process mid-grading.
"""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest

from tests.worker.harness import (
    FAST_CODE,
    Stack,
    Worker,
    node_of,
    record,
    slow_code,
    start_all,
    wait_gone,
)

#: How long the slow submission sleeps: the window in which the test finds and kills its
#: process, with room for a loaded machine.
KILL_WINDOW = 2.5

SETTINGS = {"RECONCILE_QUEUED_AFTER": "3", "RECONCILE_RUNNING_AFTER": "8",
            "RECONCILE_EVERY": "1"}


@pytest.fixture(scope="module")
def workers(pg_stack: Stack) -> tuple[Worker, Worker]:
    w1, w2 = start_all([pg_stack.worker("w1", beat=True), pg_stack.worker("w2")])
    return w1, w2


def _two_running(stack: Stack, code: str, victim: Worker) -> tuple[list[int], int]:
    """Submit two slow submissions; return their ids and the one running on ``victim``."""
    ids = stack.submit(2, code)
    rows = [stack.wait_for(i, lambda r: r.status == "running", 30, "running") for i in ids]
    on_victim = [r.id for r in rows if node_of(r) == victim.node]
    assert len(on_victim) == 1, f"expected one submission per worker, got {rows}"
    return ids, on_victim[0]


@pytest.mark.timeout(120)
def test_kill9_pool_process(pg_stack: Stack, workers: tuple[Worker, Worker]) -> None:
    _, w2 = workers
    ids, victim = _two_running(pg_stack, slow_code(KILL_WINDOW), w2)
    pid = pg_stack.pool_pid(w2.node, victim)
    assert pid != w2.pid and pid in w2.group_pids(), "not a pool process of w2"
    sandbox = psutil.Process(pid).children(recursive=True)  # bwrap, zygote, the child
    assert sandbox, "the pool process has no sandbox below it"
    started = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    assert pg_stack.row(victim).status == "running", "it finished before the kill"

    rows = pg_stack.wait_all_done(ids, timeout=60)
    pg_stack.assert_graded_once(rows, ids)
    # The killed run counted as an attempt. The message came back at once (acks_late +
    # reject_on_worker_lost); only if that took longer than RECONCILE_RUNNING_AFTER could
    # the reconciler have sent it as well (requeues 1, attempts 3): graded once either way.
    assert 2 <= rows[victim].attempts <= 2 + rows[victim].requeues, rows[victim]
    assert [r.attempts for i, r in rows.items() if i != victim] == [1]
    assert f"pid:{pid} exited with 'signal 9 (SIGKILL)'" in w2.log(), w2.tail()
    assert "WorkerLostError" in w2.log()
    assert w2.alive(), "the worker itself must survive the loss of a pool process"
    # The killed process's sandbox (its own session, outside the group) went away with it.
    assert not wait_gone(sandbox), "the sandbox outlived its pool process"
    record("kill -9 pool process", f"regraded {time.monotonic() - started:.1f} s after the "
           f"kill, by {node_of(rows[victim])}")


@pytest.mark.timeout(120)
def test_kill9_worker_main_process(pg_stack: Stack, workers: tuple[Worker, Worker]) -> None:
    w1, w2 = workers
    ids, victim = _two_running(pg_stack, slow_code(KILL_WINDOW), w2)
    tree = w2.processes()
    assert len(tree) > 2, "w2 has no pool process or sandbox"
    started = time.monotonic()
    w2.kill9_main()
    # Its pool processes die with it (PDEATHSIG): nothing of w2 finishes the grading.
    deadline = time.monotonic() + 10
    while w2.group_pids() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not w2.group_pids(), "w2's pool outlived its main process"
    assert not wait_gone(tree), "sandboxes outlived the killed worker"
    assert pg_stack.row(victim).status == "running"

    # The message is unacknowledged in Redis (visibility timeout: minutes); the reconciler on
    # w1 requeues the stuck running submission after RECONCILE_RUNNING_AFTER.
    rows = pg_stack.wait_all_done(ids, timeout=60)
    pg_stack.assert_graded_once(rows, ids)
    assert rows[victim].requeues >= 1 and rows[victim].attempts >= 2, rows[victim]
    assert node_of(rows[victim]) == w1.node
    recovered = time.monotonic() - started
    attempts = rows[victim].attempts

    # Restarted, w2 takes work again and nothing is graded twice.
    w2.start()
    w2.wait_ready()
    more = pg_stack.submit(6, FAST_CODE)
    rows = pg_stack.wait_all_done(ids + more, timeout=60)
    pg_stack.assert_graded_once(rows, ids + more)
    assert rows[victim].attempts == attempts
    record("kill -9 worker main process", f"regraded by the other worker {recovered:.1f} s "
           "after the kill (reconciler, RECONCILE_RUNNING_AFTER=8)")
