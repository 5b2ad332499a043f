"""Every correct formulation gets full marks; every planted bug loses exactly its tensors."""

from __future__ import annotations

from collections import Counter

import pytest

from grader import get_exercise, grade
from grader.result import PASSING
from tests.corpus_files import corpus

FILES = corpus("makemore4")
CORRECT = [f for f in FILES if f.kind == "correct"]
BUGS = [f for f in FILES if f.kind == "bug"]


def test_corpus_is_complete() -> None:
    """At least 3 correct formulations per exercise and 10+ classic bugs across the pack."""
    per_exercise = Counter(f.exercise for f in CORRECT)
    assert set(per_exercise) == {f"makemore4/ex{i}" for i in range(1, 5)}
    assert min(per_exercise.values()) >= 3, per_exercise
    classes = {f.bug_class for f in BUGS}
    assert len(BUGS) >= 10
    assert {"scale_1_over_n", "bessel", "transpose", "wrong_sum_dim", "missing_keepdim",
            "overwrite_branch", "embedding_duplicates", "tanh_wrong_tensor", "sign",
            "hardcoded_batch", "nan", "missing_key", "wrong_type"} <= classes


@pytest.mark.parametrize("entry", CORRECT, ids=lambda f: f.id)
def test_correct_formulation_gets_full_marks(entry, sandbox) -> None:
    result = grade(get_exercise(entry.exercise), entry.path.read_text(), sandbox=sandbox,
                   student="corpus", secret=b"corpus-secret")
    failing = {t.name: t.message for t in result.tensors if not t.passed}
    assert result.status == "graded", result.message
    assert not failing, failing
    assert all(c.passed for c in result.checks), [c.message for c in result.checks]
    assert result.score == result.max_score


@pytest.mark.parametrize("entry", BUGS, ids=lambda f: f.id)
def test_bug_loses_exactly_its_tensors(entry, sandbox) -> None:
    exercise = get_exercise(entry.exercise)
    result = grade(exercise, entry.path.read_text(), sandbox=sandbox, student="corpus",
                   secret=b"corpus-secret")
    assert result.status == entry.expect_status, result.message
    failing = {t.name for t in result.tensors if t.status not in PASSING}
    assert failing == entry.expect_wrong, (
        f"unexpectedly failing: {sorted(failing - entry.expect_wrong)}; "
        f"unexpectedly passing: {sorted(entry.expect_wrong - failing)}")
    graded_points = sum(t.points for t in result.tensors)
    assert graded_points == sum(g.points for g in exercise.graded
                                if g.name not in entry.expect_wrong)
    if entry.root_cause:
        assert entry.root_cause in failing


@pytest.mark.parametrize("entry", [f for f in BUGS if f.exercise == "makemore4/ex4"],
                         ids=lambda f: f.id)
def test_ex4_bug_fails_training(entry, sandbox) -> None:
    """A wrong parameter gradient also makes the training run diverge from autograd's."""
    result = grade(get_exercise(entry.exercise), entry.path.read_text(), sandbox=sandbox,
                   student="corpus", secret=b"corpus-secret")
    (training,) = result.checks
    if entry.expect_training == "pass":  # the header says why the loss curve cannot see it
        assert training.passed, training.message
    elif entry.expect_wrong - {"b1"}:  # b1's true gradient is ~0: a bug there cannot show
        assert not training.passed, training.message
