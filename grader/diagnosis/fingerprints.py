"""Bug fingerprints: small tests of one hypothesis each on (student, expected-local).

Every fingerprint takes the :class:`Evidence` of one root-cause tensor in one case and returns
a :class:`~grader.diagnosis.findings.Finding` when its hypothesis explains the student's value,
else None. ``expected`` is the *local* expectation — what the tensor's gradient should be given
the student's own upstream gradients — so an inherited error never masks or fakes a pattern.
:data:`SHAPE` runs when the shape is wrong, :data:`VALUE` when it is right; the first match
wins, so the more specific hypotheses come first.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations, permutations
from typing import Any

import torch

from grader.diagnosis.findings import Finding, Sizes, times
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


def close_nan(a: torch.Tensor, b: torch.Tensor) -> bool:
    """:func:`close`, where NaN and ±inf must also sit in the same places with the same
    values (a derivative written on ``-inf`` makes them; the hypothesis must make them too)."""
    if a.shape != b.shape:
        return False
    fa, fb = torch.isfinite(a), torch.isfinite(b)
    if not torch.equal(fa, fb):
        return False
    if bool(fa.all()):
        return close(a, b)
    bad = ~fa
    same = (torch.isnan(a[bad]) & torch.isnan(b[bad])) | (a[bad] == b[bad])
    if not bool(same.all()):
        return False
    if not bool(fa.any()):
        return True
    return close(a[fa], b[fa])


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
    #: The case's sizes by name (n, parameters, the ints in ``t``), or its batch size alone:
    #: a constant factor is named after the size (or product of sizes) it is.
    sizes: int | Sizes
    #: Per consumer: the contribution it sends (``grad``, ``broadcast`` shape, ``via`` node).
    branches: dict[str, Arrival] = field(default_factory=dict)
    #: The gradient that entered a graph node while the consumers' flows were replayed.
    entered: Callable[[Any], torch.Tensor | None] = lambda node: None
    #: Per consumer: the student's gradient of it, as this tensor's line read it.
    upstream: Mapping[str, torch.Tensor] = field(default_factory=dict)
    #: The forward name of a node's output, if it has one.
    name_of: Callable[[Any], str | None] = lambda node: None
    #: The nodes the consumers' flows replayed on their way to this tensor.
    nodes: Sequence[Any] = ()


# -- wrong shape ----------------------------------------------------------------------------

def transposed(ev: Evidence) -> Finding | None:
    """The transpose: shapes swapped and values equal transposed (``h.T @ d`` order mix-up);
    for more dimensions, any permutation of them (``(B, nh, T, hs)`` for ``(B, T, nh, hs)``:
    a ``.transpose(1, 2)`` missing or one too many)."""
    s, e = ev.student, ev.expected
    if s.dim() == 2 and e.dim() == 2 and tuple(s.shape) == tuple(e.shape)[::-1] \
            and close(s.T, e):
        return Finding("transpose", f"d{ev.name} is the transpose of the right gradient: shape "
                       f"{_shape(s)} instead of {_shape(e)} — swap the operands of the "
                       "matmul (or their .T)")
    if not 2 < s.dim() == e.dim() <= 5 or sorted(s.shape) != sorted(e.shape):
        return None
    for order in permutations(range(s.dim())):
        if list(order) == sorted(order) or tuple(s.shape[i] for i in order) != tuple(e.shape):
            continue
        if close(s.permute(order), e):
            return Finding("transpose", f"d{ev.name} has the right values with its dimensions "
                           f"in another order: shape {_shape(s)} instead of {_shape(e)} — a "
                           "transpose missing or one too many (.permute"
                           f"{tuple(order)} of it is right)")
    return None


def sum_shape(ev: Evidence) -> Finding | None:
    """A broadcast gradient summed without keepdim, over the wrong dim, or not summed at all."""
    s, e = ev.student, ev.expected
    if close(s.reshape(e.shape), e) if s.numel() == e.numel() else False:
        how = "sum with keepdim=True (or reshape)" if s.dim() < e.dim() else \
            "drop the extra dimension (no keepdim=True, or reshape)" if s.dim() > e.dim() \
            else "reshape it"
        return Finding("missing_keepdim", f"right values, wrong shape: {_shape(s)} instead of "
                       f"{_shape(e)} — {how} so the gradient has the tensor's own shape")
    extra = s.dim() - e.dim()
    for dims in combinations(range(s.dim()), extra) if 0 < extra <= 3 else ():
        # Dimensions the tensor does not have, kept (a bias's gradient summed over the batch
        # only, a per-example product never summed): summing them is all that is missing.
        kept = tuple(n for d, n in enumerate(s.shape) if d not in dims)
        if kept == tuple(e.shape) and close(s.sum(dims), e):
            return Finding("not_summed", f"d{ev.name} has shape {_shape(s)}: it keeps "
                           f"{_dims(dims)} (size {', '.join(str(s.shape[d]) for d in dims)}), "
                           f"which {ev.name} {_shape(e)} does not have — sum over "
                           f"{'it' if extra == 1 else 'them'} too")
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
                    right = _broadcast_dims(tuple(wide.shape), tuple(e.shape))
                    over = "dimension" + ("s " if len(right) > 1 else " ") + \
                        ", ".join(map(str, right))
                    return Finding("wrong_sum_dim", f"d{ev.name} is summed over dimension "
                                   f"{dim} (shape {_shape(s)}); it must be summed over {over} "
                                   f"(the broadcast one{'s' if len(right) > 1 else ''}), so "
                                   f"that its shape is {_shape(e)}")
    found = _upstream_sum(ev)
    if found is not None:
        return found
    return None


def _upstream_sum(ev: Evidence) -> Finding | None:
    """A tensor whose gradient is its one consumer's summed (a bias): summed over only some
    of the dimensions it must be (``not_summed``) or over other ones (``wrong_sum_dim``)."""
    s, e = ev.student, ev.expected
    if len(ev.upstream) != 1:
        return None
    (consumer, du), = ev.upstream.items()
    if du.dim() > 5 or du.numel() == e.numel():
        return None
    right = [d for d in _subsets(du.dim()) if du.sum(d).numel() == e.numel()
             and close(du.sum(d).reshape(e.shape), e)]
    if not right:
        return None
    for dims in _subsets(du.dim()):
        for keep in (False, True):
            got = du.sum(dims, keepdim=keep)
            if tuple(got.shape) != tuple(s.shape) or not close(s, got):
                continue
            want = _dims(right[0])
            if set(dims) < set(right[0]):
                return Finding("wrong_sum_dim", f"d{ev.name} is d{consumer} summed over "
                               f"{_dims(dims)} only (shape {_shape(s)}): sum over {want} to "
                               f"get {_shape(e)}")
            return Finding("wrong_sum_dim", f"d{ev.name} is d{consumer} summed over "
                           f"{_dims(dims)} (shape {_shape(s)}); it must be summed over {want}, "
                           f"so that its shape is {_shape(e)}")
    return None


def _subsets(rank: int) -> list[tuple[int, ...]]:
    """Every non-empty set of dimensions of a tensor of ``rank`` dims, as a tuple."""
    return [dims for r in range(1, rank + 1) for dims in combinations(range(rank), r)]


def _dims(dims: tuple[int, ...]) -> str:
    return ("dimension " if len(dims) == 1 else "dimensions ") + ", ".join(map(str, dims))


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
                   f"tensor's full shape — broadcast it back (.expand{tuple(e.shape)}, or "
                   f"multiply by ones of that shape)")


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
    named = times(c, ev.sizes)
    if named:
        code, phrase = named
        return Finding(code, f"d{ev.name} is {phrase}")
    return Finding("constant_factor", f"d{ev.name} is the right gradient times {c:.4g}")


def transposed_square(ev: Evidence) -> Finding | None:
    """A square gradient (or a stack of square ones) transposed: the shape cannot show it
    (``dWo = dout.T @ y`` for a ``(C, C)`` weight), the values do."""
    s, e = ev.student, ev.expected
    if s.dim() < 2 or s.shape[-1] != s.shape[-2] or not close(s.mT, e):
        return None
    what = "the transpose of the right gradient" if s.dim() == 2 else \
        "the right gradient with its last two dimensions swapped"
    return Finding("transpose", f"d{ev.name} is {what} (a square {_shape(s)}, so the shape "
                   "did not show it) — swap the operands of the matmul (or their .T)")


def layout(ev: Evidence) -> Finding | None:
    """Right values in the wrong places: the consumer's gradient reshaped in memory order
    where a transpose belonged (``dq = dqh.reshape(B, T, C)`` without moving the heads'
    axis back)."""
    s, e = ev.student, ev.expected
    for consumer, du in ev.upstream.items():
        if du.numel() != s.numel() or len(ev.upstream) != 1:
            continue
        flat = du.reshape(s.shape)
        if close(s, flat) and not close(e, flat):
            return Finding("shape", f"d{ev.name} is d{consumer} {_shape(du)} reshaped to "
                           f"{_shape(s)} in memory order: its values are right but in the "
                           "wrong places — move the axes back (.transpose / .permute) "
                           "before the reshape")
    return None


def branch_factor(ev: Evidence) -> Finding | None:
    """One consumer's contribution off by a factor: the mean's 1/C forgotten on one path of
    two, a Bessel 1/(C−1) on the variance's path only."""
    if len(ev.branches) < 2:
        return None
    diff = ev.student - ev.expected
    for consumer, arrival in ev.branches.items():
        c = fit_factor(diff, arrival.grad)
        if c is None or abs(c) < 1e-3 or abs(c + 1) < 1e-3:
            continue  # k = 1 (nothing) or k = 0 (a lost branch: missing_branch's)
        if not close(ev.student, ev.expected + c * arrival.grad):
            continue
        named = times(1 + c, ev.sizes)
        if named is None:
            return Finding("constant_factor", f"d{ev.name}'s contribution through "
                           f"{_via(ev, consumer)} is {1 + c:.4g} times the right one")
        code, phrase = named
        return Finding(code, f"d{ev.name}'s contribution through {_via(ev, consumer)} is "
                       f"{phrase}")
    return None


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
            lost = ", ".join(_via(ev, u) for u in ev.branches if u != kept)
            return Finding("overwrite_branch", f"d{ev.name} holds only the contribution "
                           f"through {_via(ev, kept)}; the one through {lost} is missing — "
                           f"{ev.name} feeds {len(ev.branches)} tensors, so add every "
                           "contribution (+=, not =)")
    for lost, arrival in ev.branches.items():
        if close(ev.student, ev.expected - arrival.grad):
            return Finding("overwrite_branch", f"d{ev.name} is missing the contribution "
                           f"through {_via(ev, lost)}: add every consumer's part (+=, not =)")
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
    found = _pool_duplicates(ev)
    if found is not None:
        return found
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


#: Max-pool nodes: each output position's gradient goes to the input position its index
#: names; overlapping windows may name one position twice, like a repeated token.
POOLS = frozenset({"MaxPool2DWithIndicesBackward0", "MaxPool3DWithIndicesBackward0"})


def _pool_duplicates(ev: Evidence) -> Finding | None:
    """A max-pool gradient that kept one write per input position (``scatter`` for
    ``scatter_add``, ``=`` for ``+=``): where windows overlap, an element that is the max
    of two windows holds one window's gradient. Tested whole, as embedding_duplicates."""
    for node in ev.nodes:
        if type(node).__name__ not in POOLS:
            continue
        try:
            indices, x = node._saved_result1, node._saved_self
        except (AttributeError, RuntimeError):
            continue
        upstream = ev.entered(node)
        if upstream is None or x.numel() != ev.student.numel() \
                or upstream.numel() != indices.numel():
            continue
        plane = math.prod(x.shape[-2:] if "2D" in type(node).__name__ else x.shape[-3:])
        lead = x.numel() // plane
        rows = indices.reshape(lead, -1)
        flat = (rows + plane * torch.arange(lead).unsqueeze(1)).reshape(-1)
        student = ev.student.reshape(-1)
        expected = ev.expected.reshape(-1)
        contributions = upstream.reshape(-1)
        scale = float(expected.abs().max()) if expected.numel() else 0.0
        tol = FIT_ATOL + FIT_RTOL * scale
        kept = (student[flat] - contributions).abs() <= tol
        holds_one = torch.zeros(student.numel()).index_add_(0, flat, kept.float()) > 0
        used = torch.bincount(flat, minlength=student.numel()) > 0
        if not bool(holds_one[used].all()):
            continue
        if bool((~used).any()) and float((student[~used] - expected[~used]).abs().max()) > tol:
            continue
        wrong = int(((student - expected).abs() > tol).sum())
        if wrong == 0:
            continue
        return Finding("embedding_duplicates", f"d{ev.name} keeps one window's gradient per "
                       f"element: {wrong} element(s) that are the max of two overlapping "
                       "windows hold only one of their contributions — scatter (or =) with "
                       "repeated indices keeps one write; accumulate (scatter_add, +=)")
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
        output = ev.name_of(arrival.via) or (consumer if consumer != "loss" else
                                             f"{ev.name}'s {_op(arrival.via)}")
        swap = wrong_derivative(arrival.via, ev.value, ev.name, output)
        if swap is not None and close_nan(ev.student, ev.expected + swap.delta * upstream):
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
    """Right on some rows or columns only: say which (the axis with fewer wrong lines).

    More than two dimensions are read as rows of the last one (``(B, T, T)`` attention: a
    row is one query's). A row counts as right only if its right value is not tiny next to
    the tensor's: a row of near-zeros is "right" under almost any mistake.
    """
    if ev.student.dim() < 2 or ev.student.shape != ev.expected.shape:
        return None
    lead = tuple(ev.student.shape[:-1])
    s2 = ev.student.reshape(-1, ev.student.shape[-1])
    e2 = ev.expected.reshape(-1, ev.expected.shape[-1])
    scale = float(e2.abs().max()) if e2.numel() else 0.0
    options = []
    axes = (("rows", s2, e2), ("columns", s2.T, e2.T)) if len(lead) == 1 else \
        (("rows", s2, e2),)  # more dims: a row (one query's, one example's) is the unit
    for label, s, e in axes:
        wrong = _wrong_rows(s, e)
        right = sorted(set(range(s.shape[0])) - set(wrong))
        shown = any(float(e[r].abs().max()) >= 0.1 * scale for r in right)
        if wrong and right and shown:
            options.append((len(wrong) / s.shape[0], label, wrong, s.shape[0]))
    if not options:
        return None
    _, label, wrong, total = min(options)
    listed = _rows(wrong) if label == "columns" or len(lead) == 1 else \
        _rows([_index(r, lead) for r in wrong])
    return Finding("partial", f"d{ev.name} is right in {total - len(wrong)} {label} and "
                   f"wrong in {len(wrong)}: {label} {listed}")


def _index(flat: int, shape: tuple[int, ...]) -> str:
    """Return the index tuple of row ``flat`` of a tensor whose leading dims are ``shape``."""
    out = []
    for size in reversed(shape):
        out.append(flat % size)
        flat //= size
    return "(" + ", ".join(map(str, reversed(out))) + ")"


SHAPE: tuple[Callable[[Evidence], Finding | None], ...] = (
    transposed, sum_shape, not_broadcast, other_shape)
VALUE: tuple[Callable[[Evidence], Finding | None], ...] = (
    constant_factor, transposed_square, constant_offset, missing_branch, branch_factor,
    embedding_duplicates, derivative_on_wrong_tensor, layout)
#: Tried after the hypotheses at ungraded intermediates (:mod:`grader.diagnosis.upstream`):
#: a pattern of wrong rows is a symptom, not an explanation.
LAST: tuple[Callable[[Evidence], Finding | None], ...] = (partial,)


def fingerprint(ev: Evidence, tests: tuple[Callable[[Evidence], Finding | None], ...]
                | None = None) -> Finding | None:
    """Return the first fingerprint that explains ``ev`` (shape ones for a wrong shape)."""
    if tests is None:
        tests = SHAPE if tuple(ev.student.shape) != tuple(ev.expected.shape) else VALUE
    if tests is not SHAPE and not bool(torch.isfinite(ev.student).all()):
        # A derivative written on a tensor holding -inf makes NaN and inf of its own.
        return derivative_on_wrong_tensor(ev) or non_finite(ev)
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


def _rows(rows: list[Any], limit: int = 8) -> str:
    shown = ", ".join(str(r) for r in rows[:limit])
    return shown + (f", … ({len(rows)} in all)" if len(rows) > limit else "")


def _via(ev: Evidence, consumer: str) -> str:
    """Name a consumer's branch: ``dprobs`` — the forward tensor it runs through when the
    consumer is the loss itself (a layer exercise's ungraded output)."""
    if consumer != "loss":
        return f"d{consumer}"
    arrival = ev.branches.get(consumer)
    name = ev.name_of(arrival.via) if arrival is not None else None
    return f"d{name}" if name else "the loss"


def _op(node: Any) -> str:
    return type(node).__name__.removesuffix("Backward0").removesuffix("Backward1").lower()


def _broadcast_dims(wide: tuple[int, ...], shape: tuple[int, ...]) -> list[int]:
    """Return the dimensions of ``wide`` that broadcasting to it from ``shape`` created."""
    lead = len(wide) - len(shape)
    return [*range(lead), *(lead + i for i, size in enumerate(shape)
                            if size == 1 and wide[lead + i] != 1)]


def _shape(t: torch.Tensor) -> str:
    return "(" + ", ".join(str(s) for s in t.shape) + ("," if t.dim() == 1 else "") + ")"
