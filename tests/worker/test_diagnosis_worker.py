"""Diagnosis through the real stack: a Celery worker grades planted-bug submissions from
PostgreSQL + Redis and stores each tensor's root cause, fingerprint, local correctness and
carry-forward points, and the submission's carry-forward score beside the strict one."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.corpus_files import CORPUS, parse
from tests.worker.harness import Stack

EX1 = "makemore4/ex1"
EX1_DIR = CORPUS / "makemore4" / "ex1"
#: The hidden cases' seed, for the workers and this process alike.
SETTINGS = {"SECRET_KEY": "diagnosis-worker-tests"}


@pytest.mark.timeout(150)
def test_worker_stores_root_causes_fingerprints_and_both_scores(pg_stack: Stack) -> None:
    from web.db import db
    from web.models import Assignments, Courses, Submissions, TensorResults
    from web.services.accounts import create_user
    from web.services.submissions import create_submission

    worker = pg_stack.worker("diag").start()  # boots while the submissions are stored
    files = ("bug_no_1_over_n", "bug_sign_bnmeani")
    with pg_stack.app.app_context():
        student = create_user("student@example.org", "student", None, "WORKER-C")
        assignment = db.session.scalar(select(Assignments).join(Courses).where(
            Courses.code == "WORKER-C", Assignments.exercise_id == EX1))
        assignment.scoring = "carry_forward"
        db.session.commit()
        sids = {name: create_submission(exercise_id=EX1, code=(EX1_DIR / f"{name}.py").read_text(),
                                        user_id=student.id, assignment_id=assignment.id).id
                for name in files}
        db.session.remove()
    worker.wait_ready()
    rows = pg_stack.wait_all_done(sids.values(), timeout=90)
    assert all(r.result_status == "graded" and r.worker and r.attempts == 1
               for r in rows.values()), rows

    with pg_stack.app.app_context():
        try:
            for name, sid in sids.items():
                header = parse(EX1_DIR / f"{name}.py")
                sub = db.session.get(Submissions, sid)
                tensors = {t.name: t for t in sub.results}
                assert len(tensors) == 26
                wrong = {n for n, t in tensors.items() if t.status == "wrong"}
                assert wrong >= set(header.expect_wrong), name

                root = tensors[header.root_cause]
                assert (root.root_cause, root.locally_correct, root.fingerprint,
                        root.carry_forward_points) == (True, False, header.bug_class, 0.0), name
                assert [n for n, t in tensors.items() if t.root_cause] == [header.root_cause]
                for n, t in tensors.items():  # everything else is right given its upstream
                    if n == header.root_cause:
                        continue
                    assert t.locally_correct is True and t.root_cause is False, (name, n)
                    assert t.fingerprint is None and t.carry_forward_points == 1.0, (name, n)
                    if n in wrong:
                        assert t.diagnosis.startswith(f"inherited: d{n} is right given your d")
                    else:
                        assert t.diagnosis is None

                # both scores stored; the assignment counts the carry-forward one
                assert sub.score == sum(t.points for t in tensors.values()) < 25
                assert sub.carry_forward_score == 25.0 == sum(
                    t.carry_forward_points for t in tensors.values())
                assert (sub.scoring, sub.counted_score) == ("carry_forward", 25.0)
                assert (sub.result["score"], sub.result["carry_forward_score"]) == \
                    (sub.score, 25.0)
                stored_json = {t["name"]: t for t in sub.result["tensors"]}
                assert {n: (t["root_cause"], t["locally_correct"], t["fingerprint"],
                            t["carry_forward_points"]) for n, t in stored_json.items()} == \
                    {n: (t.root_cause, t.locally_correct, t.fingerprint,
                         t.carry_forward_points) for n, t in tensors.items()}

            def tensor(key: str, name: str) -> TensorResults:
                return next(t for t in db.session.get(Submissions, sids[key]).results
                            if t.name == name)

            one_over_n = tensor("bug_no_1_over_n", "logprobs")
            assert one_over_n.diagnosis == "dlogprobs is n = 32 times too big: a 1/n is missing"
            sign = tensor("bug_sign_bnmeani", "bnmeani")
            assert (sign.line, sign.fingerprint) == (54, "sign")
            assert "(likely line 54)" in sign.diagnosis
        finally:
            db.session.remove()
