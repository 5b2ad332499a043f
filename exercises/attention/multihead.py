"""Multi-head causal self-attention: heads by view/transpose, softmax fused, output projection."""

from __future__ import annotations

from typing import Any

import torch

from exercises.attention import common
from grader import kit
from grader.kit import Case, Exercise

#: Graded tensors in backward order: the output projection's factors, the head level
#: (softmax in one formula), the split into heads undone, the projections and x.
GRADED = ("y", "Wo", "heads", "att", "vh", "masked", "scores", "qh", "kh", "q", "k", "v",
          "Wq", "Wk", "Wv", "x")

#: The named tensors of the forward pass, in forward order (all handed to the student).
FORWARD = ("q", "k", "v", "qh", "kh", "vh", "scores", "masked", "att", "heads", "y", "out")


class MultiHead(Exercise):
    id = "attention/multihead"
    title = "Multi-head causal self-attention with an output projection"
    version = 1
    description = """\
Backprop by hand through multi-head causal self-attention (nanoGPT's
`CausalSelfAttention`, with three separate projections and no biases). The heads are made
by `view` and `transpose`, the softmax is one `torch.softmax` (its gradient is one formula)
and the heads are put side by side again before the output projection `Wo`. The upstream
gradient is given: `t.dout = dloss/dout`.

```python
q = x @ Wq                                              # (B, T, C)
k = x @ Wk                                              # (B, T, C)
v = x @ Wv                                              # (B, T, C)
qh = q.view(B, T, n_head, hs).transpose(1, 2)           # (B, n_head, T, hs)
kh = k.view(B, T, n_head, hs).transpose(1, 2)           # (B, n_head, T, hs)
vh = v.view(B, T, n_head, hs).transpose(1, 2)           # (B, n_head, T, hs)
scores = qh @ kh.transpose(-2, -1) * hs**-0.5           # (B, n_head, T, T)
masked = scores.masked_fill(tril == 0, float('-inf'))   # (B, n_head, T, T)
att = torch.softmax(masked, dim=-1)                     # (B, n_head, T, T)
heads = att @ vh                                        # (B, n_head, T, hs)
y = heads.transpose(1, 2).reshape(B, T, C)              # (B, T, C)
out = y @ Wo                                            # (B, T, C)
```

`t` holds `x` (B, T, C), `Wq`, `Wk`, `Wv`, `Wo` (C, C), every tensor above, `tril` (T, T),
`dout` (B, T, C) and the sizes `t.B`, `t.T`, `t.C`, `t.n_head`, `t.hs` (`C = n_head * hs`).
Return a dict from forward names to gradients (`{"y": dy, ...}`), each of exactly the
forward tensor's shape: 16 tensors, one point each. Hidden cases use other seeds and other
`B`, `T`, `C`, `n_head` and head sizes: use `t`'s sizes and shapes, never numbers.

**float64.** Everything is float64 (`t`'s tensors and the gradients you return: build new
tensors with `torch.zeros_like(...)`, not `torch.zeros(...)`, which is float32). The softmax
gradient is a small difference of larger terms, carried through batched matmuls, the head
split and four projections; in float64 every correct formulation agrees with autograd to
~1e-13, so the tolerance can be tight:
`max|yours − autograd| ≤ 1e-9 + 1e-6 · max|autograd|`.
"""
    starter = kit.pack_text(__package__, "starters", "multihead.py")
    graded = kit.graded(*GRADED)
    inputs = ("x", "Wq", "Wk", "Wv", "Wo", *FORWARD, "tril", "dout", "B", "T", "C",
              "n_head", "hs")
    case_specs = common.multihead_specs()
    dtype = common.DTYPE
    rtol = common.RTOL
    atol = common.ATOL

    def forward(self, case: Case) -> dict[str, Any]:
        """Build the layer for ``case``: weights scaled by C**-0.5 (unit-variance q, k, v,
        scores ~N(0, 1), a softmax far from saturated)."""
        g = kit.generator(case.seed)
        B, T, C, n_head = case.n, case.params["T"], case.params["C"], case.params["n_head"]
        hs = C // n_head
        if hs * n_head != C or hs != case.params["hs"]:
            raise ValueError(f"C = {C} must be n_head = {n_head} times hs = {hs}")
        x = common.randn(g, B, T, C).requires_grad_()
        Wq, Wk, Wv, Wo = (common.randn(g, C, C, scale=C**-0.5).requires_grad_()
                          for _ in "qkvo")
        tril = common.causal_mask(T)
        q = x @ Wq
        k = x @ Wk
        v = x @ Wv
        qh = q.view(B, T, n_head, hs).transpose(1, 2)
        kh = k.view(B, T, n_head, hs).transpose(1, 2)
        vh = v.view(B, T, n_head, hs).transpose(1, 2)
        scores = qh @ kh.transpose(-2, -1) * hs**-0.5
        masked = scores.masked_fill(tril == 0, float("-inf"))
        att = torch.softmax(masked, dim=-1)
        heads = att @ vh
        y = heads.transpose(1, 2).reshape(B, T, C)
        out = y @ Wo
        loss, dout = kit.upstream_loss(out, g)
        fwd = kit.keep(locals(), ("x", "Wq", "Wk", "Wv", "Wo", *FORWARD, "tril", "dout"))
        fwd.update(B=B, T=T, C=C, n_head=n_head, hs=hs, loss=loss)
        return fwd


EXERCISE = MultiHead
