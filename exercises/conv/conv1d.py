"""A 1-D convolution with stride and padding: the gradients of x, w and b."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from grader import kit
from grader.kit import Case, CaseSpec, Exercise

#: Public case, then hidden cases: another seed, then each size changed on its own pattern
#: of cases (N in hidden 2 and 5, C_in in 3, C_out in 2, L in 4 and 5, K in 4, stride in 2,
#: 4 and 5, padding in 3, 4 and 5), so a hard-coded stride or padding fails and the
#: diagnosis can tell which size was hard-coded. Strides never fall below the public 2, so a
#: hard-coded stride gives wrong values rather than a crash. Hidden 2 and 3 leave the last
#: input outside every window (its gradient is 0); hidden 5 has gaps (stride > K).
CASE_SPECS = (
    CaseSpec(n=3, params={"C_in": 4, "C_out": 5, "L": 12, "K": 3, "stride": 2, "padding": 1}),
    CaseSpec(n=3, params={"C_in": 4, "C_out": 5, "L": 12, "K": 3, "stride": 2, "padding": 1}),
    CaseSpec(n=2, params={"C_in": 4, "C_out": 6, "L": 12, "K": 3, "stride": 3, "padding": 1}),
    CaseSpec(n=3, params={"C_in": 3, "C_out": 5, "L": 12, "K": 3, "stride": 2, "padding": 0}),
    CaseSpec(n=3, params={"C_in": 4, "C_out": 5, "L": 11, "K": 5, "stride": 3, "padding": 2}),
    CaseSpec(n=4, params={"C_in": 4, "C_out": 5, "L": 10, "K": 3, "stride": 4, "padding": 0}),
)


class Conv1d(Exercise):
    id = "conv/conv1d"
    title = "Conv1d with stride and padding"
    version = 1
    description = """\
Backprop by hand through one 1-D convolution (PyTorch's `conv1d`, a cross-correlation)
with a stride and zero padding. The upstream gradient is given: `t.dout = dloss/dout`.

```python
out = F.conv1d(x, w, b, stride=stride, padding=padding)   # (N, C_out, L_out)
# out[n, o, l] = b[o] + sum_c sum_k w[o, c, k] * xp[n, c, l * stride + k]
# where xp = F.pad(x, (padding, padding)) and L_out = (L + 2*padding - K) // stride + 1
```

`t` holds `x` (N, C_in, L), `w` (C_out, C_in, K), `b` (C_out,), `out`, `dout`
(N, C_out, L_out) and the ints `t.N`, `t.stride`, `t.padding`. Return
`{"b": db, "w": dw, "x": dx}`, each of exactly its tensor's shape: 3 tensors, one point
each. Loops over the output positions, `Tensor.unfold` and the functions of
`torch.nn.functional` are all fine. Hidden cases change the seed, the batch, the channels,
`L`, `K`, the stride and the padding (some leave the last inputs outside every window,
some leave gaps between windows): read every size from `t` and the shapes.
"""
    starter = kit.pack_text(__package__, "starters", "conv1d.py")
    graded = kit.graded("b", "w", "x")
    inputs = ("x", "w", "b", "out", "dout", "N", "stride", "padding")
    case_specs = CASE_SPECS

    def forward(self, case: Case) -> dict[str, Any]:
        """Build the convolution for ``case`` (weights scaled by (C_in·K)**-0.5)."""
        g = kit.generator(case.seed)
        p = case.params
        N, C_in, C_out, L, K = case.n, p["C_in"], p["C_out"], p["L"], p["K"]
        stride, padding = p["stride"], p["padding"]
        x = torch.randn((N, C_in, L), generator=g).requires_grad_()
        w = (torch.randn((C_out, C_in, K), generator=g) * (C_in * K) ** -0.5).requires_grad_()
        b = (torch.randn((C_out,), generator=g) * 0.1).requires_grad_()
        out = F.conv1d(x, w, b, stride=stride, padding=padding)
        loss, dout = kit.upstream_loss(out, g)
        return {"x": x, "w": w, "b": b, "out": out, "dout": dout, "N": N, "stride": stride,
                "padding": padding, "loss": loss}


EXERCISE = Conv1d
