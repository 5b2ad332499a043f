"""A residual connection around a linear + tanh branch."""

from __future__ import annotations

from typing import Any

import torch

from exercises.layers import _norms
from grader import kit

NAMES = ("x", "W", "b", "hpre", "h", "out")


class Residual(kit.Exercise):
    id = "layers/residual"
    title = "Residual connection"
    version = 1
    description = """\
Backprop through a residual block: a small branch (linear layer, then tanh) whose output is
added back to its own input.

```python
hpre = x @ W + b                            # (n, C)  W: (C, C), b: (C,)
h = torch.tanh(hpre)                        # (n, C)
out = x + h                                 # (n, C)  the skip connection
```

`t` holds every tensor above (`t.x`, `t.W`, `t.b`, `t.hpre`, `t.h`, `t.out`), the
upstream gradient `t.dout` of shape `(n, C)` and the int `t.n`. Return
`{"h": dh, "hpre": dhpre, "W": dW, "b": db, "x": dx}`, each of its tensor's shape. `x`
reaches `out` along two paths — the skip and the branch — and its gradient is the **sum** of
both.

Hidden cases use other seeds, another `n` and another width `C`: read sizes from `t`, never
hard-code them.
"""
    starter = kit.pack_text(__package__, "starters", "residual.py")
    graded = kit.graded("h", "hpre", "W", "b", "x")
    inputs = (*NAMES, "dout", "n")
    #: Public first; hidden cases change the seed, then n (7, 24) and C (20, 6).
    case_specs = (
        kit.CaseSpec(n=16, params={"C": 12}),
        kit.CaseSpec(n=16, params={"C": 12}),
        kit.CaseSpec(n=7, params={"C": 20}),
        kit.CaseSpec(n=24, params={"C": 6}),
    )

    def forward(self, case: kit.Case) -> dict[str, Any]:
        """Build the residual block of one case with autograd (tanh not saturated)."""
        g = kit.generator(case.seed)
        n, C = case.n, case.params["C"]
        x = torch.randn((n, C), generator=g).requires_grad_()
        W, b = (v.requires_grad_() for v in _norms.linear(g, C, C))
        hpre = x @ W + b
        h = torch.tanh(hpre)
        out = x + h
        loss, dout = kit.upstream_loss(out, g)
        return {**kit.keep(locals(), NAMES), "dout": dout, "loss": loss, "n": n}


EXERCISE = Residual
