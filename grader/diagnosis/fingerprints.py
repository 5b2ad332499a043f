"""Bug fingerprints: small tests of one hypothesis each on (student, expected-local).

Every fingerprint takes the :class:`Evidence` of one root-cause tensor in one case and returns
a :class:`~grader.diagnosis.findings.Finding` when its hypothesis explains the student's value,
else None. ``expected`` is the *local* expectation — what the tensor's gradient should be given
the student's own upstream gradients — so an inherited error never masks or fakes a pattern.
:data:`SHAPE` runs when the shape is wrong, :data:`VALUE` when it is right; the first match
wins, so the more specific hypotheses come first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from grader.diagnosis.findings import Finding, times
from grader.diagnosis.graph import Arrival

#: Hypotheses are judged looser than grading (a formula written another way differs by float
#: noise; a real alternative differs by ≥ 3%: Bessel at n = 32).
FIT_RTOL = 2e-3
FIT_ATOL = 1e-6


def close(a: torch.Tensor, b: torch.Tensor, rtol: float = FIT_RTOL,
          atol: float = FIT_ATOL) -> bool:
    """Return whether ``a`` matches ``b`` scale-aware (as the judge does, but looser)."""
    if a.shape != b.shape:
        return False
    if not bool(torch.isfinite(a).all()) or not bool(torch.isfinite(b).all()):
        return False
    scale = float(b.abs().max()) if b.numel() else 0.0
    return float((a - b).abs().max()) <= atol + rtol * scale if a.numel() else True


def fit_factor(diff: torch.Tensor, direction: torch.Tensor) -> float | None:
    """Return ``k`` minimising ``|diff − k·direction|`` (None when direction is ~0)."""
    d = direction.double().reshape(-1)
    norm = float(d @ d)
    if norm <= 1e-30:
        return None
    return float(diff.double().reshape(-1) @ d) / norm


@dataclass
class Evidence:
    """Everything a fingerprint may look at for one tensor in one case."""

    name: str
    #: The student's gradient (any shape: mis-shaped values are kept for diagnosis).
    student: torch.Tensor
    #: The gradient it should be given the student's own upstream gradients.
    expected: torch.Tensor
    #: The tensor's forward value.
    value: torch.Tensor
    n: int
    #: Per consumer: the contribution it sends (``grad``, ``broadcast`` shape, ``via`` node).
    branches: dict[str, Arrival] = field(default_factory=dict)
    #: The gradient that entered a graph node while the consumers' flows were replayed.
    entered: Callable[[Any], torch.Tensor | None] = lambda node: None


# -- wrong shape ----------------------------------------------------------------------------

def transposed(ev: Evidence) -> Finding | None:
    """The transpose: shapes swapped and values equal transposed (``h.T @ d`` order mix-up)."""
    s, e = ev.student, ev.expected
    if s.dim() == 2 and e.dim() == 2 and tuple(s.shape) == tuple(e.shape)[::-1] \
            and close(s.T, e):
        return Finding("transpose", f"d{ev.name} is the transpose of the right gradient: shape "
                       f"{_shape(s)} instead of {_shape(e)} — swap the operands of the "
                       "matmul (or their .T)")
    return None


def sum_shape(ev: Evidence) -> Finding | None:
    """A broadcast gradient summed without keepdim, over the wrong dim, or not summed at all."""
    s, e = ev.student, ev.expected
    if close(s.reshape(e.shape), e) if s.numel() == e.numel() else False:
        return Finding("missing_keepdim", f"right values, wrong shape: {_shape(s)} instead of "
                       f"{_shape(e)} — sum with keepdim=True (or reshape) so the gradient has "
                       "the tensor's own shape")
    for arrival in ev.branches.values():
        wide = arrival.broadcast
        if wide.shape == e.shape:
            continue
        if tuple(s.shape) == tuple(wide.shape) and close(s, wide):
            return Finding("not_summed", f"d{ev.name} has the broadcast shape {_shape(s)}: "
                           f"sum it over the broadcast dimension(s) to get {_shape(e)}")
        for dim in range(wide.dim()):
            for keep in (True, False):
                other = wide.sum(dim, keepdim=keep)
                if tuple(other.shape) == tuple(s.shape) and close(s, other):
                    return Finding("wrong_sum_dim", f"d{ev.name} is summed over dimension "
                                   f"{dim} (shape {_shape(s)}); it must be summed so that "
                                   f"its shape is {_shape(e)} — over the batch dimension")
    return None


def not_broadcast(ev: Evidence) -> Finding | None:
    """A gradient left at a smaller shape that broadcasts to the tensor's: ``(1, 64)`` for
    ``(32, 64)``, right in every row once expanded (``1/(n-1) * dbnvar`` without
    ``torch.ones_like(bndiff2)``)."""
    s, e = ev.student, ev.expected
    if s.numel() >= e.numel():
        return None
    try:
        wide = s.expand(e.shape)
    except RuntimeError:
        return None
    if not close(wide, e):
        return None
    return Finding("not_broadcast", f"d{ev.name} has shape {_shape(s)} but {ev.name} is "
                   f"{_shape(e)}: its values are right for every row, but a gradient has its "
                   f"tensor's full shape — broadcast it back (multiply by "
                   f"torch.ones_like(t.{ev.name}))")


def other_shape(ev: Evidence) -> Finding | None:
    """Any other shape mistake (always matches: the last shape fingerprint)."""
    return Finding("shape", f"shape {_shape(ev.student)} instead of {_shape(ev.expected)}: a "
                   "gradient always has exactly its tensor's shape")


# -- right shape, wrong values ------------------------------------------------------------

def constant_factor(ev: Evidence) -> Finding | None:
    """A constant factor: ×n, ÷n, Bessel's (n−1)/n, ×−1, ×2, ×0.5 (or another constant)."""
    c = fit_factor(ev.student, ev.expected)
    if c is None or abs(c - 1) < 1e-3 or not close(ev.student, c * ev.expected):
        return None
    if abs(c) < 1e-3:
        # Not a scaling: the gradient is (about) zero where the right one is not.
        return Finding("constant_factor", f"d{ev.name} is (about) zero where the right "
                       "gradient is not: a factor that is 0 (integer division such as "
                       "1 // (n - 1)), or read from a tensor that an in-place op zeroed?")
    named = times(c, ev.n)
    if named:
        code, phrase = named
        return Finding(code, f"d{ev.name} is {phrase}")
    return Finding("constant_factor", f"d{ev.name} is the right gradient times {c:.4g}")


def constant_offset(ev: Evidence) -> Finding | None:
    """The right gradient plus one constant everywhere: an accumulator not started at zero
    (``dC = torch.ones_like(t.C)`` before ``dC[ix] += …``)."""
    diff = (ev.student - ev.expected).double()
    c = float(diff.mean())
    scale = float(ev.expected.abs().max()) if ev.expected.numel() else 0.0
    if abs(c) <= FIT_ATOL + FIT_RTOL * scale or not close(ev.student, ev.expected + c):
        return None
    start = " (an accumulator started from torch.ones_like instead of torch.zeros_like?)" \
        if abs(c - 1) < 1e-3 else " (an accumulator that did not start at zero?)"
    return Finding("constant_offset", f"d{ev.name} is the right gradient plus {c:.4g} in "
                   f"every element{start}",
                   pattern=rf"^\s*d{re.escape(ev.name)}\s*=(?!=)")  # where it starts


def missing_branch(ev: Evidence) -> Finding | None:
    """One branch of a two-branch node missing: only one consumer's contribution is there."""
    if len(ev.branches) < 2:
        return None
    for kept, arrival in ev.branches.items():
        if close(ev.student, arrival.grad):
            lost = ", ".join(f"d{u}" for u in ev.branches if u != kept)
            return Finding("overwrite_branch", f"d{ev.name} holds only the contribution "
                           f"through d{kept}; the one through {lost} is missing — "
                           f"{ev.name} feeds {len(ev.branches)} tensors, so add every "
                           "contribution (+=, not =)")
    for lost, arrival in ev.branches.items():
        if close(ev.student, ev.expected - arrival.grad):
            return Finding("overwrite_branch", f"d{ev.name} is missing the contribution "
                           f"through d{lost}: add every consumer's part (+=, not =)")
    return None


def embedding_duplicates(ev: Evidence) -> Finding | None:
    """An embedding gradient that kept one write per row: ``dC[idx] = demb`` (or ``+=``).

    The whole hypothesis is tested, not its symptom: every row the batch uses must hold
    exactly one of its own contributions (the value that reached that position of
    ``C[Xb]``), every other row must be right, and some repeated row must be wrong. "Only
    repeated rows are wrong" is not enough: an error upstream adds up over a repeated
    token's contributions and crosses the tolerance there first, while the rows of tokens
    seen once stay just under it.
    """
    for arrival in ev.branches.values():
        if type(arrival.via).__name__ != "IndexBackward0":
            continue
        index = next((i for i in arrival.via._saved_indices if i is not None), None)
        per_position = ev.entered(arrival.via)
        if index is None or per_position is None or ev.student.dim() != 2:
            continue
        rows, width = ev.student.shape
        idx = index.reshape(-1)
        if per_position.numel() != idx.numel() * width:
            continue
        contributions = per_position.reshape(-1, width)
        scale = float(ev.expected.abs().max()) if ev.expected.numel() else 0.0
        tol = FIT_ATOL + FIT_RTOL * scale
        # Position k's contribution is what its row holds: one write per row kept.
        kept = (ev.student[idx] - contributions).abs().amax(1) <= tol
        holds_one = torch.zeros(rows).index_add_(0, idx, kept.float()) > 0
        used = torch.bincount(idx, minlength=rows) > 0
        unused_right = (ev.student[~used] - ev.expected[~used]).abs().max() <= tol \
            if bool((~used).any()) else True
        if not bool(holds_one[used].all()) or not unused_right:
            continue
        wrong = _wrong_rows(ev.student, ev.expected)
        if not wrong:
            continue
        return Finding("embedding_duplicates", f"d{ev.name} keeps one contribution per row: "
                       f"right for tokens that appear once in the batch, wrong for {len(wrong)} "
                       f"that appear more than once (rows {_rows(wrong)}) — d{ev.name}[idx] = "
                       "… (or +=) with repeated indices keeps one write per row; accumulate "
                       "with index_add_ or a loop")
    return None


def derivative_on_wrong_tensor(ev: Evidence) -> Finding | None:
    """A local derivative written with the wrong tensor: ``1 − hpreact²`` for tanh's.

    For ``y = f(x)`` the student used the formula of ``f′`` on ``x`` where it needs ``y``
    (tanh, exp) or on ``y`` where it needs ``x`` (log, powers).
    """
    for consumer, arrival in ev.branches.items():
        upstream = ev.entered(arrival.via)
        if upstream is None:
            continue
        swap = wrong_derivative(arrival.via, ev.value, ev.name, consumer)
        if swap is not None and close(ev.student, ev.expected + swap.delta * upstream):
            return Finding(swap.code, f"d{ev.name} uses {swap.wrong}; {swap.what} is "
                           f"{swap.right}")
    return None


@dataclass(frozen=True)
class Swap:
    """A local derivative and its wrong-tensor twin: ``delta`` is (wrong − right)."""

    code: str
    delta: torch.Tensor
    wrong: str
    right: str
    what: str


def wrong_derivative(node: Any, x: torch.Tensor, x_name: str, y_name: str) -> Swap | None:
    """Return the wrong-tensor twin of an elementwise node's local derivative, if known.

    ``x`` is the node's input (named ``x_name``), ``y_name`` its output's name.
    """
    kind = type(node).__name__
    if kind == "TanhBackward0":
        y = node._saved_result.detach()
        return Swap("tanh_wrong_tensor", (1 - x**2) - (1 - y**2), f"1 - {x_name}**2",
                    f"1 - {y_name}**2, written with tanh's output", "tanh's derivative")
    if kind == "ExpBackward0":
        y = node._saved_result.detach()
        return Swap("derivative_wrong_tensor", x - y, f"{x_name} as exp's derivative",
                    f"{y_name} itself (exp is its own derivative)", "the right factor")
    if kind == "LogBackward0":
        y = x.log()
        return Swap("derivative_wrong_tensor", 1 / y - 1 / x, f"1/{y_name}",
                    f"1/{x_name} (log's derivative is 1 over its input)", "the right factor")
    if kind == "PowBackward0":
        p = node._saved_exponent
        if not isinstance(p, (int, float)) or p in (0, 1):
            return None
        y = x**p
        return Swap("derivative_wrong_tensor", p * y ** (p - 1) - p * x ** (p - 1),
                    f"{p:g}*{y_name}**{p - 1:g}", f"{p:g}*{x_name}**{p - 1:g} (the power "
                    "rule on the input)", "the right factor")
    return None


def partial(ev: Evidence) -> Finding | None:
    """Right on some rows or columns only: say which (the axis with fewer wrong lines)."""
    if ev.student.dim() != 2 or ev.student.shape != ev.expected.shape:
        return None
    options = []
    for label, s, e in (("rows", ev.student, ev.expected),
                        ("columns", ev.student.T, ev.expected.T)):
        wrong = _wrong_rows(s, e)
        if 0 < len(wrong) < s.shape[0]:
            options.append((len(wrong) / s.shape[0], label, wrong, s.shape[0]))
    if not options:
        return None
    _, label, wrong, total = min(options)
    return Finding("partial", f"d{ev.name} is right in {total - len(wrong)} {label} and "
                   f"wrong in {len(wrong)}: {label} {_rows(wrong)}")


SHAPE: tuple[Callable[[Evidence], Finding | None], ...] = (
    transposed, sum_shape, not_broadcast, other_shape)
VALUE: tuple[Callable[[Evidence], Finding | None], ...] = (
    constant_factor, constant_offset, missing_branch, embedding_duplicates,
    derivative_on_wrong_tensor)
#: Tried after the hypotheses at ungraded intermediates (:mod:`grader.diagnosis.upstream`):
#: a pattern of wrong rows is a symptom, not an explanation.
LAST: tuple[Callable[[Evidence], Finding | None], ...] = (partial,)


def fingerprint(ev: Evidence, tests: tuple[Callable[[Evidence], Finding | None], ...]
                | None = None) -> Finding | None:
    """Return the first fingerprint that explains ``ev`` (shape ones for a wrong shape)."""
    if tests is None:
        tests = SHAPE if tuple(ev.student.shape) != tuple(ev.expected.shape) else VALUE
    if tests is not SHAPE and not bool(torch.isfinite(ev.student).all()):
        return non_finite(ev)
    for test in tests:
        found = test(ev)
        if found is not None:
            return found
    return None


def non_finite(ev: Evidence) -> Finding:
    """NaN or inf made on this line (the inputs it was given were finite)."""
    bad = int((~torch.isfinite(ev.student)).sum())
    return Finding("nan", f"d{ev.name} has {bad} NaN or infinite value(s) of "
                   f"{ev.student.numel()} although everything it is computed from is finite: "
                   "look for a negative number to a fractional power, log(0) or 0/0")


def _wrong_rows(s: torch.Tensor, e: torch.Tensor) -> list[int]:
    scale = float(e.abs().max()) if e.numel() else 0.0
    tol = FIT_ATOL + FIT_RTOL * scale
    bad = ((s - e).abs().amax(dim=tuple(range(1, s.dim()))) > tol) | \
        ~torch.isfinite(s).reshape(s.shape[0], -1).all(1)
    return torch.nonzero(bad).reshape(-1).tolist()


def _rows(rows: list[int], limit: int = 8) -> str:
    shown = ", ".join(str(r) for r in rows[:limit])
    return shown + (f", … ({len(rows)} in all)" if len(rows) > limit else "")


def _shape(t: torch.Tensor) -> str:
    return "(" + ", ".join(str(s) for s in t.shape) + ("," if t.dim() == 1 else "") + ")"
