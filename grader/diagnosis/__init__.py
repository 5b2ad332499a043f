"""Feedback that teaches: root causes, bug fingerprints, error carried forward.

One wrong line in a backward pass makes every tensor after it wrong. Diagnosis separates the
tensor whose own line is wrong (the *root cause*) from those that only inherited the error,
by checking each against what it should be given the student's *own* upstream gradients
(:mod:`grader.diagnosis.case`), then names the kind of mistake (:mod:`.fingerprints`,
:mod:`.upstream`). Everything here is pure torch, run in the trusted process.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from grader.diagnosis.case import ABSENT, INHERITED, RAISED, ROOT, CaseDiagnosis, CaseVerdict
from grader.diagnosis.findings import CODES, Diagnosis, Finding
from grader.diagnosis.lines import assignment_line, first_line
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
        #: Cases in which backward returned (whatever it returned), and those it raised in.
        self.ran: list[Case] = []
        self.raised: list[tuple[Case, int | None]] = []
        #: Set by :meth:`conclude`: a crash in some cases only, explained.
        self.crash: Crash | None = None

    def add_case(self, case: Case, fwd: Mapping[str, Any], ref: Mapping[str, torch.Tensor],
                 student: Mapping[str, torch.Tensor], misshaped: Mapping[str, torch.Tensor],
                 diffs: Mapping[str, TensorDiff], not_dict: str | None = None,
                 extra: list[str] | None = None, *, shares: Sequence[Sequence[str]] = (),
                 changed: Sequence[str] = (), nones: Sequence[str] = ()) -> None:
        """Judge one case's failing tensors (nothing to do when all passed).

        A root cause of an earlier case is judged again (root or not decides carry-forward)
        but not fingerprinted again: the first case's finding is the one reported, and
        hypotheses are the costly part. ``shares`` groups returned names whose tensors share
        memory, ``changed`` names ``t``'s tensors the call changed in place, ``nones`` the
        names returned as None.
        """
        self.ran.append(case)
        if all(d.passed for d in diffs.values()):
            return
        explained = frozenset(n for _, v in self.verdicts for n, x in v.items()
                              if x.kind == ROOT)
        usable = {k: v for k, v in student.items() if k in self.tolerances}
        judged = CaseDiagnosis(self.tolerances, fwd, ref, usable, misshaped, case.n,
                               explained, shares, changed).judge(diffs, not_dict, extra, nones)
        self.verdicts.append((case, judged))

    def add_raised(self, case: Case, line: int | None = None) -> None:
        """Record a case in which ``backward`` raised (at ``line``, when it is known).

        Nothing was returned there, so no tensor earns carry-forward credit; what the other
        cases showed is kept, and a crash only where the batch size differs from the public
        case's is named a hard-coded size (:func:`conclude`).
        """
        self.raised.append((case, line))
        self.verdicts.append((case, {n: CaseVerdict(RAISED) for n in self.tolerances}))

    def conclude(self, cases: Sequence[Case], source: str) -> dict[str, Diagnosis]:
        """Return one :class:`Diagnosis` per failing tensor (see :func:`conclude`)."""
        self.crash = crash_finding(cases, self.raised, source, list(self.tolerances))
        return conclude(list(self.tolerances), cases, self.verdicts, source, self.crash,
                        self.ran)


@dataclass(frozen=True)
class Crash:
    """A crash in some cases only, explained: the finding, and the tensor it is blamed on."""

    finding: Finding
    line: int | None
    #: The graded tensor whose assignment is the crashing line (None: not one tensor's).
    tensor: str | None
    #: The cause in a few words, for the summary that already quotes the error.
    summary: str


def crash_finding(cases: Sequence[Case], raised: Sequence[tuple[Case, int | None]],
                  source: str, names: Sequence[str]) -> Crash | None:
    """Name a crash that happens exactly in the cases whose size differs from the public one.

    ``dembcat.view(32, 3, 10)`` or ``for k in range(32)`` run for the public n = 32 and raise
    for any other n: the non-crashing form of the same slip (``-1.0/32``) is called a
    hard-coded batch size, so this one is too. The tensor blamed is the one assigned on the
    crashing line, or inside the loop it opens.
    """
    if not raised or len(raised) == len(cases):
        return None
    found = _size_differs({c.name for c, _ in raised}, cases)
    if found is None:
        return None
    size, public, listed = found
    line = next((ln for _, ln in raised if ln), None)
    tensor = crash_tensor(source, line, names) if line else None
    if line and size == "n":
        line = _with_number(source, line, public)
    at = f" at line {line}" if line else ""
    computing = f" (computing d{tensor})" if tensor else ""
    code = "hardcoded_batch" if size == "n" else "hardcoded_size"
    text = (f"backward raised{at}{computing} for {size} = {listed} and ran for {size} = "
            f"{public}: {HINTS[code]}")
    return Crash(Finding(code, text), line, tensor,
                 f"it ran for {size} = {public}: {HINTS[code]}")


def _with_number(source: str, line: int, number: int) -> int:
    """Return the line of the crash or of a block around it that holds ``number``.

    ``for k in range(32):`` is the line to fix, not ``ix = t.Xb[k, j]`` inside its loop.
    """
    lines = source.splitlines()
    if not 1 <= line <= len(lines):
        return line
    literal = re.compile(rf"(?<![\w.]){number}(?![\w.])")
    for index in _enclosing(lines, line - 1):
        if literal.search(lines[index].split("#", 1)[0]):
            return index + 1
    return line


def crash_tensor(source: str, line: int, names: Sequence[str]) -> str | None:
    """Return the graded tensor computed by ``line``: assigned on it, or in its loop.

    ``for k in range(32):`` raises on a line inside the loop (``ix = t.Xb[k, j]``), not on
    the assignment of ``dC``: the enclosing blocks (up to the function's own) are searched
    too, innermost first.
    """
    lines = source.splitlines()
    if not 1 <= line <= len(lines):
        return None
    for start in _enclosing(lines, line - 1):
        indent = _indent(lines[start])
        block = [lines[start]]
        if lines[start].rstrip().endswith(":"):
            for text in lines[start + 1:]:
                if text.strip() and _indent(text) <= indent:
                    break
                block.append(text)
        for text in block:
            for name in names:
                if assignment_line(text, name) == 1:
                    return name
    return None


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip())


def _enclosing(lines: Sequence[str], index: int) -> list[int]:
    """Return ``index`` and the block headers above it, innermost first, short of a def."""
    out = [index]
    indent = _indent(lines[index])
    for i in range(index - 1, -1, -1):
        text = lines[i]
        if not text.strip() or _indent(text) >= indent:
            continue
        if text.lstrip().startswith(("def ", "async def ", "class ")):
            break
        if text.rstrip().endswith(":"):
            out.append(i)
        indent = _indent(text)
    return out


def conclude(names: Sequence[str], cases: Sequence[Case],
             verdicts: Sequence[tuple[Case, Mapping[str, CaseVerdict]]],
             source: str, crash: Crash | None = None,
             ran: Sequence[Case] = ()) -> dict[str, Diagnosis]:
    """Fold per-case verdicts into one :class:`Diagnosis` per failing tensor.

    A tensor is a root cause when it is wrong on its own in any case; locally correct when
    it is right given its upstream in every case. A root cause that is right in every case
    sharing the public case's size and wrong in every other is a hard-coded size — a
    pattern no single case shows. In a case where ``backward`` raised, nothing was
    returned: the tensor assigned on the crashing line carries the crash's finding, the
    others say what the cases that ran showed.
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
        elif RAISED in kinds:
            if crash is not None and crash.tensor == name:
                diag.root_cause, diag.locally_correct = True, False
                diag.finding, diag.line = crash.finding, crash.line
                out[name] = diag
                continue
            diag.note = _raised_note(name, per_case, ran)
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
            if diag.finding.pattern:
                diag.line = first_line(source, diag.finding.pattern)
            else:
                diag.line = assignment_line(source, diag.finding.at or name)
        out[name] = diag
    return out


def _raised_note(name: str, per_case: Sequence[tuple[Case, CaseVerdict]],
                 ran: Sequence[Case]) -> str:
    """Say what the cases that ran showed of a tensor that a crash kept from being graded."""
    failed = {c.name for c, v in per_case if v.kind != RAISED}
    crashed = [c for c, v in per_case if v.kind == RAISED]
    sizes = " and ".join(str(n) for n in sorted({c.n for c in crashed}))
    if ran and not failed:
        ran_sizes = " and ".join(str(n) for n in sorted({c.n for c in ran}))
        return (f"d{name} was right in the {len(ran)} case{'s' if len(ran) > 1 else ''} that "
                f"ran (n = {ran_sizes}); it has no points because backward raised for "
                f"n = {sizes} (see the message)")
    return f"d{name} was not returned for n = {sizes}: backward raised there (see the message)"


def _hardcoded(name: str, wrong: set[str], cases: Sequence[Case]) -> Finding | None:
    """Explain "wrong exactly where a size differs from the public case's" as a hard-coding."""
    found = _size_differs(wrong, cases)
    if found is None:
        return None
    size, public, listed = found
    if size == "n":
        return Finding("hardcoded_batch", f"d{name} is right for n = {public} and wrong for "
                       f"n = {listed}: {HINTS['hardcoded_batch']}")
    return Finding("hardcoded_size", f"d{name} is right for {size} = {public} and wrong for "
                   f"{size} = {listed}: {HINTS['hardcoded_size']}")


#: What to do about a hard-coded size, said alike for a wrong value and for a crash.
HINTS = {"hardcoded_batch": "a hard-coded batch size? Use t.n (or a tensor's shape) instead "
                            "of the number",
         "hardcoded_size": "a hard-coded size? Read it from a tensor's shape instead"}


def _size_differs(wrong: set[str], cases: Sequence[Case]) -> tuple[str, Any, str] | None:
    """Return ``(size, public value, other values)`` when ``wrong`` is exactly the cases
    whose ``size`` (n, or an exercise parameter) differs from the public case's."""
    if len(cases) < 2 or cases[0].name in wrong:
        return None
    public = cases[0]
    sizes = {"n": lambda c: c.n, **{k: (lambda c, k=k: c.params.get(k)) for k in public.params}}
    for size, get in sizes.items():
        differs = {c.name for c in cases if get(c) != get(public)}
        if differs and differs == wrong:
            others = sorted({get(c) for c in cases if c.name in differs})
            return size, get(public), " and ".join(str(v) for v in others)
    return None
