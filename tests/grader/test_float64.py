"""float64 exercises: t's tensors, the returned gradients and the judge all in float64.

Numerically delicate packs (normalisations, the transformer block) grade in float64 so that
float32 rounding cannot blur a verdict; these tests run one such exercise through the real
sandbox and check that the precision really is float64 end to end.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from grader import grade
from grader.kit import Case, CaseSpec, Exercise, generator, graded, keep, upstream_loss
from grader.sandbox import Sandbox


class Tanh64(Exercise):
    """h = tanh(x @ W), graded in float64 with a tolerance float32 could never meet."""

    id = "test/tanh64"
    title = "tanh layer in float64"
    dtype = torch.float64
    rtol, atol = 1e-10, 1e-12
    graded = graded("h", "W", "x")
    inputs = ("x", "W", "h", "dout")
    case_specs = (CaseSpec(n=8, params={"d": 5}), CaseSpec(n=3, params={"d": 7}))

    def forward(self, case: Case) -> dict[str, Any]:
        g = generator(case.seed)
        d = case.params["d"]
        x = torch.randn((case.n, d), generator=g, dtype=torch.float64, requires_grad=True)
        W = torch.randn((d, 4), generator=g, dtype=torch.float64, requires_grad=True)
        h = torch.tanh(x @ W)
        loss, dout = upstream_loss(h, g)
        return {**keep(locals(), ("x", "W", "h")), "dout": dout, "loss": loss}


CORRECT = """
def backward(t):
    assert t.x.dtype == t.dout.dtype == t.h.dtype == __import__("torch").float64
    dh = t.dout.clone()
    dpre = (1 - t.h**2) * dh
    return {"h": dh, "W": t.x.T @ dpre, "x": dpre @ t.W.T}
"""

#: Right formula, computed in float32 and cast back: float32 rounding (~1e-7 relative) is
#: far outside a float64 tolerance, so a judge working in float32 would pass it.
ROUNDED = CORRECT.replace("dpre = (1 - t.h**2) * dh",
                          "dpre = ((1 - t.h**2) * dh).float().double()")

FLOAT32 = CORRECT.replace('return {"h": dh,', 'return {"h": dh.float(),')


@pytest.fixture(scope="module")
def results(sandbox: Sandbox) -> dict[str, Any]:
    ex = Tanh64()
    return {name: grade(ex, src, sandbox=sandbox, student="s", secret=b"k")
            for name, src in (("correct", CORRECT), ("rounded", ROUNDED),
                              ("float32", FLOAT32))}


def test_inputs_are_float64_copies() -> None:
    ex = Tanh64()
    fwd = ex.forward(ex.cases("s", b"k")[0])
    t = ex.student_inputs(fwd)
    assert t["x"].dtype == torch.float64 and not t["x"].requires_grad
    assert t["x"] is not fwd["x"]


def test_correct_float64_gradients_pass(results) -> None:
    r = results["correct"]
    assert r.status == "graded", r.message
    assert r.score == r.max_score == 3


def test_judge_compares_in_float64(results) -> None:
    wrong = {t.name for t in results["rounded"].tensors if not t.passed}
    assert wrong == {"W", "x"}


def test_a_float32_gradient_is_told_to_use_double(results) -> None:
    h = next(t for t in results["float32"].tensors if t.name == "h")
    assert not h.passed
    assert "got dtype float32, expected float64 (use .double())" in h.message
    assert {t.name for t in results["float32"].tensors if t.passed} == {"W", "x"}
