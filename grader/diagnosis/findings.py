"""What a diagnosis says about one tensor, and how that is told in plain words.

A :class:`Finding` pairs a stable ``code`` (counted by instructor analytics, never reworded)
with the sentence a student reads. The codes are the bug classes of the test corpus.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Codes of a whole-tensor constant factor: linear, so it may come from any gradient upstream.
FACTOR_CODES = frozenset({"scale_1_over_n", "bessel", "sign", "factor_2", "constant_factor"})

#: Stable fingerprint codes and what each means (docs, analytics legends, the API).
CODES: dict[str, str] = {
    "scale_1_over_n": "a missing or doubled 1/n (×n or ÷n)",
    "bessel": "Bessel's correction mixed up: 1/n against 1/(n−1)",
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
    "hardcoded_batch": "a hard-coded batch size",
    "hardcoded_size": "a hard-coded tensor size",
    "nan": "NaN or infinite values made here",
    "wrong_type": "not a float32 torch.Tensor",
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


def times(factor: float, n: int) -> tuple[str, str] | None:
    """Name a constant factor in terms of the batch size ``n``: ``(code, phrase)`` or None."""
    if n <= 1:
        return None
    candidates = [
        (n, "scale_1_over_n", f"n = {n} times too big: a 1/n is missing"),
        (1 / n, "scale_1_over_n", f"n = {n} times too small: divided by n once too often"),
        ((n - 1) / n, "bessel", "(n−1)/n times the right value: 1/n used where Bessel's "
                                "1/(n−1) belongs"),
        (n / (n - 1), "bessel", "n/(n−1) times the right value: 1/(n−1) used where 1/n "
                                "belongs"),
        (-1.0, "sign", "the right value with the sign flipped"),
        (2.0, "factor_2", "twice the right value (a factor of 2 too many)"),
        (0.5, "factor_2", "half the right value (a factor of 2 missing)"),
        (-float(n), "scale_1_over_n", f"−n = −{n} times the right value: a 1/n is missing "
                                      "and the sign is flipped"),
    ]
    for value, code, phrase in candidates:
        # Tighter than the residual check: Bessel factors of neighbouring n differ by 1e-3.
        if abs(factor - value) <= 2e-4 * abs(value):
            return code, phrase
    return None
