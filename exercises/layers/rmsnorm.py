"""RMSNorm over the last dimension, written out step by step (float64)."""

from __future__ import annotations

from typing import Any

import torch

from exercises.layers import _norms
from grader import kit

NAMES = ("x", "gain", "ms", "rrms", "xhat", "out")


class RMSNorm(kit.Exercise):
    id = "layers/rmsnorm"
    title = "RMSNorm, step by step"
    version = 1
    description = f"""\
Backprop through an RMSNorm (the LLaMA-style normalisation: no mean is subtracted, no bias)
over the last dimension of a `(n, T, C)` batch of sequences, with `eps = 1e-5`:

```python
ms = (x**2).mean(-1, keepdim=True)          # (n, T, 1)  mean square over the C features
rrms = (ms + 1e-5)**-0.5                    # (n, T, 1)  reciprocal root mean square
xhat = x * rrms                             # (n, T, C)
out = gain * xhat                           # (n, T, C)  gain: (C,)
```

`t` holds every tensor above (`t.x`, `t.gain`, `t.ms`, `t.rrms`, `t.xhat`, `t.out`), the
upstream gradient `t.dout` of shape `(n, T, C)` and the ints `t.n`, `t.T`, `t.C`. Return
`{{"xhat": dxhat, "gain": dgain, "rrms": drrms, "ms": dms, "x": dx}}`, each of its tensor's
shape. `x` feeds two lines; `gain` is shared by every position of every sequence.

Hidden cases use other seeds and other `n`, `T` and `C`: read sizes from `t`, never
hard-code them.

**float64.** `t`'s tensors are float64 and so must your gradients be. In float32, rounding
alone moves these gradients by up to ~4e-7 relative, so the tolerance would have to be ~1e-4
— and a real mistake hides under that: dropping `eps` from the derivative of `rrms`
(`ms**-1.5` for `(ms + 1e-5)**-1.5`) changes the gradients by only ~1e-5 relative. In
float64 every correct formulation (stepwise, fused, einsum) matches autograd to ~1e-15, so
the tolerance is tight: pass when `max|d − r| ≤ {_norms.ATOL64:g} + {_norms.RTOL64:g} ·
max|r|`.
"""
    starter = kit.pack_text(__package__, "starters", "rmsnorm.py")
    graded = kit.graded("xhat", "gain", "rrms", "ms", "x")
    inputs = (*NAMES, "dout", "n", "T", "C")
    #: Public first; hidden cases change the seed, then n (5, 10), T (6, 3) and C (20, 7).
    case_specs = (
        kit.CaseSpec(n=8, params={"T": 4, "C": 12}),
        kit.CaseSpec(n=8, params={"T": 4, "C": 12}),
        kit.CaseSpec(n=5, params={"T": 6, "C": 20}),
        kit.CaseSpec(n=10, params={"T": 3, "C": 7}),
    )
    dtype = torch.float64
    rtol = _norms.RTOL64
    atol = _norms.ATOL64

    def forward(self, case: kit.Case) -> dict[str, Any]:
        """Build the RMSNorm of one case with autograd (rows of different scales)."""
        g = kit.generator(case.seed)
        n, T, C = case.n, case.params["T"], case.params["C"]
        x = _norms.features(g, (n, T, C), self.dtype).requires_grad_()
        gain = _norms.gain_bias(g, C, self.dtype)[0].requires_grad_()
        ms = (x**2).mean(-1, keepdim=True)
        rrms = (ms + _norms.EPS) ** -0.5
        xhat = x * rrms
        out = gain * xhat
        loss, dout = kit.upstream_loss(out, g)
        return {**kit.keep(locals(), NAMES), "dout": dout, "loss": loss, "n": n, "T": T,
                "C": C}


EXERCISE = RMSNorm
