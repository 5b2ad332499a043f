"""validate(): the real sandbox grades the solution, the starter and every mutant."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from grader import get_exercise
from grader.kit import Case, CaseSpec, Exercise, generator, graded, keep
from grader.validate import EQUIVALENT, KILLED, SURVIVED, Report, solution_path, validate
from tests.corpus_files import CORPUS


class Weak(Exercise):
    """A deliberately weak exercise: every case has the same (square) sizes and the loss is
    ``out.sum()``, so the upstream gradient is all ones; its starter crashes."""

    id = "test/weak"
    title = "weak linear layer"
    starter = "def backward(t):\n    return {'x': 1 / 0}\n"
    graded = graded("x", "W", "b")
    inputs = ("x", "W", "b", "out", "n")
    case_specs = (CaseSpec(n=4, params={"d": 4}),) * 3

    def forward(self, case: Case) -> dict[str, Any]:
        g = generator(case.seed)
        d = case.params["d"]
        x = torch.randn((case.n, d), generator=g).requires_grad_()
        W = torch.randn((d, d), generator=g).requires_grad_()
        b = torch.randn(d, generator=g).requires_grad_()
        out = x @ W + b
        loss = out.sum()
        n = case.n
        return keep(locals(), ("x", "W", "b", "out", "n", "loss"))


WEAK_SOLUTION = """\
import torch


def backward(t):
    dout = torch.ones(t.n, t.out.shape[1])
    dx = dout @ t.W.T
    dW = t.x.T @ dout
    db = dout.sum(0)
    return {"x": dx, "W": dW, "b": db}
"""


@pytest.fixture(scope="module")
def weak(sandbox) -> Report:
    return validate(Weak(), WEAK_SOLUTION, sandbox=sandbox)


def test_reference_solution_kills_every_mutant(sandbox) -> None:
    exercise = get_exercise("makemore4/ex2")
    path = solution_path(exercise)
    assert path is not None and path.parts[-2:] == ("solutions", "ex2.py")
    seen: list[tuple[int, int]] = []
    report = validate(exercise, path.read_text(), sandbox=sandbox,
                      progress=lambda done, total: seen.append((done, total)))
    assert report.solution_ok and report.starter_ok, (report.solution_problem,
                                                      report.starter_problem)
    assert report.mutants and not report.survivors
    assert report.ok
    assert seen[-1] == (len(report.mutants), len(report.mutants))
    assert {"sign", "one_over_n", "hardcoded_size"} <= set(report.counts())
    data = report.to_json()
    assert data["ok"] and data["totals"]["survived"] == 0


def test_weak_exercise_survivors_are_reported_by_operator(weak: Report) -> None:
    assert weak.solution_ok, weak.solution_problem
    assert not weak.ok
    by_op = {op: c[SURVIVED] for op, c in weak.counts().items()}
    # The same sizes in every case: hard-coded sizes survive; square all-ones gradients:
    # summing db over the wrong dimension gives the same numbers.
    assert by_op["hardcoded_size"] == 2
    assert by_op["sum_dim"] == 1
    assert by_op["sign"] == 0  # a sign is seen even here
    survivors = {(m.op, m.line) for m in weak.survivors}
    assert ("hardcoded_size", 5) in survivors and ("sum_dim", 8) in survivors
    assert all(m.outcome in (KILLED, SURVIVED) for m in weak.mutants)


def test_crashing_starter_is_reported(weak: Report) -> None:
    assert not weak.starter_ok
    assert "ZeroDivisionError" in weak.starter_problem


def test_failing_solution_is_reported_and_no_mutant_runs(sandbox) -> None:
    exercise = get_exercise("makemore4/ex2")
    bug = (CORPUS / "makemore4" / "ex2" / "bug_sign.py").read_text()
    report = validate(exercise, bug, sandbox=sandbox)
    assert not report.solution_ok and not report.ok
    assert "logits: wrong" in report.solution_problem
    assert report.mutants == []


def test_pragma_turns_a_survivor_into_a_declared_equivalent(sandbox) -> None:
    source = WEAK_SOLUTION.replace("db = dout.sum(0)",
                                   "db = dout.sum(0)  # validate: equivalent — square ones")
    report = validate(Weak(), source, sandbox=sandbox)
    on_line = [m for m in report.mutants if m.line == 8]
    assert {m.outcome for m in on_line if m.op == "sum_dim"} == {EQUIVALENT}
    assert all(m.detail == "square ones" for m in on_line if m.outcome == EQUIVALENT)
    # The sign of db is still caught: the pragma hides nothing the cases see.
    assert any(m.outcome == KILLED for m in on_line)
    assert report.stale_pragmas() == []
