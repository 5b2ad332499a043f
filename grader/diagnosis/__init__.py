"""Feedback that teaches: root causes, bug fingerprints, error carried forward.

One wrong line in a backward pass makes every tensor after it wrong. Diagnosis separates the
tensor whose own line is wrong (the *root cause*) from those that only inherited the error,
by checking each against what it should be given the student's *own* upstream gradients
(:mod:`grader.diagnosis.case`), then names the kind of mistake (:mod:`.fingerprints`,
:mod:`.upstream`). Everything here is pure torch, run in the trusted process.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import torch

from grader.diagnosis.case import ABSENT, INHERITED, RAISED, ROOT, CaseDiagnosis, CaseVerdict
from grader.diagnosis.findings import CODES, Diagnosis, Finding, case_sizes
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
        #: The python ints of the forward pass (the sizes a student may read as ``t.<name>``).
        self.readable: set[str] = set()

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
        self.readable |= {k for k, v in fwd.items() if type(v) is int}
        if all(d.passed for d in diffs.values()):
            return
        # A root whose finding was ambiguous in its case (×2 where a size is 2) is
        # fingerprinted again: another case's sizes may tell the readings apart.
        explained = frozenset(n for _, v in self.verdicts for n, x in v.items()
                              if x.kind == ROOT and not _ambiguous(x.finding))
        usable = {k: v for k, v in student.items() if k in self.tolerances}
        sizes = case_sizes(case.n, case.params, fwd)
        judged = CaseDiagnosis(self.tolerances, fwd, ref, usable, misshaped, sizes,
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
        self.crash = crash_finding(cases, self.raised, source, list(self.tolerances),
                                   self.readable)
        return conclude(list(self.tolerances), cases, self.verdicts, source, self.crash,
                        self.ran, self.readable)


@dataclass(frozen=True)
class Crash:
    """A crash in some cases only, explained: the finding, and the tensor it is blamed on."""

    finding: Finding
    line: int | None
    #: The graded tensor whose assignment is the crashing line (None: not one tensor's).
    tensor: str | None
    #: The cause in a few words, for the summary that already quotes the error.
    summary: str
    #: The size the crash is told by (``n``, a parameter, ``n·T``), when one is.
    size: str | None = None


def crash_finding(cases: Sequence[Case], raised: Sequence[tuple[Case, int | None]],
                  source: str, names: Sequence[str],
                  readable: Collection[str] = ("n",)) -> Crash | None:
    """Name a crash that happens exactly in the cases whose size differs from the public one.

    ``dembcat.view(32, 3, 10)`` or ``for k in range(32)`` run for the public n = 32 and raise
    for any other n: the non-crashing form of the same slip (``-1.0/32``) is called a
    hard-coded batch size, so this one is too (any other size of the case: a hard-coded
    size). The tensor blamed is the one assigned on the crashing line, or inside the loop it
    opens. When several sizes change in exactly those cases and the code around the crash
    does not show which number was typed, nothing is named.
    """
    if not raised or len(raised) == len(cases):
        return None
    line = next((ln for _, ln in raised if ln), None)
    found = _size_differs({c.name for c, _ in raised}, cases, source,
                          _enclosing_lines(source, line) if line else [])
    if found is None:
        return None
    size, public, listed = found.size, found.public, found.listed
    if line and public is not None:
        # The number typed may sit on a line above the one that raised (torch.ones(n, 11)
        # broadcast further down): that line, and its tensor, are the ones to fix.
        line = _with_number(source, line, public)
    tensor = crash_tensor(source, line, names) if line else None
    at = f" at line {line}" if line else ""
    computing = f" (computing d{tensor})" if tensor else ""
    if size is None:
        text = (f"backward raised{at}{computing} exactly where {listed} differ from the "
                "public case's: a hard-coded size? Read sizes from the tensors' shapes")
        return Crash(Finding("unclassified", text), line, tensor,
                     f"it ran for the public case's sizes ({listed} differ where it raised): "
                     "a hard-coded size?", None)
    code = "hardcoded_batch" if size == "n" else "hardcoded_size"
    hint = _hint(code, size, readable)
    text = (f"backward raised{at}{computing} for {size} = {listed} and ran for {size} = "
            f"{public}: {hint}")
    return Crash(Finding(code, text), line, tensor, f"it ran for {size} = {public}: {hint}",
                 size)


def _enclosing_lines(source: str, line: int) -> list[int]:
    """Return ``line`` and the block headers around it (1-based), innermost first."""
    lines = source.splitlines()
    if not 1 <= line <= len(lines):
        return []
    return [i + 1 for i in _enclosing(lines, line - 1)]


def _with_number(source: str, line: int, number: int) -> int:
    """Return the line of the crash or of a block around it that holds ``number``.

    ``for k in range(32):`` is the line to fix, not ``ix = t.Xb[k, j]`` inside its loop.
    """
    lines = source.splitlines()
    if not 1 <= line <= len(lines):
        return line
    for index in _enclosing(lines, line - 1):
        if _literal(number).search(lines[index].split("#", 1)[0]):
            return index + 1
    for index in range(line - 2, -1, -1):  # nearest above, within the function
        text = lines[index]
        if text.lstrip().startswith(("def ", "async def ")):
            break
        if _literal(number).search(text.split("#", 1)[0]):
            return index + 1
    return line


def _literal(number: int) -> re.Pattern[str]:
    """Match ``number`` typed as a literal (``32``, ``32.0``, ``32.``), not inside a name
    or another number."""
    return re.compile(rf"(?<![\w.]){number}(?:\.0*)?(?![\w.])")


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
             ran: Sequence[Case] = (), readable: Collection[str] = ("n",)) \
        -> dict[str, Diagnosis]:
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
            diag.finding = _hardcoded(name, {c.name for c, _ in roots}, cases, source,
                                      readable) \
                or _first_named([v.finding for _, v in roots]) \
                or Finding("unclassified", f"d{name} is wrong even given your own upstream "
                           "gradients: the mistake is on this tensor's own line")
        elif RAISED in kinds:
            if crash is not None and crash.tensor == name:
                diag.root_cause, diag.locally_correct = True, False
                diag.finding, diag.line = crash.finding, crash.line
                out[name] = diag
                continue
            diag.note = _raised_note(name, per_case, ran, crash.size if crash else None)
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


def _ambiguous(finding: Finding | None) -> bool:
    return finding is not None and finding.code == "unclassified"


def _first_named(findings: Sequence[Finding | None]) -> Finding | None:
    """Return the first finding that names a class (an ``unclassified`` one only if none
    does): a case whose sizes made a factor ambiguous says less than one where they did not."""
    named = [f for f in findings if f is not None]
    return next((f for f in named if f.code != "unclassified"), named[0] if named else None)


def _raised_note(name: str, per_case: Sequence[tuple[Case, CaseVerdict]],
                 ran: Sequence[Case], size: str | None = None) -> str:
    """Say what the cases that ran showed of a tensor that a crash kept from being graded."""
    failed = {c.name for c, v in per_case if v.kind != RAISED}
    crashed = [c for c, v in per_case if v.kind == RAISED]
    if ran and not failed:
        ran_text, crashed_text = _cases_text(ran, crashed, size)
        return (f"d{name} was right in the {len(ran)} case{'s' if len(ran) > 1 else ''} that "
                f"ran ({ran_text}); it has no points because backward raised for "
                f"{crashed_text} (see the message)")
    _, crashed_text = _cases_text(ran, crashed, size)
    return f"d{name} was not returned for {crashed_text}: backward raised there (see the message)"


def _cases_text(ran: Sequence[Case], crashed: Sequence[Case],
               size: str | None = None) -> tuple[str, str]:
    """Tell two groups of cases apart by a size (``n = 32`` / ``n = 7 and 24``): ``size``
    (the crash's) if it does, else the first size of the case (n, then each parameter)
    whose values in the groups do not overlap; by name (``hidden case 2``) when none does."""
    every = [*ran, *crashed]
    keys = ["n", *dict.fromkeys(k for c in every for k in c.params)]
    if size in keys:
        keys.insert(0, keys.pop(keys.index(size)))
    for key in keys:
        ran_values = {_size(c, key) for c in ran}
        crashed_values = {_size(c, key) for c in crashed}
        if None not in ran_values | crashed_values and not ran_values & crashed_values:
            return (f"{key} = {_listed(ran_values)}", f"{key} = {_listed(crashed_values)}")
    return (", ".join(_case_name(c) for c in ran), ", ".join(_case_name(c) for c in crashed))


def _size(case: Case, key: str) -> Any:
    return case.n if key == "n" else case.params.get(key)


def _listed(values: Iterable[Any]) -> str:
    return " and ".join(str(v) for v in sorted(values))


def _case_name(case: Case) -> str:
    return case.name.replace("-", " case ")


def _hardcoded(name: str, wrong: set[str], cases: Sequence[Case], source: str = "",
               readable: Collection[str] = ("n",)) -> Finding | None:
    """Explain "wrong exactly where a size differs from the public case's" as a hard-coding.

    When several sizes change in exactly those cases, the number typed in the tensor's line
    (or anywhere in the submission) tells which; when nothing does, the finding says so
    without a class (``unclassified``): guessing would teach the wrong fix.
    """
    line = assignment_line(source, name) if source else None
    found = _size_differs(wrong, cases, source, [line] if line else [])
    if found is None:
        return None
    if found.size is None:
        return Finding("unclassified", f"d{name} is right for the public case's sizes and "
                       f"wrong wherever {found.listed} differ: a hard-coded size? Read sizes "
                       "from the tensors' shapes instead of typing numbers")
    size, public, listed = found.size, found.public, found.listed
    code = "hardcoded_batch" if size == "n" else "hardcoded_size"
    return Finding(code, f"d{name} is right for {size} = {public} and wrong for {size} = "
                   f"{listed}: {_hint(code, size, readable)}")


def _hint(code: str, size: str, readable: Collection[str]) -> str:
    """Say what to do about a hard-coded size, alike for a wrong value and for a crash."""
    if code == "hardcoded_batch":
        how = "Use t.n (or a tensor's shape)" if "n" in readable else \
            "Read it from a tensor's shape"
        return f"a hard-coded batch size? {how} instead of the number"
    also = f" (or t.{size})" if size in readable else ""
    return f"a hard-coded size? Read it from a tensor's shape{also} instead"


@dataclass(frozen=True)
class _Differs:
    """Which size differs from the public case's in exactly the wrong cases."""

    #: The size (``n`` or a parameter); None when several do and nothing tells them apart.
    size: str | None
    public: Any
    #: The size's other values ("7 and 24"), or the sizes' names when ambiguous.
    listed: str


def _size_differs(wrong: set[str], cases: Sequence[Case], source: str = "",
                  lines: Sequence[int] = ()) -> _Differs | None:
    """Return the size that differs from the public case's in exactly the ``wrong`` cases,
    with its public and other values.

    A size is ``n``, an exercise parameter, or the product of two (``n·T``: a mean's count
    over a batch of sequences). When several change in exactly those cases (a hidden case
    with another n *and* another T), the one whose public value is typed as a number in
    ``lines`` (the tensor's or the crash's line), else anywhere in ``source``, is the one —
    ``n`` when the batch size is among several typed; if nothing singles one out, ``size``
    is None (nothing is guessed).
    """
    if len(cases) < 2 or cases[0].name in wrong:
        return None
    public = cases[0]
    keys = ["n", *public.params]
    sizes = {k: (lambda c, k=k: _size(c, k)) for k in keys}
    for a, b in combinations(keys, 2):
        sizes[f"{a}·{b}"] = lambda c, a=a, b=b: _product(_size(c, a), _size(c, b))

    def matches(k: str) -> bool:
        differs = {c.name for c in cases if sizes[k](c) != sizes[k](public)}
        return bool(differs) and differs == wrong

    singles = [k for k in keys if matches(k)]
    products = [k for k in sizes if "·" in k and matches(k)]
    if len(singles) == 1:
        chosen: str | None = singles[0]
    else:
        chosen = _typed(singles, products, {k: sizes[k](public) for k in sizes}, source,
                        lines)
        if chosen is None and not singles and len(products) == 1:
            chosen = products[0]
    if chosen is None:
        if not singles and not products:
            return None
        return _Differs(None, None, " and ".join(singles or products))
    others = sorted({sizes[chosen](c) for c in cases if c.name in wrong},
                    key=lambda v: (not isinstance(v, int), v if isinstance(v, int) else 0))
    return _Differs(chosen, sizes[chosen](public), " and ".join(str(v) for v in others))


def _product(a: Any, b: Any) -> Any:
    return a * b if isinstance(a, int) and isinstance(b, int) else None


def _typed(singles: Sequence[str], products: Sequence[str], values: Mapping[str, Any],
           source: str, lines: Sequence[int]) -> str | None:
    """Return the size whose public value is typed in the submission (comments aside): in
    ``lines`` first, else anywhere. One single size typed is the one; several with ``n``
    among them are a hard-coded batch (``.view(8, 3, 4)``); else one product typed."""
    text = [line.split("#", 1)[0] for line in source.splitlines()]
    for where in ([text[i - 1] for i in lines if 1 <= i <= len(text)], text):
        found = _typed_in(singles, values, where)
        if len(found) == 1:
            return found[0]
        if "n" in found:
            return "n"
        if not found:
            found = _typed_in(products, values, where)
            if len(found) == 1:
                return found[0]
    return None


def _typed_in(keys: Sequence[str], values: Mapping[str, Any], text: Sequence[str]) -> list[str]:
    return [k for k in keys if isinstance(values[k], int)
            and any(_literal(values[k]).search(t) for t in text)]
