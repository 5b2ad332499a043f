"""The first half of the ``layers`` pack (linear … mse): its own facts, against PyTorch.

The corpus is graded by the shared corpus test; here: sizes per case, hidden cases that break
every hard-coded size, forward passes equal to PyTorch's layers, references equal to the
closed-form gradients, no degenerate draw, and the shipped solution and starter graded once
through the real sandbox.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from exercises.layers import relu
from grader import get_exercise, grade
from grader.kit import Case
from grader.sandbox import Sandbox

NAMES = ("linear", "relu", "tanh", "gelu", "softmax", "log_softmax", "mse")
PACK = Path(__file__).resolve().parents[2] / "exercises" / "layers"


def _case(ex_id: str, i: int = 0, seed: int = 1234) -> tuple[Any, Case, dict[str, Any]]:
    """Return the exercise, a case of its i-th spec under ``seed``, and its forward pass."""
    ex = get_exercise(ex_id)
    spec = ex.case_specs[i]
    case = Case("x", seed, spec.n, i > 0, dict(spec.params))
    return ex, case, ex.forward(case)


def _all_cases(ex_id: str, seeds: int = 20) -> Iterator[tuple[Case, dict[str, Any]]]:
    """Yield ``seeds`` forward passes of every case spec of an exercise."""
    ex = get_exercise(ex_id)
    for seed in range(seeds):
        for i, spec in enumerate(ex.case_specs):
            case = Case("x", 1000 * seed + i, spec.n, i > 0, dict(spec.params))
            yield case, ex.forward(case)


@pytest.mark.parametrize("name", NAMES)
def test_hidden_cases_change_every_public_size(name: str) -> None:
    """Each size of the public case differs in some hidden case, one size at a time (so a
    hard-coded number fails exactly where that size changes and diagnosis can name it)."""
    ex = get_exercise(f"layers/{name}")
    public, *hidden = ex.case_specs
    sizes = {"n": public.n, **public.params}
    changed = set()
    for spec in hidden:
        now = {"n": spec.n, **spec.params}
        diff = {k for k in sizes if now[k] != sizes[k]}
        assert len(diff) <= 1, f"{name}: a hidden case changes {diff} at once"
        changed |= diff
    assert changed == set(sizes)
    assert any({"n": s.n, **s.params} == sizes for s in hidden), "a same-size hidden case"


@pytest.mark.parametrize("name", NAMES)
def test_shapes_inputs_and_reference(name: str) -> None:
    """Every case has the spec's shapes; ``t`` holds detached float32 copies and ints;
    the reference is autograd's gradient of the loss, one per graded tensor."""
    ex = get_exercise(f"layers/{name}")
    for i, _ in enumerate(ex.case_specs):
        _, case, fwd = _case(ex.id, i)
        assert fwd["n"] == case.n and fwd["loss"].dim() == 0
        for key, size in case.params.items():
            assert size in {d for name_ in ex.inputs if isinstance(fwd[name_], torch.Tensor)
                            for d in fwd[name_].shape}, key
        t = ex.student_inputs(fwd)
        assert set(t) == set(ex.inputs)
        for value in t.values():
            if isinstance(value, torch.Tensor):
                assert not value.requires_grad and value.dtype == torch.float32
        ref = ex.reference(fwd)
        assert list(ref) == [g.name for g in ex.graded]
        for g in ex.graded:
            assert ref[g.name].shape == fwd[g.name].shape
            assert float(ref[g.name].abs().max()) > 1e-3, f"{g.name}: a ~0 gradient"


def test_linear_family_matches_closed_forms() -> None:
    """linear, relu, tanh and mse: the forward is PyTorch's, the reference the textbook rule."""
    _, _, f = _case("layers/linear", 3)
    assert torch.allclose(f["out"], F.linear(f["x"], f["W"].T, f["b"]))
    ref = get_exercise("layers/linear").reference(f)
    assert torch.allclose(ref["x"], f["dout"] @ f["W"].detach().T, atol=1e-6)
    assert torch.allclose(ref["W"], f["x"].detach().T @ f["dout"], atol=1e-6)
    assert torch.allclose(ref["b"], f["dout"].sum(0), atol=1e-6)

    ex, _, f = _case("layers/tanh", 2)
    local = (1 - f["h"].detach() ** 2) * f["dh"]
    assert torch.allclose(ex.reference(f)["hpre"], local, atol=1e-6)

    ex, _, f = _case("layers/mse", 4)
    assert torch.allclose(f["loss"], F.mse_loss(f["pred"], f["target"]))
    assert torch.allclose(ex.reference(f)["diff"], 2 * f["diff"].detach() / f["diff"].numel())


def test_gelu_is_pytorchs_tanh_approximation() -> None:
    _, _, f = _case("layers/gelu", 3)
    assert torch.allclose(f["out"], F.gelu(f["x"], approximate="tanh"), atol=1e-6)
    assert math.isclose(float(f["scaled"].detach()[0, 0] / f["inner"].detach()[0, 0]),
                        math.sqrt(2 / math.pi), rel_tol=1e-5)


def test_softmaxes_match_pytorch_and_maxes_is_a_constant() -> None:
    """maxes is detached: no gradient path through it, so dx is dshifted exactly."""
    ex, _, f = _case("layers/softmax", 2)
    assert torch.allclose(f["probs"], torch.softmax(f["x"], 1), atol=1e-6)
    assert not f["maxes"].requires_grad
    ref = ex.reference(f)
    assert torch.equal(ref["x"], ref["shifted"])
    ex, _, f = _case("layers/log_softmax", 3)
    assert torch.allclose(f["logprobs"], F.log_softmax(f["x"], 1), atol=1e-6)
    ref = ex.reference(f)
    assert torch.equal(ref["x"], ref["shifted"])


def test_no_degenerate_draws() -> None:
    """Over 20 seeds of every case: ReLU pre-activations have both signs and none near the
    kink; tanh is not mostly saturated; no softmax row is one-hot; GELU's input reaches its
    negative dip; the MSE residual has both signs."""
    for _, f in _all_cases("layers/relu"):
        pre = f["hpre"].detach()
        assert bool((pre.abs() > relu.KINK_MARGIN).all())
        assert 0.1 < float((pre > 0).float().mean()) < 0.9
    for _, f in _all_cases("layers/tanh"):
        assert float((f["h"].detach().abs() > 0.99).float().mean()) < 0.4
    for name in ("softmax", "log_softmax"):
        for _, f in _all_cases(f"layers/{name}"):
            assert float(torch.softmax(f["x"].detach(), 1).max()) < 0.995
    for _, f in _all_cases("layers/gelu"):
        x = f["x"].detach()
        assert bool((x < -0.75).any()) and bool((x > 0.75).any())
    for _, f in _all_cases("layers/mse"):
        d = f["diff"].detach()
        assert bool((d < 0).any()) and bool((d > 0).any())


@pytest.fixture(scope="module")
def graded(sandbox: Sandbox) -> dict[tuple[str, str], Any]:
    """Grade each exercise's reference solution and unfilled starter once."""
    out = {}
    for name in NAMES:
        ex = get_exercise(f"layers/{name}")
        for kind in ("solutions", "starters"):
            source = (PACK / kind / f"{name}.py").read_text()
            out[name, kind] = grade(ex, source, sandbox=sandbox, student="alice",
                                    secret=b"layers-a")
    return out


@pytest.mark.parametrize("name", NAMES)
def test_solution_full_marks_starter_zero(graded: dict[tuple[str, str], Any],
                                          name: str) -> None:
    solution, starter = graded[name, "solutions"], graded[name, "starters"]
    assert solution.status == "graded" and solution.score == solution.max_score
    assert starter.status == "graded" and starter.score == 0
    assert all(t.fingerprint == "not_filled" for t in starter.tensors)


def test_starter_is_shipped_and_solution_runs_in_process() -> None:
    """The starter handed out is the file in starters/; the solution (never shipped) agrees
    with the reference in-process too, for a case the sandbox test does not use."""
    for name in NAMES:
        ex = get_exercise(f"layers/{name}")
        assert ex.starter == (PACK / "starters" / f"{name}.py").read_text()
        assert f"backprop check {name}.py -e layers/{name}" in ex.starter
        scope: dict[str, Any] = {}
        exec(compile((PACK / "solutions" / f"{name}.py").read_text(), name, "exec"), scope)
        _, _, fwd = _case(ex.id, len(ex.case_specs) - 1, seed=99)
        got = scope["backward"](SimpleNamespace(**ex.student_inputs(fwd)))
        ref = ex.reference(fwd)
        for g in ex.graded:
            assert torch.allclose(got[g.name], ref[g.name], rtol=1e-4, atol=1e-6), (name, g)
