"""Feedback that teaches: root causes, bug fingerprints, error carried forward.

One wrong line in a backward pass makes every tensor after it wrong. Diagnosis separates the
tensor whose own line is wrong (the *root cause*) from those that only inherited the error,
by checking each against what it should be given the student's *own* upstream gradients
(:mod:`grader.diagnosis.case`), then names the kind of mistake (:mod:`.fingerprints`,
:mod:`.upstream`). Everything here is pure torch, run in the trusted process.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from grader.diagnosis.case import ABSENT, INHERITED, ROOT, CaseDiagnosis, CaseVerdict
from grader.diagnosis.findings import CODES, Diagnosis, Finding
from grader.diagnosis.lines import assignment_line
from grader.exercise import Case
from grader.judge import TensorDiff

__all__ = ["CODES", "CaseDiagnosis", "Diagnosis", "Diagnoser", "Finding", "conclude"]


class Diagnoser:
    """Collect one submission's case verdicts, then conclude: what ``grade()`` drives.

    :param tolerances: ``(rtol, atol)`` of every graded tensor, in graded order.
    """

    def __init__(self, tolerances: Mapping[str, tuple[float, float]]) -> None:
        self.tolerances = dict(tolerances)
        self.verdicts: list[tuple[Case, dict[str, CaseVerdict]]] = []

    def add_case(self, case: Case, fwd: Mapping[str, Any], ref: Mapping[str, torch.Tensor],
                 student: Mapping[str, torch.Tensor], misshaped: Mapping[str, torch.Tensor],
                 diffs: Mapping[str, TensorDiff], not_dict: str | None = None,
                 extra: list[str] | None = None) -> None:
        """Judge one case's failing tensors (nothing to do when all passed).

        A root cause of an earlier case is judged again (root or not decides carry-forward)
        but not fingerprinted again: the first case's finding is the one reported, and
        hypotheses are the costly part.
        """
        if all(d.passed for d in diffs.values()):
            return
        explained = frozenset(n for _, v in self.verdicts for n, x in v.items()
                              if x.kind == ROOT)
        usable = {k: v for k, v in student.items() if k in self.tolerances}
        judged = CaseDiagnosis(self.tolerances, fwd, ref, usable, misshaped, case.n,
                               explained).judge(diffs, not_dict, extra)
        self.verdicts.append((case, judged))

    def add_raised(self, case: Case) -> None:
        """Record a case in which ``backward`` raised: no tensor is right there, locally
        or not, so none earns carry-forward credit (the error message says what happened).
        """
        self.verdicts.append((case, {n: CaseVerdict(ABSENT) for n in self.tolerances}))

    def conclude(self, cases: Sequence[Case], source: str) -> dict[str, Diagnosis]:
        """Return one :class:`Diagnosis` per failing tensor (see :func:`conclude`)."""
        return conclude(list(self.tolerances), cases, self.verdicts, source)


def conclude(names: Sequence[str], cases: Sequence[Case],
             verdicts: Sequence[tuple[Case, Mapping[str, CaseVerdict]]],
             source: str) -> dict[str, Diagnosis]:
    """Fold per-case verdicts into one :class:`Diagnosis` per failing tensor.

    A tensor is a root cause when it is wrong on its own in any case; locally correct when
    it is right given its upstream in every case. A root cause that is right in every case
    sharing the public case's size and wrong in every other is a hard-coded size — a
    pattern no single case shows.
    """
    out: dict[str, Diagnosis] = {}
    for name in names:
        per_case = [(case, v[name]) for case, v in verdicts if name in v]
        if not per_case:
            continue
        diag = Diagnosis()
        kinds = {v.kind for _, v in per_case}
        if ROOT in kinds:
            diag.root_cause, diag.locally_correct = True, False
            roots = [(c, v) for c, v in per_case if v.kind == ROOT]
            diag.finding = _hardcoded(name, {c.name for c, _ in roots}, cases) \
                or roots[0][1].finding \
                or Finding("unclassified", f"d{name} is wrong even given your own upstream "
                           "gradients: the mistake is on this tensor's own line")
        elif ABSENT in kinds:
            diag.finding = next((v.finding for _, v in per_case
                                 if v.kind == ABSENT and v.finding is not None), None)
        else:
            assert kinds == {INHERITED}
            diag.locally_correct = True
            diag.credit = all(v.credit for _, v in per_case)
            diag.note = next((v.note for _, v in per_case if not v.credit),
                             per_case[0][1].note)
        if diag.root_cause and diag.finding is not None and diag.finding.located:
            diag.line = assignment_line(source, diag.finding.at or name)
        out[name] = diag
    return out


def _hardcoded(name: str, wrong: set[str], cases: Sequence[Case]) -> Finding | None:
    """Explain "wrong exactly where a size differs from the public case's" as a hard-coding."""
    if len(cases) < 2 or cases[0].name in wrong:
        return None
    public = cases[0]
    sizes = {"n": lambda c: c.n, **{k: (lambda c, k=k: c.params.get(k)) for k in public.params}}
    for size, get in sizes.items():
        differs = {c.name for c in cases if get(c) != get(public)}
        if differs and differs == wrong:
            others = sorted({get(c) for c in cases if c.name in differs})
            listed = " and ".join(str(v) for v in others)
            if size == "n":
                return Finding("hardcoded_batch", f"d{name} is right for n = {public.n} and "
                               f"wrong for n = {listed}: a hard-coded batch size? Use t.n (or "
                               "a tensor's shape) instead of the number")
            return Finding("hardcoded_size", f"d{name} is right for {size} = {get(public)} "
                           f"and wrong for {size} = {listed}: a hard-coded size? Read it from "
                           "a tensor's shape instead")
    return None
