"""The conv pack's own facts: the forward passes against PyTorch's own gradients, the sizes
the hidden cases change, the student's inputs, pooling draws without ties.

The corpus (tests/corpus/conv/) is graded by the shared corpus test; here the reference
solutions and the unfilled starters are graded once each through the real sandbox.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch.nn import grad as nn_grad

from exercises.conv import conv1d, maxpool1d
from grader import get_exercise, grade
from grader.kit import Case
from grader.result import GradeResult
from grader.sandbox import Sandbox

IDS = ("conv/conv1d", "conv/maxpool1d")
SOLUTIONS = Path(conv1d.__file__).with_name("solutions")


def _fwd(ex_id: str, i: int = 0, seed: int | None = None) -> dict[str, Any]:
    ex = get_exercise(ex_id)
    case = ex.cases("alice", b"secret")[i]
    if seed is not None:
        case = Case(case.name, seed, case.n, case.hidden, dict(case.params))
    return ex.forward(case)


@pytest.mark.parametrize("i", range(len(conv1d.CASE_SPECS)))
def test_conv1d_reference_is_torch_nn_grad(i: int) -> None:
    """autograd's gradients equal torch.nn.grad's conv1d_input and conv1d_weight, and the
    sizes are the case's."""
    ex = get_exercise("conv/conv1d")
    spec = conv1d.CASE_SPECS[i]
    fwd = _fwd("conv/conv1d", i)
    x, w, dout = fwd["x"], fwd["w"], fwd["dout"]
    s, p = fwd["stride"], fwd["padding"]
    P = spec.params
    assert x.shape == (spec.n, P["C_in"], P["L"]) and w.shape == (P["C_out"], P["C_in"], P["K"])
    assert (s, p) == (P["stride"], P["padding"])
    assert dout.shape == (spec.n, P["C_out"], (P["L"] + 2 * p - P["K"]) // s + 1)
    ref = ex.reference(fwd)
    assert list(ref) == ["b", "w", "x"]
    dx = nn_grad.conv1d_input(x.shape, w.detach(), dout, stride=s, padding=p)
    dw = nn_grad.conv1d_weight(x.detach(), w.shape, dout, stride=s, padding=p)
    assert torch.allclose(ref["x"], dx, atol=1e-6) and torch.allclose(ref["w"], dw, atol=1e-6)
    assert torch.allclose(ref["b"], dout.sum((0, 2)), atol=1e-6)


def test_conv1d_cases_cover_unused_inputs_and_gaps() -> None:
    """Some hidden case leaves the last inputs outside every window (their true gradient is
    exactly 0: a solution that spreads the gradient past the last window fails), one has
    gaps between windows (stride > K), one overlapping windows."""
    unused = 0
    for i in range(len(conv1d.CASE_SPECS)):
        fwd = _fwd("conv/conv1d", i)
        dx = get_exercise("conv/conv1d").reference(fwd)["x"]
        if i > 0 and bool((dx.abs().amax((0, 1)) == 0).any()):
            unused += 1
    assert unused >= 2
    assert any(s.params["stride"] > s.params["K"] for s in conv1d.CASE_SPECS[1:])
    assert conv1d.CASE_SPECS[0].params["stride"] < conv1d.CASE_SPECS[0].params["K"]


@pytest.mark.parametrize("i", range(len(maxpool1d.CASE_SPECS)))
def test_maxpool_reference_routes_to_the_argmax(i: int) -> None:
    """dh is dout scattered (added) to each window's argmax; the linear's gradients follow."""
    ex = get_exercise("conv/maxpool1d")
    fwd = _fwd("conv/maxpool1d", i)
    h, dout = fwd["h"].detach(), fwd["dout"]
    out, idx = F.max_pool1d(h, fwd["kernel"], fwd["stride"], return_indices=True)
    assert torch.equal(out, fwd["out"].detach())
    ref = ex.reference(fwd)
    assert list(ref) == ["h", "W", "b", "x"]
    dh = torch.zeros_like(h).scatter_add(2, idx, dout)
    assert torch.allclose(ref["h"], dh, rtol=0, atol=1e-7)
    assert torch.allclose(ref["W"], torch.einsum("ncl,nil->ci", dh, fwd["x"].detach()),
                          atol=1e-5)
    assert torch.allclose(ref["x"], fwd["W"].detach().T @ dh, atol=1e-5)


@pytest.mark.parametrize("i", range(len(maxpool1d.CASE_SPECS)))
def test_maxpool_draws_have_no_ties_and_overlaps_share_maxima(i: int) -> None:
    """Over 20 seeds: every window's max beats its runner-up clearly (no tie to route), and
    where windows overlap some element is the max of two windows (so += is tested)."""
    spec = maxpool1d.CASE_SPECS[i]
    k, s = spec.params["kernel"], spec.params["stride"]
    for seed in range(20):
        fwd = _fwd("conv/maxpool1d", i, seed)
        assert maxpool1d.window_gap(fwd["h"], k, s) >= maxpool1d.MIN_GAP, seed
        _, idx = F.max_pool1d(fwd["h"].detach(), k, s, return_indices=True)
        shared = bool((idx[..., 1:] == idx[..., :-1]).any())
        assert shared == (s < k), seed


@pytest.mark.parametrize("ex_id", IDS)
def test_hidden_cases_change_every_size_and_seed(ex_id: str) -> None:
    """Each size (the stride and padding too) differs from the public case's in some hidden
    case, and no two sizes fail in the same pattern of cases (the diagnosis tells them
    apart)."""
    ex = get_exercise(ex_id)
    cases = ex.cases("alice", b"k1")
    public, hidden = cases[0], cases[1:]
    assert not public.hidden and all(c.hidden for c in hidden)
    patterns = {"n": frozenset(c.name for c in hidden if c.n != public.n)}
    for key, value in public.params.items():
        patterns[key] = frozenset(c.name for c in hidden if c.params[key] != value)
    assert all(patterns.values()), patterns
    assert len(set(patterns.values())) == len(patterns), patterns
    # Strides never fall below the public one: a hard-coded stride is wrong, not a crash.
    assert all(c.params["stride"] >= public.params["stride"] for c in hidden)
    again = ex.cases("alice", b"k2")
    assert again[0].seed == public.seed
    assert all(a.seed != b.seed for a, b in zip(hidden, again[1:], strict=True))


@pytest.mark.parametrize("ex_id", IDS)
def test_student_inputs_are_detached_float32_copies(ex_id: str) -> None:
    ex = get_exercise(ex_id)
    fwd = _fwd(ex_id)
    t = ex.student_inputs(fwd)
    assert set(t) == set(ex.inputs)
    for name, value in t.items():
        if isinstance(value, torch.Tensor):
            assert value.dtype == torch.float32 and not value.requires_grad, name
        else:
            assert isinstance(value, int), name
    t["x"].add_(1.0)
    assert not torch.equal(t["x"], fwd["x"])


@pytest.fixture(scope="module")
def graded(sandbox: Sandbox) -> dict[tuple[str, str], GradeResult]:
    """Grade each exercise's reference solution and unfilled starter once."""
    out = {}
    for ex_id in IDS:
        ex = get_exercise(ex_id)
        name = ex_id.split("/")[1]
        out[ex_id, "solution"] = grade(ex, (SOLUTIONS / f"{name}.py").read_text(),
                                       sandbox=sandbox)
        out[ex_id, "starter"] = grade(ex, ex.starter, sandbox=sandbox)
    return out


@pytest.mark.parametrize("ex_id", IDS)
def test_solution_full_marks_starter_zero(ex_id: str, graded) -> None:
    solution, starter = graded[ex_id, "solution"], graded[ex_id, "starter"]
    assert solution.status == "graded" and solution.score == solution.max_score, \
        solution.message
    assert starter.status == "graded" and starter.score == 0, starter.message
    assert all(t.status == "missing" and "not filled in" in t.message
               for t in starter.tensors)
