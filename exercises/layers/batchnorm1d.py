"""BatchNorm1d over a batch of sequences (makemore part 5's WaveNet case), step by step
(float64)."""

from __future__ import annotations

from typing import Any

import torch

from exercises.layers import _norms
from grader import kit

NAMES = ("x", "gamma", "beta", "bnmean", "bndiff", "bndiff2", "bnvar", "bnvar_inv", "bnraw",
         "out")


class BatchNorm1d(kit.Exercise):
    id = "layers/batchnorm1d"
    title = "BatchNorm1d over (n, T, C), step by step"
    version = 1
    description = f"""\
Backprop through the `BatchNorm1d` of makemore part 5 (the WaveNet), fed a 3-D batch
`(n, T, C)`: each of the `C` channels is normalised over **both** the batch and the time
dimension, i.e. over the `m = n * T` vectors. As in the lecture's code
(`x.var((0, 1), keepdim=True)`, unbiased by default) the variance is Bessel-corrected:
divide by `m - 1`. Written out the way makemore part 4 writes its batchnorm:

```python
m = n * T
bnmean = 1/m * x.sum((0, 1), keepdim=True)                # (1, 1, C)
bndiff = x - bnmean                                       # (n, T, C)
bndiff2 = bndiff**2                                       # (n, T, C)
bnvar = 1/(m - 1) * bndiff2.sum((0, 1), keepdim=True)     # (1, 1, C)  Bessel, m - 1
bnvar_inv = (bnvar + 1e-5)**-0.5                          # (1, 1, C)
bnraw = bndiff * bnvar_inv                                # (n, T, C)
out = gamma * bnraw + beta                                # (n, T, C)  gamma, beta: (C,)
```

`t` holds every tensor above (`t.x`, `t.gamma`, `t.beta`, `t.bnmean`, … `t.out`), the
upstream gradient `t.dout` of shape `(n, T, C)` and the ints `t.n`, `t.T`. Return
`{{"bnraw": dbnraw, "gamma": dgamma, "beta": dbeta, "bnvar_inv": dbnvar_inv,
"bnvar": dbnvar, "bndiff2": dbndiff2, "bndiff": dbndiff, "bnmean": dbnmean, "x": dx}}`, each
of its tensor's shape — mind `(1, 1, C)` against `(C,)`.

Hidden cases use other seeds and other `n`, `T` and `C`: read sizes from `t`, never
hard-code them.

**float64.** `t`'s tensors are float64 and so must your gradients be. In float32, rounding
alone moves these gradients by up to ~4e-7 relative, so the tolerance would have to be ~1e-4
— and a real mistake hides under that: dropping `eps` from the derivative of `bnvar_inv`
(`bnvar**-1.5` for `(bnvar + 1e-5)**-1.5`) changes the gradients by only ~1e-5 relative. In
float64 every correct formulation (stepwise, fused, einsum) matches autograd to ~1e-15, so
the tolerance is tight: pass when `max|d − r| ≤ {_norms.ATOL64:g} + {_norms.RTOL64:g} ·
max|r|`.
"""
    starter = kit.pack_text(__package__, "starters", "batchnorm1d.py")
    graded = kit.graded("bnraw", "gamma", "beta", "bnvar_inv", "bnvar", "bndiff2", "bndiff",
                        "bnmean", "x")
    inputs = (*NAMES, "dout", "n", "T")
    #: Public first; hidden cases change the seed, then n (5, 12), T (6, 3) and C (16, 6).
    case_specs = (
        kit.CaseSpec(n=8, params={"T": 4, "C": 12}),
        kit.CaseSpec(n=8, params={"T": 4, "C": 12}),
        kit.CaseSpec(n=5, params={"T": 6, "C": 16}),
        kit.CaseSpec(n=12, params={"T": 3, "C": 6}),
    )
    dtype = torch.float64
    rtol = _norms.RTOL64
    atol = _norms.ATOL64

    def forward(self, case: kit.Case) -> dict[str, Any]:
        """Build the batchnorm of one case with autograd (channels of different scales)."""
        g = kit.generator(case.seed)
        n, T, C = case.n, case.params["T"], case.params["C"]
        # Per-channel scales and shifts: draw (C, n*T) rows, then lay channels last.
        x = _norms.features(g, (C, n * T), self.dtype).T.reshape(n, T, C).contiguous()
        x.requires_grad_()
        gamma, beta = (p.requires_grad_() for p in _norms.gain_bias(g, C, self.dtype))
        m = n * T
        bnmean = 1 / m * x.sum((0, 1), keepdim=True)
        bndiff = x - bnmean
        bndiff2 = bndiff**2
        bnvar = 1 / (m - 1) * bndiff2.sum((0, 1), keepdim=True)
        bnvar_inv = (bnvar + _norms.EPS) ** -0.5
        bnraw = bndiff * bnvar_inv
        out = gamma * bnraw + beta
        loss, dout = kit.upstream_loss(out, g)
        return {**kit.keep(locals(), NAMES), "dout": dout, "loss": loss, "n": n, "T": T}


EXERCISE = BatchNorm1d
