"""The second half of the ``layers`` pack (normalisations, dropout, embedding, residual)
against autograd and PyTorch's own layers, and its draws against degenerate cases."""

from __future__ import annotations

import runpy
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from exercises.layers import dropout, embedding
from grader import get_exercise, grade
from grader.kit import Case

IDS = ("layers/layernorm", "layers/rmsnorm", "layers/dropout", "layers/embedding",
       "layers/batchnorm1d", "layers/residual")
SOLUTIONS = Path(__file__).parents[2] / "exercises" / "layers" / "solutions"
#: Seeds for the degenerate-draw properties: enough to make a rare draw show, cheap to build.
SEEDS = range(20)


def _cases(ex_id: str) -> list[Case]:
    return get_exercise(ex_id).cases("alice", b"secret")


def _fwd(ex_id: str, i: int = 0, seed: int | None = None) -> dict[str, Any]:
    ex = get_exercise(ex_id)
    case = _cases(ex_id)[i]
    if seed is not None:
        case = Case(case.name, seed, case.n, case.hidden, dict(case.params))
    return ex.forward(case)


@pytest.mark.parametrize("ex_id", IDS)
def test_hidden_cases_change_every_size(ex_id: str) -> None:
    """A size a student might hard-code (n or any param) differs in some hidden case."""
    public, *hidden = _cases(ex_id)
    assert not public.hidden and hidden and all(c.hidden for c in hidden)
    assert any(c.n != public.n for c in hidden)
    for key, value in public.params.items():
        assert any(c.params[key] != value for c in hidden), key


@pytest.mark.parametrize("ex_id", IDS)
def test_inputs_are_detached_copies_in_the_exercise_dtype(ex_id: str) -> None:
    ex = get_exercise(ex_id)
    fwd = _fwd(ex_id)
    t = ex.student_inputs(fwd)
    assert set(t) == set(ex.inputs)
    for name, value in t.items():
        if isinstance(value, torch.Tensor):
            assert not value.requires_grad, name
            if value.is_floating_point():
                assert value.dtype == ex.dtype, name
            assert value.data_ptr() != fwd[name].data_ptr(), name
    expected = torch.float64 if ex_id in ("layers/layernorm", "layers/rmsnorm",
                                          "layers/batchnorm1d") else torch.float32
    assert ex.dtype == expected


@pytest.mark.parametrize("ex_id", IDS)
def test_reference_solution_matches_autograd_in_every_case(ex_id: str) -> None:
    """The shipped solution (run in-process: it is our code) equals autograd's gradients,
    with the graded tensors' forward shapes, in every case's sizes."""
    ex = get_exercise(ex_id)
    backward = runpy.run_path(str(SOLUTIONS / f"{ex_id.split('/')[1]}.py"))["backward"]
    for case in _cases(ex_id):
        fwd = ex.forward(case)
        ref = ex.reference(fwd)
        got = backward(SimpleNamespace(**ex.student_inputs(fwd)))
        for g in ex.graded:
            assert got[g.name].shape == fwd[g.name].shape == ref[g.name].shape, g.name
            assert got[g.name].dtype == ex.dtype
            rtol, atol = ex.tolerances(g)
            err = float((got[g.name] - ref[g.name]).abs().max())
            assert err <= atol + rtol * float(ref[g.name].abs().max()), (case, g.name, err)


def test_layernorm_and_rmsnorm_match_torch() -> None:
    fwd = _fwd("layers/layernorm", 2)
    x = fwd["x"].detach()
    assert x.shape == (7, 20) and x.dtype == torch.float64
    ln = F.layer_norm(x, (20,), fwd["gain"].detach(), fwd["bias"].detach(), eps=1e-5)
    assert torch.allclose(fwd["out"].detach(), ln, rtol=1e-12, atol=1e-12)
    fwd = _fwd("layers/rmsnorm", 2)
    x = fwd["x"].detach()
    assert x.shape == (5, 6, 20)
    rms = F.rms_norm(x, (20,), fwd["gain"].detach(), eps=1e-5)
    assert torch.allclose(fwd["out"].detach(), rms, rtol=1e-12, atol=1e-12)


def test_batchnorm1d_is_the_lectures_bessel_variance_over_both_dims() -> None:
    fwd = _fwd("layers/batchnorm1d", 2)
    x = fwd["x"].detach()
    assert x.shape == (5, 6, 16) and fwd["bnmean"].shape == (1, 1, 16)
    xhat = (x - x.mean((0, 1), keepdim=True)) / torch.sqrt(
        x.var((0, 1), keepdim=True) + 1e-5)  # makemore part 5: var() is unbiased
    out = fwd["gamma"].detach() * xhat + fwd["beta"].detach()
    assert torch.allclose(fwd["out"].detach(), out, rtol=1e-12, atol=1e-12)


def test_embedding_and_residual_match_torch_layers() -> None:
    fwd = _fwd("layers/embedding", 3)
    emb = F.embedding(fwd["idx"], fwd["C"].detach())
    assert emb.shape == (12, 2, 3) and torch.equal(emb, fwd["emb"].detach())
    fwd = _fwd("layers/residual", 2)
    x, W, b = (fwd[k].detach() for k in ("x", "W", "b"))
    assert torch.allclose(fwd["out"].detach(), x + torch.tanh(F.linear(x, W.T, b)), atol=1e-6)


def test_dropout_is_inverted_dropout_with_the_given_mask() -> None:
    for i, p in enumerate((0.2, 0.2, 0.3, 0.1)):
        fwd = _fwd("layers/dropout", i)
        assert fwd["p"] == pytest.approx(p)
        h, mask = fwd["h"].detach(), fwd["mask"]
        assert torch.allclose(fwd["out"].detach(), torch.where(mask > 0, h / (1 - p), 0.0))


def test_normalised_rows_are_never_degenerate() -> None:
    """No row of a LayerNorm/RMSNorm input and no batchnorm channel is near-constant."""
    for seed in SEEDS:
        for i in range(4):
            ln = _fwd("layers/layernorm", i, seed)
            assert float(ln["var"].detach().min()) > 0.2
            rms = _fwd("layers/rmsnorm", i, seed)
            assert float(rms["ms"].detach().min()) > 0.2
            bn = _fwd("layers/batchnorm1d", i, seed)
            assert float(bn["bnvar"].detach().min()) > 0.2


def test_dropout_mask_always_holds_both_values() -> None:
    g = torch.Generator().manual_seed(0)
    for p in (0.0, 0.999):  # draws that would be all ones / all zeros get both values
        mask = dropout.draw_mask(g, (3, 4), p, torch.float32)
        assert set(mask.unique().tolist()) == {0.0, 1.0}
    for seed in SEEDS:
        for i in range(4):
            mask = _fwd("layers/dropout", i, seed)["mask"]
            assert set(mask.unique().tolist()) == {0.0, 1.0}
            assert 0.5 < float(mask.mean()) < 0.99


def test_embedding_indices_always_repeat() -> None:
    """Every case repeats a token at least three times, within and across sequences."""
    g = torch.Generator().manual_seed(0)
    idx = embedding.draw_indices(g, 2, 2, 1000)
    assert idx[0, 0] == idx[0, 1] == idx[1, 0]
    for seed in SEEDS:
        for i in range(4):
            fwd = _fwd("layers/embedding", i, seed)
            counts = torch.bincount(fwd["idx"].view(-1), minlength=fwd["C"].shape[0])
            assert int(counts.max()) >= 3 and int((counts >= 2).sum()) >= 2


def test_residual_branch_is_not_saturated() -> None:
    """tanh's derivative stays informative, so 1 - hpre**2 against 1 - h**2 shows."""
    for seed in SEEDS:
        for i in range(4):
            h = _fwd("layers/residual", i, seed)["h"].detach()
            assert float((h.abs() > 0.99).float().mean()) < 0.1
            assert float(h.abs().mean()) < 0.8
            assert bool((h > 0).any()) and bool((h < 0).any())


@pytest.fixture(scope="module")
def starter_results(sandbox) -> dict[str, Any]:
    """Grade every unfilled starter once through the real sandbox."""
    return {ex_id: grade(get_exercise(ex_id), get_exercise(ex_id).starter, sandbox=sandbox,
                         student="alice", secret=b"secret") for ex_id in IDS}


@pytest.mark.parametrize("ex_id", IDS)
def test_unfilled_starter_scores_zero_without_a_crash(ex_id: str, starter_results) -> None:
    result = starter_results[ex_id]
    assert result.status == "graded", result.message
    assert result.score == 0
    assert all(t.fingerprint == "not_filled" and "not filled in" in t.diagnosis
               for t in result.tensors), [t.diagnosis for t in result.tensors]
