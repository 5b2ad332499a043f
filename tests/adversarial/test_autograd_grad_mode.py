"""Re-enabling grad mode (the harness runs student code with grad mode off) to build a graph:
``with torch.enable_grad()``, ``torch.set_grad_enabled(True)``, ``inference_mode(False)``,
the C setter, decorators."""

from __future__ import annotations

import pytest

from tests.adversarial.test_autograd_helpers import HEAD, assert_graded, assert_violation

GRAPH = ("        logits = t.logits.detach().clone().requires_grad_()\n"
         "        F.cross_entropy(logits, t.Yb).backward()\n"
         "    return {'logits': logits.grad}\n")

CASES = {
    "enable-grad": ("    with torch.enable_grad():\n" + GRAPH,
                    ["grad mode", "torch.enable_grad", "line 5"]),
    "set-grad-enabled-ctx": ("    with torch.set_grad_enabled(True):\n" + GRAPH,
                             ["grad mode", "set_grad_enabled"]),
    "set-grad-enabled-call": ("    torch.set_grad_enabled(True)\n    if True:\n" + GRAPH,
                              ["grad mode"]),
    "c-setter": ("    torch._C._set_grad_enabled(True)\n    if True:\n" + GRAPH,
                 ["grad mode"]),
    "grad-mode-module": ("    from torch.autograd import grad_mode\n"
                         "    with grad_mode.enable_grad():\n" + GRAPH, ["grad mode"]),
    "inference-mode-false": ("    with torch.inference_mode(False):\n" + GRAPH,
                             ["inference_mode(False)"]),
    "inference-mode-c": ("    torch._C._InferenceMode(False).__enter__()\n    if True:\n" + GRAPH,
                         ["grad mode"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_reenabling_grad_mode_is_a_violation(sandbox, name: str) -> None:
    body, words = CASES[name]
    assert_violation(sandbox, HEAD + "\ndef backward(t):\n" + body, *words)


def test_enable_grad_decorator(sandbox) -> None:
    src = HEAD + ("\n@torch.enable_grad()\ndef helper(x, y):\n"
                  "    x = x.detach().requires_grad_()\n"
                  "    F.cross_entropy(x, y).backward()\n    return x.grad\n\n"
                  "def backward(t):\n    return {'logits': helper(t.logits, t.Yb)}\n")
    assert_violation(sandbox, src, "grad mode")


def test_no_grad_and_inference_mode_are_fine(sandbox) -> None:
    """Turning grad mode *off* again, or reading it, is harmless."""
    src = HEAD + ("\ndef backward(t):\n"
                  "    assert not torch.is_grad_enabled()\n"
                  "    with torch.no_grad():\n"
                  "        d = F.softmax(t.logits, 1)\n"
                  "    with torch.inference_mode():\n"
                  "        d = d.clone()\n"
                  "    with torch.set_grad_enabled(False):\n"
                  "        d[range(t.n), t.Yb] -= 1\n"
                  "    torch.set_grad_enabled(False)\n"
                  "    return {'logits': d / t.n}\n")
    assert_graded(sandbox, src)
