"""Monkeypatching the judge: the submission replaces torch.allclose, torch.equal, Tensor.__eq__,
Tensor.__sub__, Tensor.abs, max, isfinite … inside the child, then returns a wrong gradient.
The comparison runs in the parent, whose torch is untouched: still judged wrong."""

from __future__ import annotations

import pytest
import torch

from tests.adversarial.attack_helpers import assert_survives, ex2, grade_quick

TORCH_PATCHES = """
zeros = lambda self, *a, **k: torch.zeros(())
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
torch.isclose = lambda a, b, *x, **k: torch.ones(a.shape, dtype=torch.bool)
torch.testing.assert_close = lambda *a, **k: None
torch.isfinite = lambda a: torch.ones(a.shape, dtype=torch.bool)
torch.Tensor.__eq__ = lambda self, other: True
torch.Tensor.__ne__ = lambda self, other: False
torch.Tensor.__sub__ = lambda self, other: torch.zeros(())
torch.Tensor.__rsub__ = lambda self, other: torch.zeros(())
torch.Tensor.abs = zeros
torch.Tensor.max = zeros
torch.Tensor.amax = zeros
torch.Tensor.norm = zeros
torch.abs = lambda a, *x, **k: torch.zeros(())
torch.sub = lambda *a, **k: torch.zeros(())
math.isclose = lambda *a, **k: True
"""
BUILTIN_PATCHES = """
builtins.abs = lambda x: 0
builtins.max = lambda *a, **k: 0
builtins.isinstance = lambda *a: True
"""


def indented(code: str) -> str:
    return "".join("    " + line + "\n" for line in code.strip().splitlines())


HEADER = "import builtins, math\n"
WHEN = {
    # The wrong answer (-d / t.n: the sign is flipped) is computed before patching.
    "torch-at-import": ex2(header=HEADER + TORCH_PATCHES, ret="{'logits': -d / t.n}"),
    "torch-in-backward": ex2(header=HEADER, before="    wrong = torch.zeros(t.n, 27)\n"
                             + indented(TORCH_PATCHES), ret="{'logits': wrong}"),
    # Patching builtins breaks the harness itself: the child dies, nothing is graded.
    "builtins": ex2(header=HEADER + BUILTIN_PATCHES, ret="{'logits': -d / t.n}"),
}


@pytest.mark.parametrize("when", list(WHEN))
def test_patched_judge_still_says_wrong(sandbox, when: str) -> None:
    originals = (torch.allclose, torch.equal, torch.Tensor.__eq__, torch.Tensor.__sub__,
                 torch.Tensor.abs)
    result = grade_quick(sandbox, WHEN[when])
    assert result.score == 0, result.message
    assert result.status in ("graded", "error"), result.message
    if result.status == "graded":
        (tensor,) = result.tensors
        assert tensor.status == "wrong", (tensor.status, tensor.message)
        assert tensor.max_abs_diff is not None and tensor.max_abs_diff > 1e-3
    # Nothing leaked into this (the grader's) process.
    assert originals == (torch.allclose, torch.equal, torch.Tensor.__eq__,
                         torch.Tensor.__sub__, torch.Tensor.abs)
    assert_survives(sandbox)
