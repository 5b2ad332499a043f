"""LayerNorm over the last dimension, written out step by step (float64)."""

from __future__ import annotations

from typing import Any

import torch

from exercises.layers import _norms
from grader import kit

NAMES = ("x", "gain", "bias", "mean", "diff", "var", "rstd", "xhat", "out")


class LayerNorm(kit.Exercise):
    id = "layers/layernorm"
    title = "LayerNorm, step by step"
    version = 1
    description = f"""\
Backprop through a LayerNorm written out line by line, as `nn.LayerNorm` computes it: each
row of `x` is normalised over its **last** dimension (the `C` features), with the *biased*
variance (divide by `C`, not `C - 1`) and `eps = 1e-5`.

```python
mean = x.mean(-1, keepdim=True)             # (n, 1)
diff = x - mean                             # (n, C)
var = (diff**2).mean(-1, keepdim=True)      # (n, 1)  biased, as nn.LayerNorm
rstd = (var + 1e-5)**-0.5                   # (n, 1)
xhat = diff * rstd                          # (n, C)  normalized
out = gain * xhat + bias                    # (n, C)  gain, bias: (C,)
```

`t` holds every tensor above (`t.x`, `t.gain`, `t.bias`, `t.mean`, `t.diff`, `t.var`,
`t.rstd`, `t.xhat`, `t.out`), the upstream gradient `t.dout` of shape `(n, C)` and the ints
`t.n`, `t.C`. Return `{{"xhat": dxhat, "gain": dgain, "bias": dbias, "rstd": drstd,
"var": dvar, "diff": ddiff, "mean": dmean, "x": dx}}`, each of its tensor's shape.
Remember that `diff` feeds two lines and `x` two as well.

Hidden cases use other seeds, another batch size `n` and another width `C`: read sizes from
`t`, never hard-code them.

**float64.** `t`'s tensors are float64 and so must your gradients be. In float32, rounding
alone moves these gradients by up to ~4e-7 relative, so the tolerance would have to be ~1e-4
— and a real mistake hides under that: dropping `eps` from the derivative of `rstd`
(`var**-1.5` for `(var + 1e-5)**-1.5`) changes the gradients by only ~1e-5 relative. In
float64 every correct formulation (stepwise, fused, einsum) matches autograd to ~1e-15, so
the tolerance is tight: pass when `max|d − r| ≤ {_norms.ATOL64:g} + {_norms.RTOL64:g} ·
max|r|`.
"""
    starter = kit.pack_text(__package__, "starters", "layernorm.py")
    graded = kit.graded("xhat", "gain", "bias", "rstd", "var", "diff", "mean", "x")
    inputs = (*NAMES, "dout", "n", "C")
    #: Public first; hidden cases change the seed, then n (7, 24) and C (20, 5).
    case_specs = (
        kit.CaseSpec(n=16, params={"C": 12}),
        kit.CaseSpec(n=16, params={"C": 12}),
        kit.CaseSpec(n=7, params={"C": 20}),
        kit.CaseSpec(n=24, params={"C": 5}),
    )
    dtype = torch.float64
    rtol = _norms.RTOL64
    atol = _norms.ATOL64

    def forward(self, case: kit.Case) -> dict[str, Any]:
        """Build the LayerNorm of one case with autograd (rows never constant)."""
        g = kit.generator(case.seed)
        n, C = case.n, case.params["C"]
        x = _norms.features(g, (n, C), self.dtype).requires_grad_()
        gain, bias = (p.requires_grad_() for p in _norms.gain_bias(g, C, self.dtype))
        mean = x.mean(-1, keepdim=True)
        diff = x - mean
        var = (diff**2).mean(-1, keepdim=True)
        rstd = (var + _norms.EPS) ** -0.5
        xhat = diff * rstd
        out = gain * xhat + bias
        loss, dout = kit.upstream_loss(out, g)
        return {**kit.keep(locals(), NAMES), "dout": dout, "loss": loss, "n": n, "C": C}


EXERCISE = LayerNorm
