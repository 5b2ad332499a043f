"""Forward-mode AD: torch.autograd.forward_ad (dual levels, make_dual), the C entry points, and
switching forward grad back on."""

from __future__ import annotations

import pytest

from tests.adversarial.test_autograd_helpers import HEAD, assert_violation

CASES = {
    "dual-level": ("""
import torch.autograd.forward_ad as fwAD
def backward(t):
    out = torch.zeros_like(t.logits)
    with fwAD.dual_level():
        x = fwAD.make_dual(t.logits, torch.ones_like(t.logits))
        out += fwAD.unpack_dual(F.cross_entropy(x, t.Yb)).tangent
    return {"logits": out}
""", ["forward-mode AD", "dual_level"]),
    "make-dual": ("""
from torch.autograd.forward_ad import make_dual
def backward(t):
    return {"logits": make_dual(t.logits, t.logits)}
""", ["forward-mode AD", "make_dual"]),
    "enter-dual-level": ("""
def backward(t):
    level = torch._C._enter_dual_level()
    return {"logits": torch._make_dual(t.logits, t.logits, level=level)}
""", ["forward-mode AD"]),
    "make-dual-op": ("""
def backward(t):
    return {"logits": torch._make_dual(t.logits, t.logits, level=0)}
""", ["forward-mode AD", "torch._make_dual"]),
    "fwd-grad-switch": ("""
import torch.autograd.forward_ad as fwAD
def backward(t):
    with fwAD._set_fwd_grad_enabled(True):
        pass
    return {"logits": t.logits}
""", ["forward-mode AD"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_forward_ad_is_a_violation(sandbox, name: str) -> None:
    src, words = CASES[name]
    assert_violation(sandbox, HEAD + src, *words)
