"""The attention pack's own facts: the forward passes against PyTorch's attention, the sizes
the hidden cases change, the student's inputs, draws that are never degenerate.

The corpus (tests/corpus/attention/) is graded by the shared corpus test; here the reference
solutions and the unfilled starters are graded once each through the real sandbox.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from exercises.attention import head, multihead
from grader import get_exercise, grade
from grader.kit import Case
from grader.result import GradeResult
from grader.sandbox import Sandbox

IDS = ("attention/head", "attention/multihead")
SOLUTIONS = Path(head.__file__).with_name("solutions")


def _case(ex_id: str, i: int, seed: int | None = None) -> Case:
    case = get_exercise(ex_id).cases("alice", b"secret")[i]
    return case if seed is None else Case(case.name, seed, case.n, case.hidden,
                                          dict(case.params))


def _fwd(ex_id: str, i: int = 0, seed: int | None = None) -> dict[str, Any]:
    return get_exercise(ex_id).forward(_case(ex_id, i, seed))


def _check_reference(ex_id: str, fwd: dict[str, Any], out: torch.Tensor,
                     leaves: tuple[str, ...]) -> None:
    """``out`` (an independent recomputation) equals the forward's; autograd through it gives
    the reference gradients of the leaves; every graded gradient has its tensor's shape."""
    ex = get_exercise(ex_id)
    assert torch.allclose(out, fwd["out"], rtol=0, atol=1e-12)
    ref = ex.reference(fwd)
    grads = torch.autograd.grad((out * fwd["dout"]).sum(), [fwd[k] for k in leaves])
    for name, g in zip(leaves, grads, strict=True):
        assert torch.allclose(ref[name], g, rtol=0, atol=1e-12), name
    assert [g.name for g in ex.graded] == list(ref)
    for name, g in ref.items():
        assert g.shape == fwd[name].shape and g.dtype == torch.float64, name


@pytest.mark.parametrize("i", range(len(head.Head.case_specs)))
def test_head_is_causal_scaled_dot_product_attention(i: int) -> None:
    fwd = _fwd("attention/head", i)
    B, T, C, hs = fwd["B"], fwd["T"], fwd["C"], fwd["hs"]
    x = fwd["x"]
    assert x.shape == (B, T, C) and fwd["Wq"].shape == (C, hs) and fwd["tril"].shape == (T, T)
    out = F.scaled_dot_product_attention(x @ fwd["Wq"], x @ fwd["Wk"], x @ fwd["Wv"],
                                         is_causal=True)
    _check_reference("attention/head", fwd, out, ("x", "Wq", "Wk", "Wv"))


@pytest.mark.parametrize("i", range(len(multihead.MultiHead.case_specs)))
def test_multihead_is_per_head_sdpa_and_a_projection(i: int) -> None:
    fwd = _fwd("attention/multihead", i)
    B, T, C, nh, hs = (fwd[k] for k in ("B", "T", "C", "n_head", "hs"))
    assert nh * hs == C and fwd["qh"].shape == (B, nh, T, hs)

    def heads(a: torch.Tensor) -> torch.Tensor:
        return a.view(B, T, nh, hs).transpose(1, 2)

    x = fwd["x"]
    y = F.scaled_dot_product_attention(heads(x @ fwd["Wq"]), heads(x @ fwd["Wk"]),
                                       heads(x @ fwd["Wv"]), is_causal=True)
    out = y.transpose(1, 2).reshape(B, T, C) @ fwd["Wo"]
    _check_reference("attention/multihead", fwd, out, ("x", "Wq", "Wk", "Wv", "Wo"))


@pytest.mark.parametrize("ex_id", IDS)
def test_hidden_cases_change_every_size_and_seed(ex_id: str) -> None:
    """Each size a submission could hard-code differs from the public case's in some hidden
    case, and no two sizes fail in the same pattern of cases (the diagnosis tells them apart)."""
    ex = get_exercise(ex_id)
    cases = ex.cases("alice", b"k1")
    public, hidden = cases[0], cases[1:]
    assert not public.hidden and all(c.hidden for c in hidden)
    patterns = {"n": frozenset(c.name for c in hidden if c.n != public.n)}
    for key, value in public.params.items():
        patterns[key] = frozenset(c.name for c in hidden if c.params[key] != value)
    assert all(patterns.values()), patterns
    assert len(set(patterns.values())) == len(patterns), patterns
    again = ex.cases("alice", b"k2")
    assert again[0].seed == public.seed
    assert all(a.seed != b.seed for a, b in zip(hidden, again[1:], strict=True))
    assert len({c.seed for c in cases}) == len(cases)
    for c in cases:
        assert c.n <= 4 and c.params["T"] <= 8 and c.params["C"] <= 16


@pytest.mark.parametrize("ex_id", IDS)
def test_student_inputs_are_detached_float64_copies(ex_id: str) -> None:
    ex = get_exercise(ex_id)
    fwd = _fwd(ex_id)
    t = ex.student_inputs(fwd)
    assert set(t) == set(ex.inputs) and "loss" not in t
    for name, value in t.items():
        if isinstance(value, torch.Tensor):
            assert value.dtype == torch.float64 and not value.requires_grad, name
        else:
            assert isinstance(value, int), name
    t["x"].add_(1.0)
    assert not torch.equal(t["x"], fwd["x"])
    # The mask the student reads is the one the forward used: -inf exactly above the diagonal.
    assert torch.equal(torch.isinf(t["masked"]), (t["tril"] == 0).expand_as(t["masked"]))


@pytest.mark.parametrize("ex_id", IDS)
def test_draws_are_never_degenerate(ex_id: str) -> None:
    """Over many seeds and every case's sizes: no graded gradient is ~0 (a mutant would hide
    in float noise) and the softmax is far from saturated in most rows (the first row is
    1 by the mask)."""
    ex = get_exercise(ex_id)
    for i in range(len(ex.case_specs)):
        for seed in range(6):
            fwd = _fwd(ex_id, i, seed)
            ref = ex.reference(fwd)
            small = [n for n, g in ref.items() if float(g.abs().max()) < 0.05]
            assert not small, (i, seed, small)
            rows = fwd["att"].detach()[..., 1:, :].amax(-1)
            assert float((rows > 0.99).double().mean()) < 0.1, (i, seed)


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
