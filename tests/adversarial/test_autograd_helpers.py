"""Helpers of the autograd-guard suite (test_autograd_*.py), plus in-process unit tests of the
parts of grader/sandbox/guard.py that do not need a sandbox: the source scan and the check of
returned tensors.

Every sandbox test grades a submission of makemore4/ex2 that tries to get the gradient from
autograd, asserts status ``violation``, score 0 and a message naming what was used, then checks
that the same sandbox still grades the correct answer to full marks.
"""

from __future__ import annotations

import torch

from grader import get_exercise, grade
from grader.result import GradeResult
from grader.sandbox import Sandbox, guard

EX2 = get_exercise("makemore4/ex2")

#: The correct ex2 answer, exactly as the issue writes it.
CORRECT = """\
import torch
import torch.nn.functional as F


def backward(t):
    dlogits = F.softmax(t.logits, 1)
    dlogits[range(t.n), t.Yb] -= 1
    dlogits /= t.n
    return {"logits": dlogits}
"""

#: The usual imports of a submission.
HEAD = "import torch\nimport torch.nn.functional as F\n"


def grade_ex2(sandbox: Sandbox, src: str) -> GradeResult:
    """Grade ``src`` as makemore4/ex2 in ``sandbox``."""
    return grade(EX2, src, sandbox=sandbox, student="autograd-guard", secret=b"autograd")


def assert_still_grades(sandbox: Sandbox) -> None:
    """The sandbox grades the correct answer to full marks."""
    after = grade_ex2(sandbox, CORRECT)
    assert after.status == "graded", after.message
    assert after.score == after.max_score, after.message


def assert_violation(sandbox: Sandbox, src: str, *words: str) -> GradeResult:
    """Grade ``src``: status violation, score 0, a message containing every word in ``words``
    (case-insensitive); then the sandbox still grades the correct answer to full marks."""
    result = grade_ex2(sandbox, src)
    assert result.status == "violation", (result.status, result.message, result.stdout)
    assert result.score == 0
    assert all(t.points == 0 and not t.passed for t in result.tensors)
    assert result.message.startswith("autograd is off limits"), result.message
    low = result.message.lower()
    for word in words:
        assert word.lower() in low, result.message
    assert_still_grades(sandbox)
    return result


def assert_no_autograd(sandbox: Sandbox, src: str, *words: str) -> GradeResult:
    """For features the sandbox refuses without calling it cheating (threads, TorchScript,
    new processes, compiled extension modules): the submission gets nothing out of them —
    no points — and the message says why."""
    result = grade_ex2(sandbox, src)
    assert result.score == 0, (result.status, result.message)
    assert result.status in ("error", "violation"), (result.status, result.message)
    low = result.message.lower()
    for word in words:
        assert word.lower() in low, result.message
    assert_still_grades(sandbox)
    return result


def assert_graded(sandbox: Sandbox, src: str) -> GradeResult:
    """``src`` is judged normally and earns full marks (no false positive)."""
    result = grade_ex2(sandbox, src)
    assert result.status == "graded", (result.status, result.message, result.stdout)
    assert result.score == result.max_score, result.message
    return result


# -- in-process unit tests (no sandbox, the guards are not installed here) ------------------


def test_scan_source_hints() -> None:
    src = ("import torch\nfrom torch.func import grad\n"
           "def backward(t):\n    x = t.logits.requires_grad_()\n    x.sum().backward()\n"
           "    g = getattr(torch, 'auto' + 'grad')\n")
    hints = guard.scan_source(src)
    for hint in (".backward(", "torch.func", "requires_grad", "getattr("):
        assert hint in hints, hints


def test_scan_source_ignores_comments_and_plain_names() -> None:
    src = ("import torch\n# the backward pass by hand, no autograd, no .backward()\n"
           "def backward(t):\n    grad = t.logits * 0  # dgrad\n    return {'logits': grad}\n")
    assert guard.scan_source(src) == []


def test_problems_flags_a_returned_graph() -> None:
    x = torch.ones(3, requires_grad=True)
    with torch.enable_grad():
        y = x * 2
    found = guard.problems({"logits": y})
    assert found and "grad_fn" in found[0] and "'logits'" in found[0], found
    assert any("requires grad" in f for f in guard.problems({"logits": x}))
    assert guard.problems({"logits": y.detach()}) == []
    assert guard.problems(y) != []


def test_problems_is_clean_for_plain_results() -> None:
    assert guard.problems({"logits": torch.zeros(2, 3), "extra": "text"}) == []
    assert guard.problems(None) == []
    assert guard.problems([torch.zeros(1)]) == []
