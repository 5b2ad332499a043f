"""Local correctness in one case: is a wrong tensor wrong on its own line, or inherited?

For each failing tensor ``v`` the expected-local gradient is the sum over ``v``'s named
consumers ``u`` of the one-edge VJP ``u → v`` fed with the student's own ``du`` (the
reference ``du`` where the student's is unusable, 1 for the loss). A tensor that matches it
only inherited an upstream error; one that does not is a root cause, and its evidence goes to
the fingerprints.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import torch

from grader.diagnosis import fingerprints, upstream
from grader.diagnosis.findings import FACTOR_CODES, Finding
from grader.diagnosis.graph import Flow, NamedGraph
from grader.judge import TensorDiff
from grader.result import BAD_TYPE, MISSING, NOT_FINITE, SHAPE_MISMATCH, WRONG

#: Below this fraction of autograd's gradient, an expected-local gradient shows no method.
DEGENERATE = 1e-3

#: What one tensor is in one case.
INHERITED, ROOT, ABSENT = "inherited", "root", "absent"


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
    """

    def __init__(self, graded: Mapping[str, tuple[float, float]], fwd: Mapping[str, Any],
                 ref: Mapping[str, torch.Tensor], student: Mapping[str, torch.Tensor],
                 misshaped: Mapping[str, torch.Tensor], n: int,
                 explained: frozenset[str] = frozenset()) -> None:
        self.tolerances = graded
        self.fwd, self.ref, self.n = fwd, ref, n
        self.student, self.misshaped = student, misshaped
        self.graph = NamedGraph(fwd, list(graded))
        self._flows: dict[str, Flow] = {}
        #: Flows of hypothetical changes at intermediates, shared by every tensor they reach.
        self.hypotheses: dict[tuple[int, str], Flow] = {}
        #: Root causes of an earlier case: judged (root or inherited) but not fingerprinted
        #: again — the first case's finding is the one reported, and hypotheses are costly.
        self.explained = explained

    def judge(self, diffs: Mapping[str, TensorDiff], not_dict: str | None = None,
              extra: list[str] | None = None) -> dict[str, CaseVerdict]:
        """Return a verdict for every failing tensor of this case."""
        with torch.no_grad():
            return self._judge(diffs, not_dict, extra)

    def _judge(self, diffs: Mapping[str, TensorDiff], not_dict: str | None,
               extra: list[str] | None) -> dict[str, CaseVerdict]:
        out: dict[str, CaseVerdict] = {}
        for name, diff in diffs.items():
            if diff.passed:
                continue
            if not_dict is not None:
                out[name] = CaseVerdict(ABSENT, Finding(
                    "wrong_type", f"backward returned a {not_dict}; return a dict such as "
                                  f"{{'{name}': d{name}}}"))
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
        ev = self._evidence(name, got, expected)
        finding = fingerprints.fingerprint(ev)
        if finding is not None and finding.code in FACTOR_CODES and upstream.points(self, name):
            # A factor here is also a factor on any ungraded gradient in between.
            finding = replace(finding, located=False, text=f"{finding.text} — on this "
                              f"tensor's line or on an intermediate gradient it is computed "
                              f"from")
        finding = finding or upstream.search(self, ev) \
            or fingerprints.fingerprint(ev, fingerprints.LAST)
        return CaseVerdict(ROOT, finding)

    def expected_local(self, name: str) -> torch.Tensor:
        """Return ``name``'s gradient given the student's upstream gradients."""
        total: torch.Tensor | None = None
        for consumer in self.graph.consumers(name):
            arrival = self.flow(consumer).arrived.get(name)
            if arrival is not None:
                total = arrival.grad if total is None else total + arrival.grad
        return total if total is not None else torch.zeros_like(self.ref[name])

    def upstream_grad(self, name: str) -> torch.Tensor:
        """Return the gradient the student gave ``name`` (reference if unusable; 1 for loss)."""
        if name == self.graph.root:
            return torch.ones_like(self.fwd[name])
        got = self.student.get(name)
        return got if got is not None else self.ref[name]

    def flow(self, consumer: str) -> Flow:
        """Return (cached) the flow of the student's ``dconsumer`` down to the next stops."""
        if consumer not in self._flows:
            self._flows[consumer] = self.graph.flow(self.graph.node_of(consumer),
                                                    self.upstream_grad(consumer))
        return self._flows[consumer]

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
        return fingerprints.Evidence(name, got, expected, self.fwd[name].detach(), self.n,
                                     branches, self.entered)

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

    def _inherited_note(self, name: str) -> str:
        ups = [u for u in self.graph.consumers(name) if u != self.graph.root]
        given = " and ".join(f"d{u}" for u in ups) or "the loss"
        return (f"inherited: d{name} is right given your {given} — the mistake is further "
                "up the backward pass")


def _missing(name: str, extra: list[str]) -> Finding:
    """Name a missing key, pointing at a near miss such as ``'dW1'`` for ``'W1'``."""
    spellings = {f"d{name}", f"d_{name}", f"grad_{name}", f"{name}_grad"}
    near = [k for k in extra if k.lower() in {s.lower() for s in spellings}]
    hint = (f"; your dict has {near[0]!r} — keys are forward names without the d prefix"
            if near else "")
    return Finding("missing_key", f"d{name} is missing from the returned dict{hint}")
