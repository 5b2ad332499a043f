"""Shared pieces of the attention pack: sizes, tolerances and seeded draws.

Both exercises run in float64 (see the descriptions): the softmax gradient is a small
difference of larger terms, taken again through the scores' batched matmul and three
projections, and float64 lets the judge use a tolerance ~100× tighter than float32's without
ever failing a correct formulation written another way.
"""

from __future__ import annotations

import torch

from grader.kit import CaseSpec

DTYPE = torch.float64
#: float64 tolerances: correct formulations (stepwise, fused, einsum) agree with autograd to
#: ~1e-15 relative; the nearest real mistake is off by whole percent.
RTOL = 1e-6
ATOL = 1e-9


def head_specs() -> tuple[CaseSpec, ...]:
    """Public case, then hidden cases: another seed, then each size changed on its own
    pattern of cases, so a hard-coded size fails and the diagnosis can tell which:
    B in hidden 2 and 4, T in 2 and 3, head size in 3, C in 4. No two sizes are equal in
    the public case (T != hs shows a missing transpose as a shape error at once)."""
    return (
        CaseSpec(n=3, params={"T": 8, "C": 16, "hs": 4}),
        CaseSpec(n=3, params={"T": 8, "C": 16, "hs": 4}),
        CaseSpec(n=4, params={"T": 6, "C": 16, "hs": 4}),
        CaseSpec(n=3, params={"T": 7, "C": 16, "hs": 6}),
        CaseSpec(n=2, params={"T": 8, "C": 12, "hs": 4}),
    )


def multihead_specs() -> tuple[CaseSpec, ...]:
    """Public case, then hidden cases changing each size on its own pattern: B in hidden 2
    and 4, T in 2 and 3, C in 4 and 5, n_head in 3 and 5, the head size (C // n_head, listed
    for the diagnosis) in 3 and 4."""
    return (
        CaseSpec(n=3, params={"T": 8, "C": 16, "n_head": 4, "hs": 4}),
        CaseSpec(n=3, params={"T": 8, "C": 16, "n_head": 4, "hs": 4}),
        CaseSpec(n=4, params={"T": 6, "C": 16, "n_head": 4, "hs": 4}),
        CaseSpec(n=3, params={"T": 7, "C": 16, "n_head": 2, "hs": 8}),
        CaseSpec(n=2, params={"T": 8, "C": 12, "n_head": 4, "hs": 3}),
        CaseSpec(n=3, params={"T": 8, "C": 12, "n_head": 3, "hs": 4}),
    )


def randn(g: torch.Generator, *shape: int, scale: float = 1.0) -> torch.Tensor:
    """Return a float64 standard-normal draw from ``g`` times ``scale``."""
    return torch.randn(shape, generator=g, dtype=DTYPE) * scale


def causal_mask(T: int) -> torch.Tensor:
    """Return the lower-triangular ``(T, T)`` matrix of ones (nanoGPT's ``tril`` buffer)."""
    return torch.tril(torch.ones(T, T, dtype=DTYPE))
