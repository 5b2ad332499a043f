"""example/swiglu: backprop through a SwiGLU feed-forward block, intermediates graded.

The block of LLaMA-style transformers: ``out = (silu(x @ W1) * (x @ W3)) @ W2``. It has no
loss of its own, so :func:`grader.kit.upstream_loss` draws a random upstream gradient
``dout`` and hands it to the student: every gradient below ``out`` is then a real
vector-Jacobian product (an all-ones ``dout`` would hide transposes and wrong sums).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from grader.kit import Case, CaseSpec, Exercise, generator, graded, keep, pack_text, upstream_loss

#: The named tensors of the forward pass, as the student sees them in ``t``.
FORWARD = ("x", "W1", "W3", "W2", "h1", "h3", "act", "gate")


class SwiGLU(Exercise):
    id = "example/swiglu"
    title = "SwiGLU feed-forward block"
    version = 1
    description = """\
Backprop through a SwiGLU block (the feed-forward layer of LLaMA-style transformers), one
step at a time. Given the upstream gradient `t.dout`, return the gradient of every tensor
below it: `{"gate", "W2", "act", "h3", "h1", "W3", "W1", "x"}`.

```python
h1 = x @ W1            # (n, h)
h3 = x @ W3            # (n, h)
act = F.silu(h1)       # (n, h)   silu(z) = z * sigmoid(z)
gate = act * h3        # (n, h)
out = gate @ W2        # (n, d)
```

`t` holds `x`, `W1`, `W3`, `W2`, `h1`, `h3`, `act`, `gate`, `dout` and `n`. Hidden cases
change the batch size and both widths, so read sizes from the tensors.
"""
    starter = pack_text(__package__, "starters", "swiglu.py")
    graded = graded("gate", "W2", "act", "h3", "h1", "W3", "W1", "x")
    inputs = (*FORWARD, "dout", "n")
    #: Public case first; then the public sizes under another seed, then each size changed on
    #: its own (n, d, h): a number copied from the public case fails, and the case it fails
    #: in tells the diagnosis which size it was. No two sizes are equal in any case, so a
    #: missing transpose is a shape error at once.
    case_specs = (
        CaseSpec(n=16, params={"d": 10, "h": 24}),
        CaseSpec(n=16, params={"d": 10, "h": 24}),
        CaseSpec(n=7, params={"d": 10, "h": 24}),
        CaseSpec(n=16, params={"d": 6, "h": 24}),
        CaseSpec(n=16, params={"d": 10, "h": 20}),
    )

    def forward(self, case: Case) -> dict[str, Any]:
        """Build the block for one case: its own weights, input and upstream gradient."""
        g = generator(case.seed)
        n, d, h = case.n, case.params["d"], case.params["h"]
        x = torch.randn((n, d), generator=g).requires_grad_()
        W1 = (torch.randn((d, h), generator=g) / d**0.5).requires_grad_()
        W3 = (torch.randn((d, h), generator=g) / d**0.5).requires_grad_()
        W2 = (torch.randn((h, d), generator=g) / h**0.5).requires_grad_()
        h1 = x @ W1
        h3 = x @ W3
        act = F.silu(h1)
        gate = act * h3
        out = gate @ W2
        loss, dout = upstream_loss(out, g)
        return {**keep(locals(), FORWARD), "out": out, "dout": dout, "loss": loss, "n": n}


EXERCISE = SwiGLU
