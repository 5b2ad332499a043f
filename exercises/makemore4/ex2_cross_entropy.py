"""Exercise 2: the cross-entropy backward pass in one formula."""

from __future__ import annotations

from typing import Any

from exercises.makemore4 import common
from exercises.makemore4.starter import read
from grader.kit import Case, Exercise


class CrossEntropy(Exercise):
    id = "makemore4/ex2"
    title = "Cross-entropy backward in one formula"
    version = 2  # 2: degenerate batches (identical contexts) are drawn again
    description = """\
`loss = F.cross_entropy(logits, Yb)`. Skip the eight atomic steps of exercise 1: derive
`dlogits` analytically and write it as one expression. `t` holds `logits`, `Yb`, `n` and
`loss`. Return `{"logits": dlogits}` of shape `(n, 27)`.

Hint: the gradient is the softmax of the logits, minus one at the correct class, divided by
the batch size.
"""
    starter = read("ex2_cross_entropy.py")
    graded = common.graded("logits")
    inputs = ("logits", "Yb", "n", "loss")
    case_specs = common.CASE_SPECS

    def forward(self, case: Case) -> dict[str, Any]:
        """Build the forward pass (the loss is the lecture's step-by-step cross-entropy)."""
        return common.forward_case(case)


EXERCISE = CrossEntropy
