"""A burst of 300 submissions, two worker processes: every one graded exactly once."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from tests.worker.harness import Stack, node_of, record, start_all

N = 300


@pytest.mark.timeout(180)
def test_burst_300_two_workers(pg_stack: Stack) -> None:
    workers = start_all([pg_stack.worker("w1"), pg_stack.worker("w2")])

    started = time.monotonic()
    ids = pg_stack.submit(N)
    created = time.monotonic() - started
    rows = pg_stack.wait_all_done(ids, timeout=150)
    wall = time.monotonic() - started

    pg_stack.assert_graded_once(rows, ids)
    # Nobody graded anything twice: one attempt each, nothing requeued.
    assert Counter(r.attempts for r in rows.values()) == {1: N}
    assert all(r.requeues == 0 for r in rows.values())
    # Both processes took part (the burst was really shared).
    per_worker = Counter(node_of(r) for r in rows.values())
    assert set(per_worker) == {w.node for w in workers}, per_worker
    record("burst 300 / 2 workers (PostgreSQL)",
           f"{wall:.1f} s wall ({created:.1f} s to create), {N / wall:.0f} submissions/s, "
           f"split {dict(per_worker)}")
