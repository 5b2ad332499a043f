"""The authoring kit: the one surface an exercise pack imports from the grader.

A pack (ours in ``exercises/``, or a course's own pip package) writes its exercises against
these names only — ``from grader import kit`` — so the grader's insides (sandbox, diagnosis,
storage) can change without breaking a pack, and an import contract checks that no pack
reaches past this module (``pyproject.toml``, ``[tool.importlinter]``). ``docs/authoring.md``
walks through writing an exercise with it.

What is here:

* the exercise API: :class:`Exercise`, :class:`Case`, :class:`CaseSpec`, :class:`Graded`,
  :class:`Limits`, :class:`CheckResult` and the default tolerances;
* forward-pass helpers: :func:`generator`, :func:`keep`, :func:`upstream_loss`,
  :func:`upstream`, :func:`graded`;
* for extra checks that drive ``backward`` themselves (a training run): what one reply holds
  for a name, :func:`returned_value` (a tensor, or an :class:`Unusable` that says why not),
  and the comparison helpers :func:`compare`, :func:`compare_values`, :func:`allclose`;
* pack files: :func:`pack_text` (starters and descriptions shipped beside the modules) and
  :func:`register_modules` (a pack's ``register`` over its ``MODULES``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from importlib.resources import files
from typing import Any

import torch

from grader.exercise import DEFAULT_ATOL, DEFAULT_RTOL, Case, CaseSpec, Exercise, Graded, Limits
from grader.grade import returned_value
from grader.judge import TensorDiff, Unusable, compare, compare_values
from grader.result import CheckResult

__all__ = [
    "DEFAULT_ATOL", "DEFAULT_RTOL", "Case", "CaseSpec", "CheckResult", "Exercise", "Graded",
    "Limits", "TensorDiff", "Unusable", "allclose", "compare", "compare_values", "generator",
    "graded", "keep", "pack_text", "returned_value", "upstream", "upstream_loss",
]


def generator(seed: int) -> torch.Generator:
    """Return a private CPU generator for one case's seed (global RNG state is untouched).

    Seeds are 63-bit (see :meth:`Exercise.cases`); every random tensor of a case should be
    drawn from this generator, so the case is the same every time it is built.
    """
    return torch.Generator().manual_seed(seed & 0x7FFF_FFFF_FFFF_FFFF)


def graded(*names: str, points: float = 1.0) -> tuple[Graded, ...]:
    """Return :class:`Graded` entries for ``names``, each worth ``points``."""
    return tuple(Graded(n, points) for n in names)


def keep(scope: Mapping[str, Any], names: Iterable[str], *, track: bool = True) \
        -> dict[str, Any]:
    """Pick ``names`` out of a forward pass's ``locals()``, retaining their gradients.

    A graded tensor that is an intermediate (not a leaf) has no ``.grad`` unless told to
    retain it; diagnosis and some extra checks read those. Leaves and non-tensors are copied
    as they are.
    """
    out: dict[str, Any] = {}
    for name in names:
        value = scope[name]
        if track and isinstance(value, torch.Tensor) and value.requires_grad \
                and value.grad_fn is not None:
            value.retain_grad()
        out[name] = value
    return out


def upstream_loss(out: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(loss, dout)``: a scalar loss whose gradient with respect to ``out`` is a
    random ``dout`` drawn from ``g``.

    A layer exercise has no loss of its own; ``loss = (out * dout).sum()`` makes every
    gradient below ``out`` a real vector-Jacobian product (no gradient is all ones or all
    equal, which would hide transposes and sums over the wrong dimension). Hand ``dout`` to
    the student as an input.
    """
    dout = torch.randn(out.shape, generator=g, dtype=out.dtype)
    return (out * dout).sum(), dout


def upstream(fwd: Mapping[str, Any], name: str) -> torch.Tensor:
    """Return autograd's gradient of ``fwd['loss']`` with respect to ``fwd[name]``.

    For exercises that hand the student a true upstream gradient (``t.dhpreact``) and grade
    only the step below it.
    """
    (grad,) = torch.autograd.grad(fwd["loss"], [fwd[name]], retain_graph=True)
    return grad.detach()


def allclose(ref: torch.Tensor, got: torch.Tensor, *, rtol: float = DEFAULT_RTOL,
             atol: float = DEFAULT_ATOL) -> bool:
    """Return whether ``got`` passes the judge's scale-aware rule against ``ref``
    (``max|got − ref| ≤ atol + rtol · max|ref|``, same shape): for extra checks."""
    return compare("", ref, got, rtol=rtol, atol=atol).passed


def pack_text(package: str, *parts: str) -> str:
    """Return the text of a file shipped in a pack (``pack_text(__package__, "starters",
    "linear.py")``), read as package data so it works from a wheel too."""
    path = files(package)
    for part in parts:
        path = path.joinpath(part)
    return path.read_text(encoding="utf-8")


def register_modules(package: str, modules: Iterable[str],
                     add: Callable[[type[Exercise]], object]) -> None:
    """Import each of a pack's exercise modules and ``add`` its ``EXERCISE``.

    A pack's whole ``register`` (``register_modules(__name__, MODULES, add)``): the modules
    load only when the grader asks for the pack, and ``backprop new-exercise`` extends the
    ``MODULES`` tuple a pack lists them in.
    """
    for name in modules:
        add(importlib.import_module(f"{package}.{name}").EXERCISE)
