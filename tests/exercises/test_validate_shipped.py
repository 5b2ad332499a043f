"""The acceptance gate of every shipped exercise: ``backprop validate`` finds nothing.

Each exercise's reference solution gets full marks, its unfilled starter fails cleanly, and
no mutant of the solution (sign flips, dropped terms, transposes, keepdim, sum dims, 1/n,
``=`` for ``+=``, hard-coded sizes) survives its cases — through the real sandbox, as
``backprop validate --all`` does. A weakened case set (say, a hidden case that keeps the
public sizes) fails here, naming the exercise and the surviving mutants. No pragma may be
stale: an ``# validate: equivalent`` line whose mutants all die claims a blind spot that
is not there.
"""

from __future__ import annotations

import pytest

from grader import get_exercise, load_exercises
from grader.sandbox import Sandbox
from grader.validate import solution_path, validate

#: Our packs (the example third-party pack is validated by its own test).
SHIPPED = sorted(i for i in load_exercises() if not i.startswith("example/"))

pytestmark = pytest.mark.slow


def test_every_pack_is_here() -> None:
    assert {i.split("/")[0] for i in SHIPPED} == {"makemore4", "layers", "attention", "conv",
                                                 "gpt"}
    assert len(SHIPPED) >= 22


@pytest.mark.parametrize("exercise_id", SHIPPED)
def test_validate_finds_nothing(exercise_id: str, sandbox: Sandbox) -> None:
    exercise = get_exercise(exercise_id)
    path = solution_path(exercise)
    assert path is not None and path.is_file(), f"{exercise_id}: no reference solution"
    report = validate(exercise, path.read_text(encoding="utf-8"), sandbox=sandbox)
    assert not report.problem, report.problem  # e.g. tensors not in the declared dtype
    assert report.solution_ok, report.solution_problem
    assert report.starter_ok, report.starter_problem
    assert report.mutants, "no mutant was planted: the solution is not a backward pass?"
    survivors = [f"line {m.line} {m.op}: {m.description}" for m in report.survivors]
    assert not survivors, survivors
    assert not report.stale_pragmas(), report.stale_pragmas()
