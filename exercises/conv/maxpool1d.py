"""Max-pool 1-D after a channel-mixing linear layer: the gradient goes to each window's max."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from grader import kit
from grader.kit import Case, CaseSpec, Exercise

#: Public case (windows overlap: kernel 3, stride 2), then hidden cases: another seed, then
#: each size changed on its own pattern of cases (N in hidden 2 and 4, C_in in 3, C in 4, L in
#: 3 and 4, kernel in 2, 4 and 5, stride in 3, 4 and 5). Strides never fall below the public
#: 2, so a hard-coded stride gives wrong values rather than a crash; hidden 2 and 3 have
#: windows that just touch, hidden 4 overlapping ones, hidden 5 gaps between windows.
CASE_SPECS = (
    CaseSpec(n=3, params={"C_in": 4, "C": 5, "L": 12, "kernel": 3, "stride": 2}),
    CaseSpec(n=3, params={"C_in": 4, "C": 5, "L": 12, "kernel": 3, "stride": 2}),
    CaseSpec(n=2, params={"C_in": 4, "C": 5, "L": 12, "kernel": 2, "stride": 2}),
    CaseSpec(n=3, params={"C_in": 3, "C": 5, "L": 11, "kernel": 3, "stride": 3}),
    CaseSpec(n=4, params={"C_in": 4, "C": 6, "L": 13, "kernel": 4, "stride": 3}),
    CaseSpec(n=3, params={"C_in": 4, "C": 5, "L": 12, "kernel": 2, "stride": 3}),
)

#: Every window's largest value must beat its second by this much, so the argmax is one
#: element beyond any rounding doubt (ties would make the true gradient ambiguous).
MIN_GAP = 1e-3


def window_gap(h: torch.Tensor, kernel: int, stride: int) -> float:
    """Return the smallest gap between the two largest values of any pooling window."""
    top2 = h.detach().unfold(2, kernel, stride).topk(2, dim=-1).values
    return float((top2[..., 0] - top2[..., 1]).min())


class MaxPool1d(Exercise):
    id = "conv/maxpool1d"
    title = "Max-pool 1-D after a linear layer"
    version = 1
    description = """\
Backprop by hand through a linear layer over the channels followed by a 1-D max-pool. The
upstream gradient is given: `t.dout = dloss/dout`.

```python
h = W @ x + b[:, None]                          # (N, C, L)   W: (C, C_in), x: (N, C_in, L)
out = F.max_pool1d(h, kernel, stride)           # (N, C, L_out)
# out[n, c, l] = max(h[n, c, l*stride : l*stride + kernel])
# L_out = (L - kernel) // stride + 1
```

`t` holds `x`, `W`, `b` (C,), `h`, `out`, `dout` and the ints `t.N`, `t.kernel`,
`t.stride`. Return `{"h": dh, "W": dW, "b": db, "x": dx}`, each of exactly its tensor's
shape: 4 tensors, one point each. Each output's gradient goes to the one element of its
window that was the largest (values are drawn so that no window has a tie); windows may
overlap, so one element can receive the gradient of several windows. Hidden cases change the
seed, the batch, the channels, `L`, the kernel and the stride (windows that overlap, touch or
leave gaps): read every size from `t` and the shapes.
"""
    starter = kit.pack_text(__package__, "starters", "maxpool1d.py")
    graded = kit.graded("h", "W", "b", "x")
    inputs = ("x", "W", "b", "h", "out", "dout", "N", "kernel", "stride")
    case_specs = CASE_SPECS

    def forward(self, case: Case) -> dict[str, Any]:
        """Build the layer for ``case``; a draw with a near-tie in some window (gap below
        :data:`MIN_GAP`) is drawn again, deterministically from the same generator."""
        g = kit.generator(case.seed)
        p = case.params
        N, C_in, C, L = case.n, p["C_in"], p["C"], p["L"]
        kernel, stride = p["kernel"], p["stride"]
        for _ in range(100):
            x = torch.randn((N, C_in, L), generator=g)
            W = torch.randn((C, C_in), generator=g) * C_in**-0.5
            b = torch.randn((C,), generator=g) * 0.1
            if window_gap(W @ x + b[:, None], kernel, stride) >= MIN_GAP:
                break
        x, W, b = (v.requires_grad_() for v in (x, W, b))
        h = W @ x + b[:, None]
        out = F.max_pool1d(h, kernel, stride)
        loss, dout = kit.upstream_loss(out, g)
        fwd = kit.keep(locals(), ("x", "W", "b", "h", "out", "dout"))
        fwd.update(N=N, kernel=kernel, stride=stride, loss=loss)
        return fwd


EXERCISE = MaxPool1d
