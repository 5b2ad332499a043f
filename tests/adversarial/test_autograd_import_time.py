"""Autograd at import time (module level, class bodies, decorators, default arguments), before
``backward`` is ever called: the file is not even loaded."""

from __future__ import annotations

import pytest

from tests.adversarial.test_autograd_helpers import HEAD, assert_violation

TAIL = "\ndef backward(t):\n    return {'logits': t.logits * 0}\n"

CASES = {
    "module-level-grad": ("x = torch.ones(3)\nGRAD = torch.autograd.grad(x.sum(), x)\n",
                          ["torch.autograd.grad()", "line 4"]),
    "module-level-grad-mode": ("torch.set_grad_enabled(True)\n", ["grad mode", "line 3"]),
    "module-level-parameter": ("W = torch.nn.Parameter(torch.zeros(3))\n", ["Parameter"]),
    "module-level-requires-grad": ("W = torch.zeros(3, requires_grad=True)\n",
                                   ["requires_grad=True"]),
    "class-body": ("class Helper:\n    g = torch.func.grad(lambda x: (x * x).sum())\n"
                   "    v = g(torch.ones(3))\n", ["torch.func.grad()"]),
    "default-argument": ("def helper(x=torch.ones(2).requires_grad_()):\n    return x\n",
                         ["requires_grad_()"]),
    "decorator": ("def deco(f):\n    torch.autograd.backward(torch.ones(()))\n    return f\n\n"
                  "@deco\ndef helper():\n    pass\n", ["torch.autograd.backward()"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_import_time_autograd_is_a_violation(sandbox, name: str) -> None:
    header, words = CASES[name]
    result = assert_violation(sandbox, HEAD + header + TAIL, *words)
    assert "while loading" not in result.message
