"""The pass rule of spec §3, one behaviour per test."""

from __future__ import annotations

import torch

from grader.exercise import Case
from grader.judge import Unusable, combine, compare

RTOL, ATOL = 1e-4, 1e-6


def test_exact_needs_bitwise_equality() -> None:
    r = torch.randn(4, 5)
    assert compare("x", r, r.clone(), rtol=RTOL, atol=ATOL).status == "exact"
    d = compare("x", r, r + 1e-7, rtol=RTOL, atol=ATOL)
    assert d.status == "close" and 0 < d.max_abs_diff < 1e-6


def test_tolerance_scales_with_the_largest_reference_value() -> None:
    # Elementwise allclose would fail the near-zero entry; the scale-aware rule does not.
    r = torch.tensor([100.0, 1e-9])
    got = torch.tensor([100.0, 5e-3])
    assert compare("x", r, got, rtol=RTOL, atol=ATOL).status == "close"
    assert compare("x", r, torch.tensor([100.0, 2e-2]), rtol=RTOL, atol=ATOL).status == "wrong"


def test_noise_gradient_passes_within_atol() -> None:
    r = torch.full((32, 1), 1e-10)
    assert compare("logit_maxes", r, torch.full((32, 1), -3e-9), rtol=RTOL,
                   atol=ATOL).status == "close"


def test_shape_is_strict_no_broadcasting() -> None:
    r = torch.randn(1, 64)
    d = compare("bngain", r, r.view(64), rtol=RTOL, atol=ATOL)
    assert d.status == "shape_mismatch"
    assert d.message == "dbngain: got shape (64,), expected (1, 64)"


def test_non_finite_values() -> None:
    r = torch.randn(3)
    got = r.clone()
    got[1] = float("nan")
    d = compare("x", r, got, rtol=RTOL, atol=ATOL)
    assert d.status == "not_finite" and "1 of 3" in d.message


def test_unusable_keeps_its_status_and_message() -> None:
    d = compare("W1", torch.zeros(2), Unusable("missing", "is None"), rtol=RTOL, atol=ATOL)
    assert (d.status, d.message) == ("missing", "dW1: is None")


def test_combine_needs_every_case_and_names_the_failing_one() -> None:
    r = torch.ones(2)
    public, hidden = Case("public", 1), Case("hidden-2", 2, n=7, hidden=True)
    ok = compare("x", r, r.clone(), rtol=RTOL, atol=ATOL)
    bad = compare("x", r, 2 * r, rtol=RTOL, atol=ATOL)
    res = combine([(public, ok), (hidden, bad)], 1.0)
    assert (res.status, res.points, res.failed_case) == ("wrong", 0.0, "hidden-2")
    assert "hidden case 2 (n=7)" in res.message
    res = combine([(public, ok), (hidden, ok)], 2.0)
    assert (res.status, res.points, res.failed_case) == ("exact", 2.0, None)
