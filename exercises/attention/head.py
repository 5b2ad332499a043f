"""One causal self-attention head, backprop through every step (softmax written out)."""

from __future__ import annotations

from typing import Any

from exercises.attention import common
from grader import kit
from grader.kit import Case, Exercise

#: Graded tensors in backward order: out's two factors, the softmax chain, the scores'
#: factors, the projections and finally x, which three branches reach.
GRADED = ("att", "v", "att_sum_inv", "att_sum", "att_exp", "masked", "scores", "q", "k",
          "Wq", "Wk", "Wv", "x")

#: The named tensors of the forward pass, in forward order (all handed to the student).
FORWARD = ("q", "k", "v", "scores", "masked", "att_exp", "att_sum", "att_sum_inv", "att",
           "out")


class Head(Exercise):
    id = "attention/head"
    title = "One causal self-attention head, step by step"
    version = 1
    description = """\
Backprop by hand through one causal self-attention head (nanoGPT's `Head`), one line at a
time as in makemore part 4. The softmax is written out (exp, sum, reciprocal, product), and
the layer's upstream gradient is given: `t.dout = dloss/dout`.

```python
q = x @ Wq                                              # (B, T, hs)
k = x @ Wk                                              # (B, T, hs)
v = x @ Wv                                              # (B, T, hs)
scores = q @ k.transpose(-2, -1) * hs**-0.5             # (B, T, T)
masked = scores.masked_fill(tril == 0, float('-inf'))   # (B, T, T)
att_exp = masked.exp()                                  # (B, T, T)
att_sum = att_exp.sum(-1, keepdim=True)                 # (B, T, 1)
att_sum_inv = att_sum**-1                               # (B, T, 1)
att = att_exp * att_sum_inv                             # (B, T, T)
out = att @ v                                           # (B, T, hs)
```

`t` holds `x` (B, T, C), `Wq`, `Wk`, `Wv` (C, hs), every tensor above, `tril` (T, T),
`dout` (B, T, hs) and the sizes `t.B`, `t.T`, `t.C`, `t.hs`. Return a dict from forward
names to gradients (`{"att": datt, ...}`), each of exactly the forward tensor's shape: 13
tensors, one point each. Hidden cases use other seeds and other `B`, `T`, `C` and head
sizes: use `t`'s sizes and shapes, never hard-coded numbers.

**float64.** Everything is float64 (`t`'s tensors and the gradients you return: build new
tensors with `torch.zeros_like(...)`, not `torch.zeros(B, T, T)`, which is float32). The
softmax gradient is a small difference of larger terms, carried through a batched matmul and
three projections; in float64 every correct formulation agrees with autograd to ~1e-13, so
the tolerance can be tight: `max|yours − autograd| ≤ 1e-9 + 1e-6 · max|autograd|`.
"""
    starter = kit.pack_text(__package__, "starters", "head.py")
    graded = kit.graded(*GRADED)
    inputs = ("x", "Wq", "Wk", "Wv", *FORWARD, "tril", "dout", "B", "T", "C", "hs")
    case_specs = common.head_specs()
    dtype = common.DTYPE
    rtol = common.RTOL
    atol = common.ATOL

    def forward(self, case: Case) -> dict[str, Any]:
        """Build the head for ``case``: weights scaled by C**-0.5 so the scores are ~N(0, 1)
        and the softmax is far from saturated (no attention weight is ~0 or ~1 but the
        first row's, which the mask forces to 1)."""
        g = kit.generator(case.seed)
        B, T, C, hs = case.n, case.params["T"], case.params["C"], case.params["hs"]
        x = common.randn(g, B, T, C).requires_grad_()
        Wq, Wk, Wv = (common.randn(g, C, hs, scale=C**-0.5).requires_grad_() for _ in "qkv")
        tril = common.causal_mask(T)
        q = x @ Wq
        k = x @ Wk
        v = x @ Wv
        scores = q @ k.transpose(-2, -1) * hs**-0.5
        masked = scores.masked_fill(tril == 0, float("-inf"))
        att_exp = masked.exp()
        att_sum = att_exp.sum(-1, keepdim=True)
        att_sum_inv = att_sum**-1
        att = att_exp * att_sum_inv
        out = att @ v
        loss, dout = kit.upstream_loss(out, g)
        fwd = kit.keep(locals(), ("x", "Wq", "Wk", "Wv", *FORWARD, "tril", "dout"))
        fwd.update(B=B, T=T, C=C, hs=hs, loss=loss)
        return fwd


EXERCISE = Head
