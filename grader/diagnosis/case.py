"""Local correctness in one case: is a wrong tensor wrong on its own line, or inherited?

For each failing tensor ``v`` the expected-local gradient is the sum over ``v``'s named
consumers ``u`` of the one-edge VJP ``u → v`` fed with the student's own ``du`` (the
reference ``du`` where the student's is unusable, 1 for the loss). A tensor that matches it
only inherited an upstream error; one that does not is a root cause, and its evidence goes to
the fingerprints.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch

from grader.diagnosis import fingerprints, upstream
from grader.diagnosis.findings import FACTOR_CODES, Finding, Sizes
from grader.diagnosis.graph import Flow, NamedGraph
from grader.judge import TensorDiff
from grader.result import BAD_TYPE, MISSING, NOT_FINITE, SHAPE_MISMATCH, WRONG

#: Below this fraction of autograd's gradient, an expected-local gradient shows no method.
DEGENERATE = 1e-3

#: What one tensor is in one case (RAISED: backward raised in that case, nothing returned).
INHERITED, ROOT, ABSENT, RAISED = "inherited", "root", "absent", "raised"


@dataclass
class CaseVerdict:
    """One failing tensor in one case."""

    kind: str  # INHERITED, ROOT or ABSENT
    finding: Finding | None = None
    note: str | None = None
    #: For INHERITED: whether the upstream gradient carried enough signal to show the
    #: method. Zeros (or NaN) upstream make any linear formula "right", so they earn no
    #: carry-forward credit — else returning zeros everywhere would score nearly full marks.
    credit: bool = True


class CaseDiagnosis:
    """Judge the failing tensors of one case against their expected-local gradients.

    :param graded: the graded names with their ``(rtol, atol)``.
    :param fwd: the case's forward pass (its graph must still be alive).
    :param ref: autograd's gradients of the graded tensors.
    :param student: the student's usable gradients of the expected shape.
    :param misshaped: the student's gradients of a wrong shape (bounded; for fingerprints).
    :param sizes: the case's sizes by name (:func:`~grader.diagnosis.findings.case_sizes`),
        or its batch size n alone.
    """

    def __init__(self, graded: Mapping[str, tuple[float, float]], fwd: Mapping[str, Any],
                 ref: Mapping[str, torch.Tensor], student: Mapping[str, torch.Tensor],
                 misshaped: Mapping[str, torch.Tensor], sizes: int | Sizes,
                 explained: frozenset[str] = frozenset(),
                 shares: Sequence[Sequence[str]] = (), changed: Sequence[str] = ()) -> None:
        self.tolerances = graded
        self.fwd, self.ref = fwd, ref
        #: The case's sizes, for naming factors (an int: the batch size n alone).
        self.sizes: Sizes = {"n": sizes} if isinstance(sizes, int) else dict(sizes)
        self.student, self.misshaped = student, misshaped
        #: Per graded name: the other returned names whose tensors share its memory.
        self.partners = {a: [b for b in group if b != a] for group in shares for a in group}
        #: ``t``'s tensors the student's backward changed in place.
        self.changed = list(changed)
        self._victims: dict[str, Finding | None] = {}
        self.graph = NamedGraph(fwd, list(graded))
        self._flows: dict[str, Flow] = {}
        #: The gradient each consumer's flow was seeded with (the student's, as used).
        self._used: dict[str, torch.Tensor] = {}
        #: Flows of hypothetical changes at intermediates, shared by every tensor they reach.
        self.hypotheses: dict[tuple[int, str], Flow] = {}
        #: Root causes of an earlier case: judged (root or inherited) but not fingerprinted
        #: again — the first case's finding is the one reported, and hypotheses are costly.
        self.explained = explained

    def judge(self, diffs: Mapping[str, TensorDiff], not_dict: str | None = None,
              extra: list[str] | None = None,
              nones: Sequence[str] = ()) -> dict[str, CaseVerdict]:
        """Return a verdict for every failing tensor of this case."""
        with torch.no_grad():
            return self._judge(diffs, not_dict, extra, nones)

    def _judge(self, diffs: Mapping[str, TensorDiff], not_dict: str | None,
               extra: list[str] | None, nones: Sequence[str]) -> dict[str, CaseVerdict]:
        out: dict[str, CaseVerdict] = {}
        for name, diff in diffs.items():
            if diff.passed:
                continue
            if not_dict is not None:
                out[name] = CaseVerdict(ABSENT, Finding(
                    "wrong_type", f"backward returned a {not_dict}; return a dict such as "
                                  f"{{'{name}': d{name}}}"))
            elif diff.status == MISSING and name in nones:
                out[name] = CaseVerdict(ABSENT, Finding(
                    "not_filled", f"d{name} is None: the key is there, the gradient is not "
                                  "filled in yet — compute it and return the tensor"))
            elif diff.status == MISSING:
                out[name] = CaseVerdict(ABSENT, _missing(name, extra or []))
            elif diff.status == BAD_TYPE:
                out[name] = CaseVerdict(ROOT, Finding("wrong_type", diff.message))
            else:
                out[name] = self._judge_value(name, diff)
        return out

    def _judge_value(self, name: str, diff: TensorDiff) -> CaseVerdict:
        if diff.status == SHAPE_MISMATCH:
            got = self.misshaped.get(name)
            wide = self._expected_wide(name)
            if got is not None and wide is not None and got.shape == wide.shape \
                    and self._locally_correct(name, got, wide):
                return CaseVerdict(INHERITED, note=(
                    f"inherited: d{name} has the shape {tuple(got.shape)} and the values your "
                    f"{self._given(name)} give it — the mistake is further up the backward "
                    "pass"))
            if got is None or name in self.explained:
                return CaseVerdict(ROOT, Finding("shape", diff.message))
            return CaseVerdict(ROOT, fingerprints.fingerprint(
                self._evidence(name, got, self.expected_local(name))))
        got = self.student.get(name)
        expected = self.expected_local(name)
        assert got is not None and diff.status in (WRONG, NOT_FINITE)
        if self._locally_correct(name, got, expected):
            if self._degenerate(name, expected):
                return CaseVerdict(INHERITED, credit=False, note=(
                    f"inherited: d{name} follows from your upstream gradients, but they are "
                    "zero or NaN here, so nothing shows the method — no carry-forward credit"))
            return CaseVerdict(INHERITED, note=self._inherited_note(name))
        if name in self.explained:
            return CaseVerdict(ROOT)
        aliased = self.alias_victim(name)
        if aliased is not None:
            return CaseVerdict(ROOT, aliased)
        ev = self._evidence(name, got, expected)
        finding = fingerprints.fingerprint(ev)
        if finding is not None and finding.code in FACTOR_CODES and upstream.points(self, name):
            # A factor here is also a factor on any ungraded gradient in between.
            finding = replace(finding, located=False, text=f"{finding.text} — on this "
                              f"tensor's line or on an intermediate gradient it is computed "
                              f"from")
        # A local rule's wrong twin comes after an alias read after its change: both can
        # explain one value, and the alias is the concrete cause.
        finding = finding or upstream.search(self, ev) or self._read_changed(name) \
            or upstream.swapped(self, ev)
        if finding is None and self.changed:
            finding = _changed_input(name, self.changed)
        return CaseVerdict(ROOT, finding or fingerprints.fingerprint(ev, fingerprints.LAST))

    def alias_victim(self, name: str) -> Finding | None:
        """Say so when ``name`` is wrong because an in-place op on a gradient sharing its
        memory changed it.

        ``dhprebn = dbndiff`` (no ``.clone()``) then ``dhprebn += …`` leaves ``dbndiff``
        holding ``dhprebn``'s final value: the two returned tensors are one, and this one is
        wrong exactly by holding the partner's values, which by right should differ
        (:meth:`_pure_view`). The lines
        below it read it *before* that change, so its upstream role falls back to autograd's
        value (:meth:`upstream_grad`).
        """
        if name not in self._victims:
            self._victims[name] = None  # no recursion through a cycle of partners
            self._victims[name] = self._alias_victim(name)
        return self._victims[name]

    def _alias_victim(self, name: str) -> Finding | None:
        got = self.student.get(name)
        if got is None or not self.partners.get(name) or self._right(name, got):
            return None
        for partner in self.partners[name]:
            other = self.student.get(partner, self.misshaped.get(partner))
            if other is None or other.numel() != got.numel() \
                    or not torch.equal(other.reshape(-1), got.reshape(-1)):
                continue
            if not self._pure_view(partner, got):
                same = "is the same tensor as" if other.shape == got.shape else \
                    "shares its memory with"
                return Finding("aliased", f"d{name} {same} d{partner}: d{partner} = "
                               f"d{name} makes no copy, so the in-place change to d{partner} "
                               f"(+=, *=, [...] =) changed d{name} too — d{name} now holds "
                               f"d{partner}'s value. Write d{partner} = d{name}.clone()",
                               at=partner,
                               pattern=rf"^\s*d{partner}\s*=\s*d{name}\s*(#.*)?$")
        return None

    def _pure_view(self, partner: str, value: torch.Tensor) -> bool:
        """Return whether ``partner``'s gradient is by right just ``value`` reshaped.

        ``demb = dembcat.view(...)`` shares memory legitimately: given the student's own
        ``dembcat``, ``demb`` should equal it, so equal values prove no in-place change.
        ``dhprebn`` should be ``dbndiff`` *plus* the mean's part; equal values mean an
        in-place op wrote through both names.
        """
        total = _arrived(partner, [
            self.graph.flow_from(c, self.returned_grad(c)) for c in self.graph.consumers(partner)])
        return total is not None and total.numel() == value.numel() \
            and fingerprints.close(value.reshape(total.shape), total)

    def _read_changed(self, name: str) -> Finding | None:
        """A wrong line that reads a gradient an in-place op changed through an alias."""
        for consumer in self.graph.consumers(name):
            victim = self.alias_victim(consumer) if consumer != self.graph.root else None
            if victim is not None:
                return Finding("aliased", f"d{name} is wrong given your upstream gradients, "
                               f"and d{consumer}, which it is computed from, was changed in "
                               f"place: {victim.text}. This line most likely read "
                               f"d{consumer} after that change", pattern=victim.pattern)
        return None

    def _right(self, name: str, got: torch.Tensor) -> bool:
        return self._locally_correct(name, got, self.expected_local(name))

    def expected_local(self, name: str) -> torch.Tensor:
        """Return ``name``'s gradient given the student's upstream gradients."""
        total = _arrived(name, [self.flow(c) for c in self.graph.consumers(name)])
        return total if total is not None else torch.zeros_like(self.ref[name])

    def upstream_grad(self, name: str) -> torch.Tensor:
        """Return the gradient the student gave ``name``, as their later lines used it.

        A gradient of the wrong shape is still the student's: the lines below it read
        *their* values (the lecture's ``dbnmeani`` of shape ``(64,)`` broadcasts like
        ``(1, 64)``), so it is taken reshaped (a transpose transposed back, a missing
        broadcast expanded). Autograd's is used only where nothing of theirs is usable —
        else a correct line below a mis-shaped one would look wrong against a gradient the
        student never had (1 for the loss).
        """
        if name in self.student and self.alias_victim(name) is not None:
            return self.ref[name]
        return self.returned_grad(name)

    def returned_grad(self, name: str) -> torch.Tensor:
        """Return the gradient of ``name`` as returned (1 for the loss; a mis-shaped one
        :func:`reshaped`; autograd's where nothing is usable) — even if an alias changed it.
        """
        if name == self.graph.root:
            return torch.ones_like(self.fwd[name])
        got = self.student.get(name)
        return got if got is not None else reshaped(self.misshaped.get(name), self.ref[name])

    def flow(self, consumer: str) -> Flow:
        """Return (cached) the flow of the student's ``dconsumer`` down to the next stops.

        A gradient of a wrong shape that no reshape or broadcast makes the tensor's
        (``(1, C)`` summed over the wrong dimension, for a ``(n, 1)``) is what the student's
        next lines broadcast against their operands: it is replayed as it is first, and read
        the way :func:`reshaped` reads it only if the graph's nodes refuse it.
        """
        if consumer not in self._flows:
            raw = self._raw(consumer)
            flow = None
            if raw is not None:
                try:
                    flow = self.graph.flow_from(consumer, raw)
                    flow.raw = True
                    self._used[consumer] = raw
                except RuntimeError:
                    flow = None
            if flow is None:
                grad = self.upstream_grad(consumer)
                flow = self.graph.flow_from(consumer, grad)
                self._used[consumer] = grad
            self._flows[consumer] = flow
        return self._flows[consumer]

    def _raw(self, consumer: str) -> torch.Tensor | None:
        """Return the student's mis-shaped gradient of ``consumer`` when no reshape or
        broadcast gives it the tensor's shape (None otherwise)."""
        if consumer == self.graph.root or consumer in self.student:
            return None
        got, ref = self.misshaped.get(consumer), self.ref.get(consumer)
        if got is None or ref is None or not got.is_floating_point():
            return None
        try:
            got.expand(ref.shape)
        except RuntimeError:
            return got.to(ref.dtype)
        return None

    def entered(self, node: Any) -> torch.Tensor | None:
        """Return the gradient that entered ``node`` in any cached flow (its first input)."""
        for flow in self._flows.values():
            grads = flow.entered.get(id(node))
            if grads:
                return grads[0]
        return None

    def _evidence(self, name: str, got: torch.Tensor,
                  expected: torch.Tensor) -> fingerprints.Evidence:
        branches = {u: self.flow(u).arrived[name] for u in self.graph.consumers(name)
                    if name in self.flow(u).arrived}
        ups = {u: self._used[u] for u in branches if u in self._used}
        nodes = [n for u in branches for n in self.flow(u).order]
        return fingerprints.Evidence(name, got, expected, self.fwd[name].detach(), self.sizes,
                                     branches, self.entered, ups, self.graph.name_of, nodes)

    def _locally_correct(self, name: str, got: torch.Tensor, expected: torch.Tensor) -> bool:
        rtol, atol = self.tolerances[name]
        diff, scale = torch.stack([(got - expected).abs().max(), expected.abs().max()]).tolist()
        if math.isfinite(diff) and math.isfinite(scale):
            return diff <= atol + rtol * scale
        # NaN/inf somewhere. A NaN upstream gradient legitimately spreads: where the
        # expectation is not finite the student's value must not be finite either (zeros
        # below a NaN are not "right given the upstream"); elsewhere the usual rule applies.
        judged = torch.isfinite(expected)
        got_finite = torch.isfinite(got)
        if bool((got_finite & ~judged).any()) or not bool(got_finite[judged].all()):
            return False
        if not bool(judged.any()):
            return True
        e, g = expected[judged], got[judged]
        return float((g - e).abs().max()) <= atol + rtol * float(e.abs().max())

    def _degenerate(self, name: str, expected: torch.Tensor) -> bool:
        """Return whether ``expected`` is too small (or too non-finite) to judge a method.

        Relative to autograd's gradient: a thousandth of its size is still signal (a 1/n
        bug upstream shrinks it 32×), exact zeros or 1e-30 are not.
        """
        finite = expected[torch.isfinite(expected)]
        if finite.numel() == 0:
            return True
        scale = float(self.ref[name].abs().max())
        return float(finite.abs().max()) < DEGENERATE * scale or scale == 0.0 == float(
            finite.abs().max())

    def _expected_wide(self, name: str) -> torch.Tensor | None:
        """Return what a mis-shaped upstream gradient makes of ``name`` before any sum to its
        shape: a line right given a ``(B, 1, T)`` upstream where ``(B, T, 1)`` belongs
        broadcasts to ``(B, T, T)`` — the shape follows, the line is not the mistake. None
        when no consumer's flow was seeded mis-shaped."""
        flows = [self.flow(u) for u in self.graph.consumers(name)]
        if not any(f.raw for f in flows):
            return None
        total: torch.Tensor | None = None
        try:
            for flow in flows:
                arrival = flow.arrived.get(name)
                if arrival is not None:
                    total = arrival.broadcast if total is None else total + arrival.broadcast
        except RuntimeError:
            return None
        return total

    def _given(self, name: str) -> str:
        ups = [u for u in self.graph.consumers(name) if u != self.graph.root]
        return " and ".join(f"d{u}" for u in ups) or "the loss"

    def _inherited_note(self, name: str) -> str:
        return (f"inherited: d{name} is right given your {self._given(name)} — the mistake is "
                "further up the backward pass")


def _arrived(name: str, flows: Sequence[Flow]) -> torch.Tensor | None:
    """Return the sum of what ``flows`` delivered to ``name`` (None: nothing reached it)."""
    total: torch.Tensor | None = None
    for flow in flows:
        arrival = flow.arrived.get(name)
        if arrival is not None:
            total = arrival.grad if total is None else total + arrival.grad
    return total


def reshaped(got: torch.Tensor | None, ref: torch.Tensor) -> torch.Tensor:
    """Return a mis-shaped gradient in ``ref``'s shape the way it was most likely meant.

    Same element count: a swapped 2-D shape is read as a transpose, anything else as a
    reshape; a shape that broadcasts to ``ref``'s (``(1, 64)`` for ``(32, 64)``) is
    expanded, as the student's next line would broadcast it. Otherwise (or when it is not
    finite-shaped float data) autograd's ``ref`` stands in.
    """
    if got is None or not got.is_floating_point():
        return ref
    shape = tuple(ref.shape)
    if got.numel() == ref.numel():
        if got.dim() == 2 and tuple(got.shape) == shape[::-1] and shape[0] != shape[1]:
            return got.T.to(ref.dtype)
        return got.reshape(shape).to(ref.dtype)
    try:
        return got.expand(shape).to(ref.dtype)
    except RuntimeError:
        return ref


def _changed_input(name: str, changed: Sequence[str]) -> Finding:
    """A wrong gradient with no pattern of its own, in a backward that changed ``t``."""
    first = changed[0]
    listed = ", ".join(f"t.{c}" for c in changed[:5])
    pattern = "|".join(re.escape(c) for c in changed)
    return Finding("inplace_input", f"d{name} is wrong given your upstream gradients, and "
                   f"your backward changed {listed} in place (an in-place op such as -=, *= "
                   f"or [...] = on it, or on a variable that is it: x = t.{first} makes no "
                   f"copy) — every line after that reads the changed values. Work on a copy: "
                   f"t.{first}.clone()",
                   pattern=rf"^\s*\w+\s*=\s*t\.({pattern})\s*(#.*)?$"
                           rf"|\bt\.({pattern})\s*(\[[^\]]*\])?\s*[-+*/]=|\bt\.({pattern})"
                           rf"\s*\[[^\]]*\]\s*=(?!=)|\bt\.({pattern})\.\w+_\(")


def _missing(name: str, extra: list[str]) -> Finding:
    """Name a missing key, pointing at a near miss such as ``'dW1'`` for ``'W1'``."""
    spellings = {f"d{name}", f"d_{name}", f"grad_{name}", f"{name}_grad"}
    near = [k for k in extra if k.lower() in {s.lower() for s in spellings}]
    hint = (f"; your dict has {near[0]!r} — keys are forward names without the d prefix"
            if near else "")
    return Finding("missing_key", f"d{name} is missing from the returned dict{hint}")
