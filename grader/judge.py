"""Compare one student gradient with autograd's: the spec §3 pass rule.

A tensor passes when ``max|d − r| ≤ atol + rtol · max|r|``. The tolerance scales with the
largest reference value, not elementwise: gradients that are truly ~0 (``logit_maxes``, ``b1``)
carry pure float noise, and an elementwise ``allclose`` would fail correct answers there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from grader.exercise import Case
from grader.result import (
    BAD_TYPE,
    CLOSE,
    EXACT,
    NOT_FINITE,
    PASSING,
    SHAPE_MISMATCH,
    WRONG,
    TensorResult,
)


@dataclass(frozen=True)
class Unusable:
    """A returned value that cannot be compared: missing, not a tensor, wrong shape, …

    The sandbox reply produces these before any tensor is allocated, so a 1 GiB or mis-shaped
    return never costs the grader memory.
    """

    status: str
    message: str
    got_shape: tuple[int, ...] | None = None


@dataclass(frozen=True)
class TensorDiff:
    """The comparison of one tensor in one case."""

    name: str
    status: str
    max_abs_diff: float | None
    rel_error: float | None
    expected_shape: tuple[int, ...]
    got_shape: tuple[int, ...] | None
    message: str = ""
    #: SHAPE_MISMATCH only: the student's tensor has the expected number of elements and its
    #: values pass after a reshape to the expected shape (the "values" shape rule).
    values_match: bool = False

    @property
    def passed(self) -> bool:
        """Return whether this case's comparison passed."""
        return self.status in PASSING

    def __repr__(self) -> str:
        return f"<TensorDiff {self.name} {self.status} maxdiff={self.max_abs_diff}>"


def compare(name: str, ref: torch.Tensor, got: torch.Tensor | Unusable, *,
            rtol: float, atol: float, misshaped: torch.Tensor | None = None) -> TensorDiff:
    """Compare ``got`` with the reference ``ref`` under the scale-aware pass rule.

    A wrong shape is ``shape_mismatch`` whatever the values; its ``values_match`` says
    whether the values pass after a reshape (:func:`compare_values`). They are judged on
    ``got`` when it is a tensor, else on ``misshaped``: the student's tensor of a wrong
    shape that ``got`` (an :class:`Unusable`) stands for, as the sandbox transferred it.

    Examples:
        >>> r = torch.tensor([[1.0, -2.0]])
        >>> compare("x", r, r.clone(), rtol=1e-4, atol=1e-6).status
        'exact'
        >>> compare("x", r, r + 1e-5, rtol=1e-4, atol=1e-6).status
        'close'
        >>> compare("x", r, -r, rtol=1e-4, atol=1e-6).message
        'dx: max abs diff 4 exceeds tolerance 0.000201'
        >>> compare("x", r, r.view(2), rtol=1e-4, atol=1e-6).message
        'dx: got shape (2,), expected (1, 2)'
        >>> compare("x", r, r.view(2), rtol=1e-4, atol=1e-6).values_match
        True
    """
    expected = tuple(ref.shape)
    if isinstance(got, Unusable):
        values = got.status == SHAPE_MISMATCH and misshaped is not None \
            and compare_values(ref, misshaped, rtol=rtol, atol=atol)
        return TensorDiff(name, got.status, None, None, expected, got.got_shape,
                          f"d{name}: {got.message}", values_match=values)
    got_shape = tuple(got.shape)
    # float64 exercises are judged in float64; everything else in float32, as before.
    work = torch.float64 if ref.dtype == torch.float64 else torch.float32
    if not isinstance(got, torch.Tensor) or not got.is_floating_point():
        return TensorDiff(name, BAD_TYPE, None, None, expected, got_shape,
                          f"d{name}: got a {type(got).__name__}, expected a "
                          f"{str(work).removeprefix('torch.')} tensor")
    if got_shape != expected:
        return TensorDiff(name, SHAPE_MISMATCH, None, None, expected, got_shape,
                          f"d{name}: got shape {_shape(got_shape)}, expected {_shape(expected)}",
                          values_match=compare_values(ref, got, rtol=rtol, atol=atol))
    ref32, got32 = ref.detach().to(work), got.detach().to(work)
    if not bool(torch.isfinite(got32).all()):
        bad = int((~torch.isfinite(got32)).sum())
        return TensorDiff(name, NOT_FINITE, None, None, expected, got_shape,
                          f"d{name}: {bad} of {got32.numel()} values are NaN or infinite")
    if torch.equal(ref32, got32):
        return TensorDiff(name, EXACT, 0.0, 0.0, expected, got_shape)
    diff = float((got32 - ref32).abs().max())
    scale = float(ref32.abs().max()) if ref32.numel() else 0.0
    rel = diff / scale if scale > 0 else math.inf
    tol = atol + rtol * scale
    if diff <= tol:
        return TensorDiff(name, CLOSE, diff, rel, expected, got_shape)
    return TensorDiff(name, WRONG, diff, rel, expected, got_shape,
                      f"d{name}: max abs diff {diff:.3g} exceeds tolerance {tol:.3g}")


def compare_values(ref: torch.Tensor, got: torch.Tensor, *, rtol: float, atol: float) -> bool:
    """Return whether ``got`` passes the pass rule once reshaped to ``ref``'s shape.

    Only a float tensor with exactly ``ref``'s number of elements can: this is what the
    "values" shape rule credits, e.g. the lecture's ``(-dbndiff).sum(0)`` of shape ``(64,)``
    for a ``(1, 64)`` tensor. A transpose of a matrix has the right count but, read in
    order, the wrong values.

    Examples:
        >>> r = torch.tensor([[1.0, -2.0, 3.0]])
        >>> compare_values(r, torch.tensor([1.0, -2.0, 3.0]), rtol=1e-4, atol=1e-6)
        True
        >>> compare_values(r, torch.tensor([[1.0], [-2.0], [3.00001]]), rtol=1e-4, atol=1e-6)
        True
        >>> compare_values(r, torch.tensor([3.0, -2.0, 1.0]), rtol=1e-4, atol=1e-6)
        False
        >>> compare_values(r, torch.tensor([1.0, -2.0]), rtol=1e-4, atol=1e-6)
        False
        >>> compare_values(r, torch.tensor([1, -2, 3]), rtol=1e-4, atol=1e-6)
        False
    """
    if not isinstance(got, torch.Tensor) or not got.is_floating_point() \
            or got.numel() != ref.numel():
        return False
    return compare("", ref, got.reshape(ref.shape), rtol=rtol, atol=atol).passed


def combine(diffs: Sequence[tuple[Case, TensorDiff]], max_points: float) -> TensorResult:
    """Fold one tensor's per-case diffs into its result: it must pass in every case.

    ``diffs`` pairs each case with its diff, public case first. The first failing case
    decides status and message (so a student sees the public case's failure when there is
    one); when all pass, the worst diff is reported. A tensor that failed only for its
    shape (every failing case a ``shape_mismatch`` whose values pass after a reshape) keeps
    status and zero points, and gets ``values_match`` and a sentence saying so.
    """
    name = diffs[0][1].name
    failing = [(case, d) for case, d in diffs if not d.passed]
    if failing:
        case, d = failing[0]
        where = f" (in the {case.describe()})" if case.hidden else ""
        values = all(f.status == SHAPE_MISMATCH and f.values_match for _, f in failing)
        note = (f"; its values are right after a reshape to {_shape(d.expected_shape)} (they "
                'count where the assignment\'s shape rule is "values")') if values else ""
        return TensorResult(
            name=name, status=d.status, points=0.0, max_points=max_points,
            max_abs_diff=d.max_abs_diff, rel_error=d.rel_error,
            expected_shape=list(d.expected_shape),
            got_shape=list(d.got_shape) if d.got_shape is not None else None,
            failed_case=case.name, message=d.message + where + note, values_match=values)
    worst = max((d for _, d in diffs), key=lambda d: d.max_abs_diff or 0.0)
    public = diffs[0][1]  # shapes as the student sees them in the public case
    status = EXACT if all(d.status == EXACT for _, d in diffs) else CLOSE
    return TensorResult(
        name=name, status=status, points=max_points, max_points=max_points,
        max_abs_diff=worst.max_abs_diff, rel_error=worst.rel_error,
        expected_shape=list(public.expected_shape),
        got_shape=list(public.got_shape) if public.got_shape is not None else None)


def _shape(shape: tuple[int, ...]) -> str:
    return str(tuple(shape))

