"""What a diagnosis says about one tensor, and how that is told in plain words.

A :class:`Finding` pairs a stable ``code`` (counted by instructor analytics, never reworded)
with the sentence a student reads. The codes are the bug classes of the test corpus.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations
from typing import Any

#: Codes of a whole-tensor constant factor: linear, so it may come from any gradient upstream.
FACTOR_CODES = frozenset({"scale_1_over_n", "bessel", "sign", "factor_2", "constant_factor"})

#: Stable fingerprint codes and what each means (docs, analytics legends, the API).
CODES: dict[str, str] = {
    "scale_1_over_n": "a missing or doubled 1/n (×n or ÷n), n any size of the case (the "
                      "batch, a sequence length, a width, their product)",
    "bessel": "Bessel's correction mixed up: 1/n against 1/(n−1), n any size of the case",
    "sign": "the sign is flipped (×−1)",
    "factor_2": "off by a factor of 2 (a power rule's 2, or one too many)",
    "constant_factor": "off by another constant factor",
    "transpose": "the transpose of the right gradient",
    "missing_keepdim": "summed without keepdim=True",
    "wrong_sum_dim": "summed over the wrong dimension",
    "not_summed": "a broadcast dimension not summed",
    "shape": "another shape mistake",
    "overwrite_branch": "one branch of a two-branch node missing (= instead of +=)",
    "embedding_duplicates": "embedding gradient drops repeated tokens",
    "partial": "right only on some rows or columns",
    "tanh_wrong_tensor": "tanh's derivative taken on its input instead of its output",
    "derivative_wrong_tensor": "a local derivative (exp, log, power) written with the wrong "
                               "tensor",
    "hardcoded_batch": "a hard-coded batch size (the case's n)",
    "hardcoded_size": "a hard-coded tensor size (any other size of the case)",
    "nan": "NaN or infinite values made here",
    "wrong_type": "not a torch.Tensor of the exercise's float dtype (float32 or float64)",
    "missing_key": "missing from the returned dict",
    "aliased": "two returned gradients are one tensor (no .clone()), and an in-place op "
               "changed both",
    "inplace_input": "an in-place change to one of t's tensors, read by a later line",
    "constant_offset": "the right gradient plus a constant (an accumulator not started at "
                       "zero)",
    "not_broadcast": "a gradient not broadcast back to its tensor's full shape",
    "not_filled": "returned as None (not filled in yet)",
    "unclassified": "wrong on its own line; no known pattern matched",
}


@dataclass(frozen=True)
class Finding:
    """One recognised mistake: a stable code and the sentence a student reads."""

    code: str
    text: str
    #: The tensor whose own line most likely holds the mistake (an ungraded intermediate in
    #: fused exercises, e.g. ``hpreact`` behind a wrong ``dW1``); None means the tensor itself.
    at: str | None = None
    #: False when the evidence cannot tell this tensor's line from an upstream one (a
    #: constant factor in a fused exercise): no line is pointed at then.
    located: bool = True
    #: A regular expression for the line to point at, when that is not an assignment of
    #: the tensor itself (``dhprebn = dbndiff`` for an alias, ``x = t.probs`` for a change
    #: of t's tensors); the first matching line is named.
    pattern: str | None = None

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unknown fingerprint code {self.code!r}")


@dataclass
class Diagnosis:
    """The verdict on one graded tensor over all cases."""

    #: True: wrong, and wrong even given the student's own upstream gradients.
    root_cause: bool = False
    #: True: right given the student's own upstream gradients in every case (an inherited
    #: error, or correct); False: wrong locally somewhere; None: nothing to judge (missing).
    locally_correct: bool | None = None
    finding: Finding | None = None
    #: Earns carry-forward points: locally correct in every case, with an upstream gradient
    #: that showed the method (not zeros or NaN).
    credit: bool = False
    #: Plain words for an inherited error ("correct given your dprobs; fix … first").
    note: str | None = None
    #: 1-based line of the submission that most likely holds the mistake.
    line: int | None = None

    @property
    def code(self) -> str | None:
        """Return the fingerprint code, if a finding was made."""
        return self.finding.code if self.finding else None

    def text(self) -> str | None:
        """Return the sentence shown to the student (finding, line pointer, or note)."""
        if self.finding is None:
            return self.note
        if self.line is not None:
            return f"{self.finding.text} (likely line {self.line})"
        return self.finding.text


#: A case's sizes by name (``n``, the exercise's parameters, the ints the student reads).
Sizes = Mapping[str, int]


def case_sizes(n: int, params: Mapping[str, int] = {}, fwd: Mapping[str, Any] = {}) -> Sizes:
    """Return the sizes a factor may be named after: ``n``, every parameter, every python
    int of the forward pass (what the student reads in ``t``), each once by name."""
    sizes: dict[str, int] = {"n": n}
    for source in (params, fwd):
        for name, value in source.items():
            if type(value) is int and name not in sizes:
                sizes[name] = value
    return sizes


def _named_sizes(sizes: Sizes) -> dict[int, list[str]]:
    """Return every size value > 1 with the names that make it: single sizes, then products
    of two and of three of them (``n·T`` for a mean over a batch of sequences)."""
    single = [(name, v) for name, v in sizes.items() if v > 1]
    out: dict[int, list[str]] = {}
    for r in (1, 2, 3):
        for combo in combinations(single, r):
            value = math.prod(v for _, v in combo)
            out.setdefault(value, []).append("·".join(name for name, _ in combo))
    return out


def times(factor: float, sizes: int | Sizes) -> tuple[str, str] | None:
    """Name a constant factor in terms of the case's sizes: ``(code, phrase)`` or None.

    ``sizes`` is the batch size ``n`` alone or every size of the case (:func:`case_sizes`):
    a mean may be over the batch, over a sequence, or over every element, so ×k names the
    size k is, or the product of sizes it is (``n·T = 64 times too big``). A factor that two
    readings of different kinds explain (×2 where a size is 2) is said as it is, with the
    code ``unclassified``: the grader does not guess which mistake was made.
    """
    if isinstance(sizes, int):
        if sizes <= 1:
            return None
        sizes = {"n": sizes}
    matches: list[tuple[str, str]] = []
    for k, names in _named_sizes(sizes).items():
        label = " or ".join(names)
        inv = " or ".join(f"1/{_paren(name)}" for name in names)
        # Bessel's factors, said per name: (n−1)/n, (n·T−1)/(n·T).
        less = " or ".join(f"({name}−1)/{_paren(name)}" for name in names)
        more = " or ".join(f"{_paren(name)}/({name}−1)" for name in names)
        one = " or ".join(f"1/{_paren(name)}" for name in names)
        minus = " or ".join(f"1/({name}−1)" for name in names)
        size = f"{label} = {k}"
        singles = [name for name in names if "·" not in name]
        root = " or ".join(f"√{name}" for name in singles)
        for value, code, phrase in (
                (k, "scale_1_over_n", f"{size} times too big: a {inv} is missing"),
                (1 / k, "scale_1_over_n", f"{size} times too small: divided by {label} once "
                                          "too often"),
                ((k - 1) / k, "bessel", f"{less} times the right value: {one} used where "
                                        f"Bessel's {minus} belongs"),
                (k / (k - 1), "bessel", f"{more} times the right value: {minus} used where "
                                        f"{one} belongs"),
                (-float(k), "scale_1_over_n", f"−{label} = −{k} times the right value: a "
                                              f"{inv} is missing and the sign is flipped"),
                # An attention scale 1/√hs: square roots of single sizes only.
                (math.sqrt(k) if singles else math.nan, "constant_factor",
                 f"{root} = {math.sqrt(k):.4g} times too big: a 1/({root}) scale is missing"),
                (1 / math.sqrt(k) if singles else math.nan, "constant_factor",
                 f"{root} = {math.sqrt(k):.4g} times too small: scaled by 1/({root}) once "
                 "too often")):
            if names == ["n"] and code == "scale_1_over_n" and value == k:
                phrase = f"n = {k} times too big: a 1/n is missing"
            matches.extend([(code, phrase)] if _near(factor, value) else [])
    for value, code, phrase in (
            (-1.0, "sign", "the right value with the sign flipped"),
            (2.0, "factor_2", "twice the right value (a factor of 2 too many)"),
            (0.5, "factor_2", "half the right value (a factor of 2 missing)")):
        if _near(factor, value):
            matches.append((code, phrase))
    codes = {code for code, _ in matches}
    if not matches:
        return None
    if len(codes) == 1:
        return matches[0]
    return "unclassified", (f"{factor:.4g} times the right value — "
                            + "; or ".join(phrase for _, phrase in matches))


def _near(factor: float, value: float) -> bool:
    # Tighter than the residual check: Bessel factors of neighbouring n differ by 1e-3.
    return abs(factor - value) <= 2e-4 * abs(value)


def _paren(name: str) -> str:
    return f"({name})" if "·" in name else name
