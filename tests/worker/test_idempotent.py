"""The grading task sent twice for the same submission: one result is stored."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import delete, update

from tests.worker.harness import FAST_CODE, Stack, record, slow_code, start_all


@pytest.mark.timeout(120)
def test_duplicate_task_stores_one_result(pg_stack: Stack) -> None:
    workers = start_all([pg_stack.worker("w1"), pg_stack.worker("w2")])
    slow = pg_stack.submit(3, slow_code(1.0), enqueue=False)
    fast = pg_stack.submit(20, FAST_CODE, enqueue=False)
    ids = slow + fast
    for sid in ids:  # both messages back to back: the two workers take one each
        pg_stack.enqueue(sid)
        pg_stack.enqueue(sid)
    rows = pg_stack.wait_all_done(ids, timeout=90)
    pg_stack.assert_graded_once(rows, ids)
    attempts = Counter(r.attempts for r in rows.values())
    assert set(attempts) <= {1, 2}, attempts
    # The duplicates really ran side by side (the first two messages go one to each idle
    # worker) and both reached store_result: one wrote, the other found it stored.
    assert rows[slow[0]].attempts == 2, rows[slow[0]]
    logs = "\n".join(w.log() for w in workers)
    assert "(already stored by another run)" in logs, logs[-3000:]
    record("duplicate tasks", f"{len(ids)} submissions sent twice: attempts {dict(attempts)}, "
           f"{logs.count('(already stored by another run)')} losing stores, "
           f"{logs.count(': skipped')} skipped claims")


def test_exactly_once_assertion_counts_rows(pg_stack: Stack) -> None:
    """The check used everywhere fails on a duplicate, a missing or a pending row."""
    from web.db import db
    from web.models import Gradings, Submissions, TensorResults

    (sid,) = pg_stack.submit(1, FAST_CODE, enqueue=False)
    with pg_stack.app.app_context():
        gid = db.session.get(Submissions, sid).current_grading_id
        db.session.execute(update(Submissions).where(Submissions.id == sid).values(
            status="done", result_status="graded", score=1.0, max_score=1.0))
        db.session.execute(update(Gradings).where(Gradings.id == gid).values(
            status="done", result_status="graded", score=1.0, max_score=1.0, attempts=1))
        db.session.add(TensorResults(grading_id=gid, position=0, name="logits",
                                     status="exact", points=1.0, max_points=1.0))
        db.session.commit()
    pg_stack.assert_graded_once(pg_stack.rows([sid]), [sid])  # well-formed: passes

    def mutate(*statements, add=None) -> None:
        with pg_stack.app.app_context():
            for s in statements:
                db.session.execute(s)
            if add is not None:
                db.session.add(add)
            db.session.commit()

    mutate(add=TensorResults(grading_id=gid, position=1, name="logits_again",
                             status="exact", points=1.0, max_points=1.0))
    with pytest.raises(AssertionError, match="not graded exactly once"):
        pg_stack.assert_graded_once(pg_stack.rows([sid]), [sid])
    mutate(delete(TensorResults).where(TensorResults.grading_id == gid))
    with pytest.raises(AssertionError, match="not graded exactly once"):
        pg_stack.assert_graded_once(pg_stack.rows([sid]), [sid])
    mutate(add=TensorResults(grading_id=gid, position=0, name="logits", status="exact",
                             points=1.0, max_points=1.0))
    (other,) = pg_stack.submit(1, FAST_CODE, enqueue=False)  # left queued
    with pytest.raises(AssertionError, match="left queued/running"):
        pg_stack.assert_graded_once(pg_stack.rows([sid]), [sid])
    mutate(delete(Submissions).where(Submissions.id == other))
    pg_stack.assert_graded_once(pg_stack.rows([sid]), [sid])
