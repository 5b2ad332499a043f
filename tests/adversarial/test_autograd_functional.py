"""torch.autograd.functional: jacobian, vjp, jvp, hessian, hvp, vhp."""

from __future__ import annotations

import pytest

from tests.adversarial.test_autograd_helpers import HEAD, assert_violation

LOSS = "    loss = lambda x: F.cross_entropy(x, t.Yb)\n"
ONE = "torch.ones(())"
CASES = {
    "jacobian": "torch.autograd.functional.jacobian(loss, t.logits)",
    "vjp": f"torch.autograd.functional.vjp(loss, t.logits, {ONE})[1]",
    "jvp": "torch.autograd.functional.jvp(loss, t.logits, torch.ones_like(t.logits))[1]",
    "hessian": "torch.autograd.functional.hessian(loss, t.logits)",
    "hvp": "torch.autograd.functional.hvp(loss, t.logits, torch.ones_like(t.logits))[1]",
    "vhp": "torch.autograd.functional.vhp(loss, t.logits, torch.ones_like(t.logits))[1]",
}


@pytest.mark.parametrize("name", list(CASES))
def test_autograd_functional_is_a_violation(sandbox, name: str) -> None:
    src = HEAD + "\ndef backward(t):\n" + LOSS + f"    return {{'logits': {CASES[name]}}}\n"
    assert_violation(sandbox, src, f"torch.autograd.functional.{name}()")


def test_imported_by_name(sandbox) -> None:
    src = HEAD + ("from torch.autograd.functional import jacobian as J\n\ndef backward(t):\n"
                  + LOSS + "    return {'logits': J(loss, t.logits)}\n")
    assert_violation(sandbox, src, "torch.autograd.functional.jacobian()")
