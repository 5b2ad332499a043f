"""Small helpers shared by the ``layers`` exercises: seeded draws of batches and parameters.

Every draw takes the case's generator (``kit.generator(case.seed)``), so a case is the same
each time it is built, and the global RNG is never touched. Kept deliberately small and
stable: several exercise modules import it.
"""

from __future__ import annotations

import torch


def leaf(value: torch.Tensor) -> torch.Tensor:
    """Return ``value`` as a fresh leaf that requires grad (a graded input or parameter)."""
    return value.detach().clone().requires_grad_(True)


def batch(g: torch.Generator, n: int, d: int, *, scale: float = 1.0,
          dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Return an ``(n, d)`` input batch ~ N(0, scale²) as a leaf that requires grad."""
    return leaf(torch.randn((n, d), generator=g, dtype=dtype) * scale)


def linear_params(g: torch.Generator, d_in: int, d_out: int, *, gain: float = 1.0,
                  bias_scale: float = 0.5, dtype: torch.dtype = torch.float32) \
        -> tuple[torch.Tensor, torch.Tensor]:
    """Return leaves ``W (d_in, d_out)`` and ``b (d_out,)`` for ``x @ W + b``.

    ``W`` is scaled by ``gain / sqrt(d_in)`` so pre-activations have spread ``~gain`` whatever
    the width; the bias is clearly non-zero (``bias_scale``) so a dropped ``db`` or a bias
    summed over the wrong dimension cannot hide behind values near 0.
    """
    W = torch.randn((d_in, d_out), generator=g, dtype=dtype) * (gain / d_in**0.5)
    b = torch.randn(d_out, generator=g, dtype=dtype) * bias_scale
    return leaf(W), leaf(b)

