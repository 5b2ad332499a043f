"""Catching the guard's exception and returning a fallback does not help: the violation is
reported to the grader the moment a guard trips, before the exception is raised, and the
child ends there. Clearing the guard's records or breaking the output streams changes nothing."""

from __future__ import annotations

import pytest

from tests.adversarial.test_autograd_helpers import HEAD, assert_violation

FALLBACK = ("    d = F.softmax(t.logits, 1)\n    d[range(t.n), t.Yb] -= 1\n"
            "    return {'logits': d / t.n}\n")

CASES = {
    "except-exception": ("    try:\n        g = torch.autograd.grad(t.loss, t.logits)[0]\n"
                         "        return {'logits': g}\n    except Exception:\n        pass\n",
                         ["torch.autograd.grad()"]),
    "except-baseexception": ("    try:\n        torch.set_grad_enabled(True)\n"
                             "    except BaseException:\n        pass\n", ["grad mode"]),
    "suppress": ("    import contextlib\n    with contextlib.suppress(Exception):\n"
                 "        t.logits.detach().requires_grad_()\n", ["requires_grad_()"]),
    "finally-return": ("    try:\n        torch.func.grad(lambda x: x.sum())(t.logits)\n"
                       "    finally:\n        d = F.softmax(t.logits, 1)\n"
                       "        d[range(t.n), t.Yb] -= 1\n"
                       "        return {'logits': d / t.n}\n", ["torch.func.grad()"]),
    "clear-the-records": ("    from grader.sandbox import guard\n"
                          "    try:\n        t.loss.backward()\n    except Exception:\n"
                          "        guard._VIOLATIONS.clear()\n"
                          "        guard.problems = lambda *a, **k: []\n", ["Tensor.backward()"]),
    "patch-the-harness": ("    import sys\n    child = sys.modules['grader.sandbox.child']\n"
                          "    child._stop_on_violation = lambda *a, **k: None\n"
                          "    child.guard = type(sys)('fake')\n"
                          "    child.guard.problems = lambda *a, **k: []\n"
                          "    try:\n        t.loss.backward()\n    except Exception:\n"
                          "        pass\n", ["Tensor.backward()"]),
    "broken-stdout": ("    import sys\n    class Boom:\n"
                      "        def write(self, s): raise SystemExit(0)\n"
                      "        def flush(self): raise SystemExit(0)\n"
                      "    sys.stdout = sys.stderr = Boom()\n"
                      "    try:\n        t.loss.backward()\n    except BaseException:\n"
                      "        pass\n", ["Tensor.backward()"]),
    "only-in-a-hidden-case": ("    if t.n != 32:\n        try:\n"
                              "            torch.autograd.grad(t.loss, t.logits)\n"
                              "        except Exception:\n            pass\n",
                              ["torch.autograd.grad()"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_caught_violation_is_still_a_violation(sandbox, name: str) -> None:
    body, words = CASES[name]
    assert_violation(sandbox, HEAD + "\ndef backward(t):\n" + body + FALLBACK, *words)
