"""Building a graph starts with a tensor that requires grad: ``requires_grad_()``,
``x.requires_grad = True``, ``requires_grad=True`` on a factory, ``nn.Parameter``, modules
with parameters, the legacy ``Variable``."""

from __future__ import annotations

import pytest

from tests.adversarial.test_autograd_helpers import HEAD, assert_graded, assert_violation

REST = ("    loss = F.cross_entropy(x, t.Yb)\n    loss.backward()\n"
        "    return {'logits': x.grad}\n")

CASES = {
    "requires-grad-method": ("    x = t.logits.detach().requires_grad_(True)\n",
                             ["requires_grad_()"]),
    "requires-grad-attribute": ("    x = t.logits.clone()\n    x.requires_grad = True\n",
                                ["requires_grad = True"]),
    "setattr-requires-grad": ("    x = t.logits.clone()\n    setattr(x, 'requires_grad', 1)\n",
                              ["requires_grad = True"]),
    "zeros-requires-grad": ("    x = torch.zeros(t.logits.shape, requires_grad=True)\n",
                            ["torch.zeros", "requires_grad=True"]),
    "tensor-requires-grad": ("    x = torch.tensor(t.logits.tolist(), requires_grad=True)\n",
                             ["torch.tensor", "requires_grad=True"]),
    "empty-like-requires-grad": ("    x = torch.empty_like(t.logits, requires_grad=True)\n",
                                 ["torch.empty_like", "requires_grad=True"]),
    "new-zeros-requires-grad": ("    x = t.logits.new_zeros(t.logits.shape, requires_grad=True)\n",
                                ["Tensor.new_zeros", "requires_grad=True"]),
    "parameter": ("    x = torch.nn.Parameter(t.logits.clone())\n", ["Parameter"]),
    "module-with-parameters": ("    lin = torch.nn.Linear(t.logits.shape[1], 1)\n"
                               "    x = t.logits\n", ["Parameter"]),
    "variable": ("    x = torch.autograd.Variable(t.logits, requires_grad=True)\n",
                 ["Variable"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_requires_grad_is_a_violation(sandbox, name: str) -> None:
    first, words = CASES[name]
    assert_violation(sandbox, HEAD + "\ndef backward(t):\n" + first + REST, *words)


def test_requires_grad_false_is_fine(sandbox) -> None:
    src = HEAD + ("\ndef backward(t):\n"
                  "    assert t.logits.requires_grad is False\n"
                  "    d = torch.zeros(t.logits.shape, requires_grad=False)\n"
                  "    d += F.softmax(t.logits, 1)\n"
                  "    d.requires_grad_(False)\n"
                  "    d.requires_grad = False\n"
                  "    d[range(t.n), t.Yb] -= 1\n"
                  "    p = torch.nn.Parameter(d, requires_grad=False)\n"
                  "    return {'logits': p.data / t.n}\n")
    assert_graded(sandbox, src)
