"""Reverse-mode autograd, spelled directly: ``loss.backward()``, ``torch.autograd.grad``,
``torch.autograd.backward``, and the engine object they all end in."""

from __future__ import annotations

import pytest

from tests.adversarial.test_autograd_helpers import HEAD, assert_no_autograd, assert_violation

CASES = {
    # the classic: make logits a leaf, compute the loss, call backward, return .grad
    "requires-grad-then-backward": ("""
def backward(t):
    logits = t.logits.clone().requires_grad_()
    loss = F.cross_entropy(logits, t.Yb)
    loss.backward()
    return {"logits": logits.grad}
""", ["requires_grad_()", "line 5"]),
    # .backward() is the first autograd call here (t.loss has no graph)
    "tensor-backward": ("""
def backward(t):
    t.loss.backward()
    return {"logits": t.logits.grad}
""", ["Tensor.backward()", "line 5"]),
    "autograd-grad": ("""
def backward(t):
    (g,) = torch.autograd.grad(t.loss, [t.logits])
    return {"logits": g}
""", ["torch.autograd.grad()"]),
    "autograd-grad-imported": ("""
from torch.autograd import grad as g_of
def backward(t):
    return {"logits": g_of(t.loss, t.logits)[0]}
""", ["torch.autograd.grad()"]),
    "autograd-backward": ("""
def backward(t):
    torch.autograd.backward([t.loss])
    return {"logits": t.logits.grad}
""", ["torch.autograd.backward()"]),
    "engine-object": ("""
from torch.autograd.variable import Variable
def backward(t):
    Variable._execution_engine.run_backward((t.loss,), (torch.ones(()),), False, False,
                                            (t.logits,), True, False)
    return {"logits": t.logits.grad}
""", ["autograd engine", "run_backward"]),
    "engine-run-backward": ("""
def backward(t):
    torch.autograd.graph._engine_run_backward((t.loss,), (torch.ones(()),), False, False,
                                             (t.logits,), allow_unreachable=True)
    return {"logits": t.logits.grad}
""", ["autograd engine"]),
    "new-engine": ("""
def backward(t):
    eng = torch._C._ImperativeEngine()
    return {"logits": eng.run_backward((t.loss,), (torch.ones(()),), False, False,
                                       (t.logits,), True, False)[0]}
""", ["autograd engine", "_ImperativeEngine"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_reverse_mode_is_a_violation(sandbox, name: str) -> None:
    src, words = CASES[name]
    assert_violation(sandbox, HEAD + src, *words)


def test_checkpoint_gets_nothing(sandbox) -> None:
    """torch.utils.checkpoint imports torch._dynamo on first use, whose frame-evaluation hooks
    the sandbox refuses: the call fails before any autograd could run."""
    src = HEAD + ("import torch.utils.checkpoint as cp\n\ndef backward(t):\n"
                  "    out = cp.checkpoint(lambda x: F.cross_entropy(x, t.Yb), t.logits,"
                  " use_reentrant=False)\n"
                  "    return {'logits': torch.autograd.grad(out, t.logits)[0]}\n")
    assert_no_autograd(sandbox, src, "not available in the grading sandbox")
