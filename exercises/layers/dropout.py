"""Dropout (with a given mask) on top of a linear layer."""

from __future__ import annotations

from typing import Any

import torch

from exercises.layers import _norms
from grader import kit

NAMES = ("x", "W", "b", "h", "mask", "out")


def draw_mask(g: torch.Generator, shape: tuple[int, ...], p: float,
              dtype: torch.dtype) -> torch.Tensor:
    """Return a 0/1 keep-mask (1 with probability ``1 - p``) holding both values.

    An all-ones mask would let a gradient that ignores the mask pass; an all-zeros one makes
    every gradient 0. The first element is set to the value the draw lacks, if any.
    """
    mask = (torch.rand(shape, generator=g) >= p).to(dtype)
    flat = mask.view(-1)
    if bool((flat == flat[0]).all()):
        flat[0] = 1.0 - flat[0]
    return mask


class Dropout(kit.Exercise):
    id = "layers/dropout"
    title = "Dropout with a given mask"
    version = 1
    description = """\
Backprop through (inverted) dropout applied to a linear layer's output, in training mode. The
random mask is given (`t.mask`: 1.0 where a unit is kept, 0.0 where it is dropped), and so is
the drop probability `t.p` (a float); kept units are scaled by `1 / (1 - p)` so the
expected output is unchanged, as `nn.Dropout` does.

```python
h = x @ W + b                               # (n, H)  the linear layer below
out = h * mask / (1 - p)                    # (n, H)  dropout, mask: (n, H) of 0.0/1.0
```

`t` holds `t.x` `(n, D)`, `t.W` `(D, H)`, `t.b` `(H,)`, `t.h`, `t.mask`, `t.out`, the
float `t.p`, the upstream gradient `t.dout` of shape `(n, H)` and the int `t.n`. Return
`{"h": dh, "W": dW, "b": db, "x": dx}`, each of its tensor's shape.

Hidden cases use other seeds, another `n`, other widths `D`, `H` and another `p`: read
sizes and `p` from `t`, never hard-code them.
"""
    starter = kit.pack_text(__package__, "starters", "dropout.py")
    graded = kit.graded("h", "W", "b", "x")
    inputs = (*NAMES, "p", "dout", "n")
    #: Public first; hidden cases change the seed, then n (7, 24), D (6, 14), H (20, 8) and
    #: the drop probability (percent: 30, 10). Never 50 %: 1/(1-p) = 2 would make a missing
    #: scale look like a factor-2 slip in one case and another constant elsewhere.
    case_specs = (
        kit.CaseSpec(n=16, params={"D": 10, "H": 12, "p_pct": 20}),
        kit.CaseSpec(n=16, params={"D": 10, "H": 12, "p_pct": 20}),
        kit.CaseSpec(n=7, params={"D": 6, "H": 20, "p_pct": 30}),
        kit.CaseSpec(n=24, params={"D": 14, "H": 8, "p_pct": 10}),
        # Only p changes: a hard-coded drop probability is named as such (every other
        # hidden case changes the sizes too, and the diagnosis could not tell which).
        kit.CaseSpec(n=16, params={"D": 10, "H": 12, "p_pct": 50}),
    )

    def forward(self, case: kit.Case) -> dict[str, Any]:
        """Build linear + dropout for one case with autograd (the mask holds both values)."""
        g = kit.generator(case.seed)
        n, D, H = case.n, case.params["D"], case.params["H"]
        p = case.params["p_pct"] / 100
        x = torch.randn((n, D), generator=g).requires_grad_()
        W, b = (v.requires_grad_() for v in _norms.linear(g, D, H))
        mask = draw_mask(g, (n, H), p, self.dtype)
        h = x @ W + b
        out = h * mask / (1 - p)
        loss, dout = kit.upstream_loss(out, g)
        return {**kit.keep(locals(), NAMES), "p": p, "dout": dout, "loss": loss, "n": n}


EXERCISE = Dropout
