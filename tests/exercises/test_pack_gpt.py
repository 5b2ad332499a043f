"""The gpt pack's own facts: the block against PyTorch's own layers, its cases, its inputs.

The corpus (tests/corpus/gpt/) is graded by the shared corpus test; here only the forward
pass, the sizes the hidden cases change, the student's inputs and the draws are checked, plus
one real grading of the reference solution and of the unfilled starter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from exercises.gpt import block
from grader import get_exercise, grade
from grader.kit import Case
from grader.sandbox import Sandbox

SOLUTION = Path(block.__file__).with_name("solutions") / "block.py"
SIZES = ("B", "T", "C", "n_head", "hs", "H")


def _case(i: int, seed: int | None = None) -> Case:
    ex = get_exercise("gpt/block")
    case = ex.cases("alice", b"secret")[i]
    return case if seed is None else Case(case.name, seed, case.n, case.hidden,
                                          dict(case.params))


def _fwd(i: int = 0, seed: int | None = None) -> dict[str, Any]:
    return get_exercise("gpt/block").forward(_case(i, seed))


@pytest.mark.parametrize("i", range(len(block.CASE_SPECS)))
def test_forward_and_gradients_match_pytorch_layers(i: int) -> None:
    """The step-by-step forward is nanoGPT's block: F.layer_norm, scaled_dot_product_attention
    (causal) and F.gelu give the same output and autograd the same parameter gradients."""
    ex = get_exercise("gpt/block")
    fwd = ex.forward(_case(i))
    B, T, C, nh, hs, H = (fwd[k] for k in SIZES)
    assert hs == C // nh and fwd["x"].dtype == torch.float64

    def heads(a: torch.Tensor) -> torch.Tensor:
        return a.view(B, T, nh, hs).transpose(1, 2)

    x, p = fwd["x"], {k: fwd[k] for k in block.PARAMETERS}
    ln1 = F.layer_norm(x, (C,), p["ln1_gain"], p["ln1_bias"], eps=block.EPS)
    att = F.scaled_dot_product_attention(heads(ln1 @ p["Wq"]), heads(ln1 @ p["Wk"]),
                                         heads(ln1 @ p["Wv"]), is_causal=True)
    x1 = x + att.transpose(1, 2).reshape(B, T, C) @ p["Wo"]
    ln2 = F.layer_norm(x1, (C,), p["ln2_gain"], p["ln2_bias"], eps=block.EPS)
    y = x1 + F.gelu(ln2 @ p["W1"] + p["b1"], approximate="tanh") @ p["W2"] + p["b2"]
    assert torch.allclose(y, fwd["y"], rtol=0, atol=1e-12)

    ref = ex.reference(fwd)
    leaves = ["x", *block.PARAMETERS]
    grads = torch.autograd.grad((y * fwd["dout"]).sum(), [fwd[k] for k in leaves])
    for name, g in zip(leaves, grads, strict=True):
        assert torch.allclose(ref[name], g, rtol=0, atol=1e-12), name
    assert [g.name for g in ex.graded] == list(ref) == list(block.GRADED)
    for name in block.GRADED:
        assert ref[name].shape == fwd[name].shape and ref[name].dtype == torch.float64


def test_shapes_of_the_public_case() -> None:
    fwd = _fwd()
    assert [fwd[k] for k in SIZES] == [2, 5, 12, 4, 3, 48]
    assert fwd["q"].shape == fwd["k"].shape == fwd["v"].shape == fwd["yh"].shape == (2, 4, 5, 3)
    assert fwd["scores"].shape == fwd["att"].shape == (2, 4, 5, 5)
    assert fwd["h"].shape == fwd["gelu"].shape == (2, 5, 48)
    assert fwd["W1"].shape == (12, 48) and fwd["W2"].shape == (48, 12)
    assert fwd["mu1"].shape == fwd["rstd2"].shape == (2, 5, 1)
    assert fwd["ln1_gain"].shape == fwd["b2"].shape == (12,)


def test_hidden_cases_change_every_size_and_seed() -> None:
    ex = get_exercise("gpt/block")
    cases = ex.cases("alice", b"k1")
    assert not cases[0].hidden and all(c.hidden for c in cases[1:])
    sizes = [{k: ex.forward(c)[k] for k in SIZES} for c in cases]
    for key in SIZES:
        assert any(s[key] != sizes[0][key] for s in sizes[1:]), key
    # A missing hs**-0.5 must not look like a power rule's factor 2 in any case.
    assert all(s["hs"] != 4 for s in sizes)
    again = ex.cases("alice", b"k2")
    assert cases[0].seed == again[0].seed
    assert all(a.seed != b.seed for a, b in zip(cases[1:], again[1:], strict=True))


def test_student_inputs_are_detached_float64_copies() -> None:
    ex = get_exercise("gpt/block")
    fwd = ex.forward(_case(0))
    t = ex.student_inputs(fwd)
    assert set(t) == set(ex.inputs) and "loss" not in t
    tensors = {k: v for k, v in t.items() if isinstance(v, torch.Tensor)}
    assert all(not v.requires_grad for v in tensors.values())
    assert {v.dtype for k, v in tensors.items() if k != "mask"} == {torch.float64}
    assert t["mask"].dtype == torch.bool and torch.equal(t["mask"], torch.ones(5, 5).tril() > 0)
    assert all(isinstance(t[k], int) for k in SIZES)
    t["x"].add_(1.0)
    assert not torch.equal(t["x"], fwd["x"])


def test_draws_are_never_degenerate() -> None:
    """Over many seeds of every case shape: the MLP's pre-activation takes both signs, the
    attention is not saturated, the LayerNorm inputs are not constant and no graded gradient
    is near zero (float noise would let a wrong formula pass)."""
    ex = get_exercise("gpt/block")
    for i in range(len(block.CASE_SPECS)):
        for seed in range(6):
            fwd = _fwd(i, seed * 7919 + i)
            h = fwd["h"].detach()
            assert 0.25 < float((h > 0).double().mean()) < 0.75
            att = fwd["att"].detach()[..., 1:, :]  # rows with a choice
            assert float(att.max(-1).values.mean()) < 0.9
            assert float(fwd["var1"].detach().min()) > 0.02 \
                and float(fwd["var2"].detach().min()) > 0.02
            ref = ex.reference(fwd)
            assert min(float(g.abs().max()) for g in ref.values()) > 0.05


@pytest.fixture(scope="module")
def graded_files(sandbox: Sandbox) -> dict[str, Any]:
    """Grade the reference solution and the unfilled starter once, through the sandbox."""
    ex = get_exercise("gpt/block")
    return {name: grade(ex, source, sandbox=sandbox, student="alice", secret=b"s")
            for name, source in (("solution", SOLUTION.read_text()), ("starter", ex.starter))}


def test_solution_gets_full_marks(graded_files: dict[str, Any]) -> None:
    result = graded_files["solution"]
    assert result.status == "graded"
    assert result.score == result.max_score == len(block.GRADED)


def test_unfilled_starter_scores_zero_cleanly(graded_files: dict[str, Any]) -> None:
    result = graded_files["starter"]
    assert result.status == "graded" and result.score == 0
    assert all(tr.fingerprint == "not_filled" for tr in result.tensors)
    assert "Traceback" not in result.message
