"""The operator layer: JIT/dispatcher operators that run autograd natively
(``torch.ops.aten.set_grad_enabled``, ``aten::grad``, ``aten::backward``, ``aten::_backward``,
``aten::requires_grad_``, ``aten::_make_dual``), however they are resolved, and the obvious
spellings of PyTorch's own backward kernels (the exercise is to write those by hand; the
kernels stay reachable through torch.ops and torch._C._VariableFunctions, a documented
residual risk: they compute one local derivative, they do not run autograd)."""

from __future__ import annotations

import pytest

from tests.adversarial.test_autograd_helpers import HEAD, assert_graded, assert_violation

CASES = {
    "ops-set-grad-enabled": ("    torch.ops.aten.set_grad_enabled(True)\n",
                             ["torch.ops.aten.set_grad_enabled"]),
    "ops-grad": ("    torch.ops.aten.grad([t.loss], [t.logits])\n", ["torch.ops.aten.grad"]),
    "ops-backward": ("    torch.ops.aten.backward(t.loss)\n", ["torch.ops.aten.backward"]),
    "ops-underscore-backward": ("    torch.ops.aten._backward.default(t.loss, [t.logits])\n",
                                ["torch.ops.aten._backward"]),
    "ops-requires-grad": ("    torch.ops.aten.requires_grad_(t.logits)\n",
                          ["torch.ops.aten.requires_grad_"]),
    "ops-make-dual": ("    torch.ops.aten._make_dual(t.logits, t.logits, 0)\n",
                      ["torch.ops.aten._make_dual"]),
    "ops-getattr": ("    getattr(getattr(torch.ops, 'aten'), 'set_grad_' + 'enabled')(True)\n",
                    ["torch.ops.aten.set_grad_enabled"]),
    "jit-get-operation": ("    op, _ = torch._C._jit_get_operation('aten::set_grad_enabled')\n",
                          ["torch.ops.aten.set_grad_enabled"]),
    "operation-overload": ("    torch._C._get_operation_overload('aten::grad', '')\n",
                           ["torch.ops.aten.grad"]),
    "dispatcher-handle": ("    torch._C._dispatch_find_schema_or_throw('aten::_backward', '')\n",
                          ["torch.ops.aten._backward"]),
    # backward kernels
    "softmax-backward-kernel": ("    p = F.softmax(t.logits, 1)\n"
                                "    torch._softmax_backward_data(p, p, 1, p.dtype)\n",
                                ["backward kernel", "torch._softmax_backward_data"]),
}

FALLBACK = ("    d = F.softmax(t.logits, 1)\n    d[range(t.n), t.Yb] -= 1\n"
            "    return {'logits': d / t.n}\n")


@pytest.mark.parametrize("name", list(CASES))
def test_autograd_operators_are_violations(sandbox, name: str) -> None:
    body, words = CASES[name]
    assert_violation(sandbox, HEAD + "\ndef backward(t):\n" + body + FALLBACK, *words)


def test_ordinary_operators_still_work(sandbox) -> None:
    """torch.ops resolves every other operator as usual (through the guard's resolver)."""
    src = HEAD + ("\ndef backward(t):\n"
                  "    d = torch.ops.aten._softmax(t.logits, 1, False)\n"
                  "    d = torch.ops.aten.add.Tensor(d, torch.ops.aten.zeros_like(d))\n"
                  "    d[range(t.n), t.Yb] -= 1\n"
                  "    return {'logits': torch.ops.aten.div(d, t.n)}\n")
    assert_graded(sandbox, src)


@pytest.mark.xfail(strict=True, reason=(
    "residual risk: PyTorch's derivative kernels (aten::*_backward*) stay callable through "
    "torch.ops and torch._C._VariableFunctions, a static C type whose methods cannot be "
    "replaced; torch's own decompositions and vmap resolve them lazily, so torch.ops cannot "
    "refuse them either. They compute one local derivative (no graph, no engine) — the "
    "source scan hints at them, and a reviewer can spot them"))
@pytest.mark.parametrize("call", [
    "torch.ops.aten._softmax_backward_data(p, p, 1, p.dtype)",
    "torch._C._VariableFunctions._softmax_backward_data(p, p, 1, p.dtype)",
])
def test_backward_kernels_through_the_operator_layer(sandbox, call: str) -> None:
    src = HEAD + ("\ndef backward(t):\n    p = F.softmax(t.logits, 1)\n"
                  f"    {call}\n" + FALLBACK)
    assert_violation(sandbox, src, "backward kernel")
