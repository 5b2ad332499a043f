"""torch.func (functorch) transforms: grad, grad_and_value, vjp, jacrev, jvp, jacfwd, hessian,
linearize — however imported."""

from __future__ import annotations

import pytest

from tests.adversarial.test_autograd_helpers import HEAD, assert_violation

LOSS = "    loss = lambda x: F.cross_entropy(x, t.Yb)\n"

CASES = {
    "grad": (LOSS + "    return {'logits': torch.func.grad(loss)(t.logits)}\n",
             ["torch.func.grad()"]),
    "grad-imported": ("    from torch.func import grad\n" + LOSS
                      + "    return {'logits': grad(loss)(t.logits)}\n", ["torch.func.grad()"]),
    "grad-and-value": (LOSS + "    g, _ = torch.func.grad_and_value(loss)(t.logits)\n"
                       "    return {'logits': g}\n", ["torch.func.grad_and_value()"]),
    "vjp": (LOSS + "    _, fn = torch.func.vjp(loss, t.logits)\n"
            "    return {'logits': fn(torch.ones(()))[0]}\n", ["torch.func.vjp()"]),
    "jacrev": (LOSS + "    return {'logits': torch.func.jacrev(loss)(t.logits)}\n",
               ["torch.func.jacrev()"]),
    "jacfwd": (LOSS + "    return {'logits': torch.func.jacfwd(loss)(t.logits)}\n",
               ["torch.func.jacfwd()"]),
    "jvp": (LOSS + "    d = torch.zeros_like(t.logits)\n"
                   "    _, g = torch.func.jvp(loss, (t.logits,), (d,))\n"
                   "    return {'logits': d + g}\n", ["torch.func.jvp()"]),
    "hessian": (LOSS + "    torch.func.hessian(loss)(t.logits)\n"
                "    return {'logits': t.logits}\n", ["torch.func.hessian()"]),
    "linearize": (LOSS + "    _, fn = torch.func.linearize(loss, t.logits)\n"
                  "    return {'logits': t.logits + fn(t.logits)}\n", ["torch.func.linearize()"]),
    # the internal modules the public names come from
    "functorch-internal": ("    from torch._functorch import apis\n" + LOSS
                           + "    return {'logits': apis.grad(loss)(t.logits)}\n",
                           ["torch.func.grad()"]),
    "functorch-impl": ("    from torch._functorch import eager_transforms as et\n" + LOSS
                       + "    return {'logits': et.grad_impl(loss, (0,), False, (t.logits,),"
                         " {})}\n", ["torch.func", "functorch"]),
    "functorch-c-layer": ("    lvl = torch._C._functorch._grad_increment_nesting()\n"
                          "    return {'logits': t.logits}\n", ["functorch"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_torch_func_is_a_violation(sandbox, name: str) -> None:
    body, words = CASES[name]
    assert_violation(sandbox, HEAD + "\ndef backward(t):\n" + body, *words)


def test_functorch_package(sandbox) -> None:
    """The stand-alone ``functorch`` package re-exports the same transforms."""
    src = HEAD + ("import functorch\n\ndef backward(t):\n"
                  "    return {'logits': functorch.grad(lambda x: F.cross_entropy(x, t.Yb))"
                  "(t.logits)}\n")
    assert_violation(sandbox, src, "torch.func.grad()")
