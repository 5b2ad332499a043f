"""Returning a tensor that carries an autograd graph. Inside the sandbox no graph can be built
without the graph sensor seeing its first node; problems() also checks every returned tensor for
a grad_fn or requires_grad (tested in process in test_autograd_helpers.py)."""

from __future__ import annotations

from tests.adversarial.test_autograd_helpers import HEAD, assert_violation


def test_returning_a_graph_is_a_violation(sandbox) -> None:
    src = HEAD + ("\ndef backward(t):\n"
                  "    x = t.logits.clone()\n"
                  "    torch._C.TensorBase.requires_grad_(x)   # not the guarded method\n"
                  "    with torch.enable_grad():\n"
                  "        d = F.softmax(x, 1)\n"
                  "    return {'logits': d}\n")
    assert_violation(sandbox, src, "grad mode")


def test_returning_a_tensor_that_requires_grad_is_a_violation(sandbox) -> None:
    """The base-class method sets the flag without going through the guard on torch.Tensor;
    the returned tensor still gives it away."""
    src = HEAD + ("\ndef backward(t):\n"
                  "    d = F.softmax(t.logits, 1)\n"
                  "    d[range(t.n), t.Yb] -= 1\n"
                  "    d = d / t.n\n"
                  "    torch._C.TensorBase.requires_grad_(d)\n"
                  "    return {'logits': d}\n")
    assert_violation(sandbox, src, "returned tensor 'logits' requires grad")


def test_autograd_function_apply_builds_a_graph_node(sandbox) -> None:
    """A custom torch.autograd.Function creates a graph node even with grad mode off."""
    src = HEAD + ("\nclass Id(torch.autograd.Function):\n"
                  "    @staticmethod\n    def forward(ctx, x):\n        return x.clone()\n"
                  "    @staticmethod\n    def backward(ctx, g):\n        return g\n\n"
                  "def backward(t):\n    return {'logits': Id.apply(t.logits)}\n")
    assert_violation(sandbox, src, "autograd graph")
