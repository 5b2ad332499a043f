"""Local derivatives and their classic wrong twins, per autograd node: op rules, no exercise.

A backward line computes one node's local derivative: tanh's ``1 − y²``, the power rule, a
matmul's ``A.T @ g``, softmax's ``y·(g − Σ y·g)``. The classic mistakes replace one piece of
it — the wrong tensor (``1 − x²``, the product's output for the other factor), a transpose
too few, a sum over the wrong dimension. A :class:`Swap` is one such twin: given the gradient
``g`` that entered the node, :attr:`Swap.change` returns (wrong − right) at one input of the
node; :mod:`grader.diagnosis.upstream` pushes that change down to the graded tensor and
checks whether it explains the student's value. Everything is read off the node's saved
tensors; a node this module does not know has no twins (silence, not a guess).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

Node = Any


@dataclass(frozen=True)
class Swap:
    """One wrong twin of a node's local derivative at one of its inputs."""

    code: str
    #: (wrong − right) at the node's input, given the gradient that entered the node.
    change: Callable[[torch.Tensor], torch.Tensor]
    wrong: str
    right: str


def _saved(node: Node, attr: str) -> Any:
    try:
        return getattr(node, attr)
    except (AttributeError, RuntimeError):
        return None


def node_swaps(node: Node, edge: int, value: torch.Tensor | None = None,
               name: str = "x") -> list[Swap]:
    """Return the wrong twins of ``node``'s local derivative at input ``edge``.

    ``value`` is the graded tensor's own forward value and ``name`` its name: a derivative
    evaluated at it where the node's real input differs (``var`` for ``var + eps``) is one
    twin of the power rule.
    """
    kind = type(node).__name__
    rule = _RULES.get(kind)
    if rule is None:
        return []
    try:
        return rule(node, edge, value, name)
    except (RuntimeError, TypeError, ValueError):
        return []  # a saved tensor was freed or of an unexpected form: no twin


def _pow(node: Node, edge: int, value: torch.Tensor | None, name: str) -> list[Swap]:
    p = _saved(node, "_saved_exponent")
    x = _saved(node, "_saved_self")
    if edge != 0 or not isinstance(p, (int, float)) or p in (0, 1) or x is None:
        return []
    x = x.detach()
    right = p * x ** (p - 1)
    out = [Swap("derivative_wrong_tensor", lambda g: (p * x**p - right) * g,
                f"{p:g}*(its output) — the power rule with the exponent not lowered",
                f"{p:g}*base**{p - 1:g}")]
    if value is not None and value.shape == x.shape and not torch.equal(value, x):
        v = value.detach()
        out.append(Swap("derivative_wrong_tensor", lambda g: (p * v ** (p - 1) - right) * g,
                        f"the power rule on {name} itself",
                        f"the power's base ({name} plus what is added to it, e.g. eps): "
                        f"{p:g}*base**{p - 1:g}"))
    return out


def _relu(node: Node, edge: int, value: torch.Tensor | None, name: str) -> list[Swap]:
    y = _saved(node, "_saved_result")
    if edge != 0 or y is None:
        return []
    y = y.detach()
    mask = (y > 0).to(y.dtype)
    return [Swap("derivative_wrong_tensor", lambda g: (y - mask) * g,
                 "ReLU's output as its derivative", "the mask (output > 0)")]


def _gelu(node: Node, edge: int, value: torch.Tensor | None, name: str) -> list[Swap]:
    x = _saved(node, "_saved_self")
    approximate = _saved(node, "_saved_approximate") or "none"
    if edge != 0 or x is None:
        return []
    x = x.detach()

    def slope(at: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            z = at.clone().requires_grad_()
            (d,) = torch.autograd.grad(torch.nn.functional.gelu(z, approximate=approximate)
                                       .sum(), [z])
        return d

    with torch.no_grad():
        y = torch.nn.functional.gelu(x, approximate=approximate)
    delta = slope(y) - slope(x)
    return [Swap("derivative_wrong_tensor", lambda g: delta * g,
                 "GELU's derivative evaluated at its output", "the derivative at its input")]


def _mul(node: Node, edge: int, value: torch.Tensor | None, name: str) -> list[Swap]:
    a, b = _saved(node, "_saved_self"), _saved(node, "_saved_other")
    if edge not in (0, 1) or not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
        return []
    a, b = a.detach(), b.detach()
    own, other = (a, b) if edge == 0 else (b, a)
    out = own * other
    return [Swap("derivative_wrong_tensor", lambda g: (out - other) * g,
                 "the product's result as the other factor",
                 "the other factor of the product (before it was multiplied)"),
            Swap("derivative_wrong_tensor", lambda g: (own - other) * g,
                 "the factor itself", "the other factor of the product")]


def _matmul(node: Node, edge: int, value: torch.Tensor | None, name: str) -> list[Swap]:
    s, m = _saved(node, "_saved_self"), _saved(node, "_saved_mat2")
    if edge not in (0, 1) or s is None or m is None:
        return []
    s, m = s.detach(), m.detach()

    def square(t: torch.Tensor) -> bool:
        return t.shape[-1] == t.shape[-2]

    if edge == 0:  # d(self) = g @ mat2ᵀ
        cases = [(square(m), lambda g: g @ m - g @ m.mT, "the other operand not transposed"),
                 (True, lambda g: _same(g.mT @ m.mT, g @ m.mT) - g @ m.mT,
                  "the upstream gradient transposed")]
    else:  # d(mat2) = selfᵀ @ g
        cases = [(square(s), lambda g: s @ g - s.mT @ g, "the other operand not transposed"),
                 (True, lambda g: _same(s.mT @ g.mT, s.mT @ g) - s.mT @ g,
                  "the upstream gradient transposed")]
    return [Swap("transpose", _guarded(change), wrong, "the matmul's rule: gradient @ otherᵀ "
                 "for the left operand, otherᵀ @ gradient for the right")
            for ok, change, wrong in cases if ok]


def _same(wrong: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """Refuse a twin of another shape than the rule's result (it would be a broadcast)."""
    if wrong.shape != right.shape:
        raise RuntimeError("another shape")
    return wrong


def _guarded(change: Callable[[torch.Tensor], torch.Tensor]) \
        -> Callable[[torch.Tensor], torch.Tensor]:
    """Shapes that do not fit (a non-square gradient transposed) make no twin: a NaN change
    matches nothing."""
    def run(g: torch.Tensor) -> torch.Tensor:
        try:
            return change(g)
        except RuntimeError:
            return torch.full((), math.nan, dtype=g.dtype)
    return run


def _softmax(node: Node, edge: int, value: torch.Tensor | None, name: str) -> list[Swap]:
    y, dim = _saved(node, "_saved_result"), _saved(node, "_saved_dim")
    if edge != 0 or y is None or not isinstance(dim, int):
        return []
    y = y.detach()
    dim %= y.dim()
    log = type(node).__name__ == "LogSoftmaxBackward0"
    p = y.exp() if log else y

    def change(other: int) -> Callable[[torch.Tensor], torch.Tensor]:
        if log:  # d(log_softmax) = g − softmax · Σ g
            return lambda g: p * (g.sum(dim, keepdim=True) - g.sum(other, keepdim=True))
        return lambda g: y * ((y * g).sum(dim, keepdim=True) - (y * g).sum(other, keepdim=True))

    return [Swap("wrong_sum_dim", change(other), f"the softmax's sum over dimension {other}",
                 f"the sum over dimension {dim} (the one the softmax normalises)")
            for other in range(y.dim()) if other != dim and y.shape[other] != 1]


def _conv(node: Node, edge: int, value: torch.Tensor | None, name: str) -> list[Swap]:
    """A 1-D convolution's input gradient written window by window with ``=`` for ``+=``:
    where windows overlap (kernel > stride) the last window's part overwrites the others."""
    x, w = _saved(node, "_saved_input"), _saved(node, "_saved_weight")
    if edge != 0 or x is None or w is None or x.dim() != 3 or _saved(node, "_saved_transposed") \
            or tuple(_saved(node, "_saved_dilation") or (1,)) != (1,) \
            or _saved(node, "_saved_groups") != 1:
        return []
    (stride,), (padding,) = _saved(node, "_saved_stride"), _saved(node, "_saved_padding")
    kernel, length = w.shape[-1], x.shape[-1]
    if kernel <= stride:
        return []  # windows do not overlap: = and += agree
    w = w.detach()

    def change(g: torch.Tensor) -> torch.Tensor:
        summed = g.new_zeros(x.shape[0], x.shape[1], length + 2 * padding)
        last = summed.clone()
        for pos in range(g.shape[-1]):
            part = torch.einsum("no,ock->nck", g[:, :, pos], w)
            summed[:, :, pos * stride:pos * stride + kernel] += part
            last[:, :, pos * stride:pos * stride + kernel] = part
        crop = slice(padding, padding + length)
        return last[:, :, crop] - summed[:, :, crop]

    return [Swap("overwrite_branch", change, "each window's part written with = (the last "
                 "overlapping window overwrites the others)", "every window's part added (+=) "
                 "where windows overlap")]


_RULES: dict[str, Callable[[Node, int, torch.Tensor | None, str], list[Swap]]] = {
    "PowBackward0": _pow, "ReluBackward0": _relu, "GeluBackward0": _gelu,
    "MulBackward0": _mul, "BmmBackward0": _matmul, "MmBackward0": _matmul,
    "SoftmaxBackward0": _softmax, "LogSoftmaxBackward0": _softmax,
    "ConvolutionBackward0": _conv,
}
