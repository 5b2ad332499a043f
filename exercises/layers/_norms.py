"""Shared draws of the ``layers`` pack's second half (normalisations, dropout, embedding,
residual): inputs that keep every true gradient well away from zero and from degenerate
values, so a planted mistake cannot hide in float noise.
"""

from __future__ import annotations

import torch

#: Tolerances of the float64 exercises (layernorm, rmsnorm, batchnorm1d). Correct
#: formulations written differently (stepwise, fused, einsum) agree with autograd to ~1e-15
#: relative in float64 (float32: ~4e-7, measured over the corpus); the nearest real mistake,
#: ``eps`` forgotten in the derivative (~1e-5 relative), is then 1000x above rtol.
RTOL64 = 1e-8
ATOL64 = 1e-12

#: The epsilon of every normalisation here, as ``nn.LayerNorm``/``nn.BatchNorm1d`` default.
EPS = 1e-5


def features(g: torch.Generator, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """Return activations of ``shape`` whose rows (last dim) have different means and scales.

    A normalisation over the last dimension must never see a near-constant row (its variance
    would be ~eps and every gradient below it float noise): each row of standard normal draws
    is standardised, then given its own scale in [0.5, 2] and shift in [-1, 1], so a row's
    (biased) variance is exactly its scale squared, never below 0.25 — with 5 features a raw
    draw's variance falls below 0.01 in ~0.5 % of rows. Different scales and shifts make a
    gradient that forgets the row's own statistics visibly wrong.
    """
    lead = shape[:-1]
    scale = 0.5 + 1.5 * torch.rand((*lead, 1), generator=g, dtype=dtype)
    shift = 2.0 * torch.rand((*lead, 1), generator=g, dtype=dtype) - 1.0
    z = torch.randn(shape, generator=g, dtype=dtype)
    z = (z - z.mean(-1, keepdim=True)) / z.std(-1, correction=0, keepdim=True)
    return z * scale + shift


def gain_bias(g: torch.Generator, width: int, dtype: torch.dtype) \
        -> tuple[torch.Tensor, torch.Tensor]:
    """Return an affine ``(gain, bias)`` of shape ``(width,)``, as ``nn.LayerNorm`` holds it.

    Not the ones/zeros a fresh layer starts with: a gain of exactly 1 would let a gradient
    that forgets to multiply by it pass.
    """
    gain = 1.0 + 0.3 * torch.randn(width, generator=g, dtype=dtype)
    bias = 0.3 * torch.randn(width, generator=g, dtype=dtype)
    return gain, bias


def linear(g: torch.Generator, fan_in: int, fan_out: int, dtype: torch.dtype = torch.float32) \
        -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(W, b)`` of shapes ``(fan_in, fan_out)`` and ``(fan_out,)`` (Kaiming-like
    scale, a non-zero bias so its gradient's sum dimension matters)."""
    W = torch.randn((fan_in, fan_out), generator=g, dtype=dtype) / fan_in**0.5
    b = 0.1 * torch.randn(fan_out, generator=g, dtype=dtype)
    return W, b
