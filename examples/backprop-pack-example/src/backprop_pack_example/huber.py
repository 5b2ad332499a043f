"""example/huber: the Huber loss's backward pass, where ``torch.where`` routes the gradient.

A loss, so the gradient starts at the scalar itself (no upstream gradient is drawn). The
threshold ``delta`` changes between cases as the sizes do: a case's params are ints, so it
is carried in hundredths (``delta_pct``) and handed to the student as the float ``t.delta``.
"""

from __future__ import annotations

from typing import Any

import torch

from grader.kit import Case, CaseSpec, Exercise, generator, graded, keep, pack_text

#: The named tensors of the forward pass, as the student sees them in ``t``.
FORWARD = ("pred", "target", "diff", "quad", "lin", "small", "elem")


class Huber(Exercise):
    id = "example/huber"
    title = "Huber loss"
    version = 1
    description = """\
Backprop through the Huber loss (PyTorch's `F.huber_loss(pred, target, delta=delta)`),
written out so that `torch.where` picks one of two branches per element. Return
`{"elem", "quad", "lin", "diff", "pred", "target"}`.

```python
diff = pred - target                              # (n, d)
quad = 0.5 * diff**2                              # (n, d)
lin = delta * (diff.abs() - 0.5 * delta)          # (n, d)
small = diff.abs() <= delta                       # (n, d) bool, not graded
elem = torch.where(small, quad, lin)              # (n, d)
loss = elem.mean()                                # ()
```

`t` holds every tensor above, `loss`, `n` and the float `delta`. Hidden cases change `n`,
`d` and `delta`.
"""
    starter = pack_text(__package__, "starters", "huber.py")
    graded = graded("elem", "quad", "lin", "diff", "pred", "target")
    inputs = (*FORWARD, "loss", "n", "delta")
    #: Public case first; then the public sizes under another seed, then n, d and delta each
    #: changed on its own: a number copied from the public case fails, and the case it fails
    #: in tells the diagnosis which one it was.
    case_specs = (
        CaseSpec(n=16, params={"d": 6, "delta_pct": 100}),
        CaseSpec(n=16, params={"d": 6, "delta_pct": 100}),
        CaseSpec(n=9, params={"d": 6, "delta_pct": 100}),
        CaseSpec(n=16, params={"d": 5, "delta_pct": 100}),
        CaseSpec(n=16, params={"d": 6, "delta_pct": 50}),
    )

    def forward(self, case: Case) -> dict[str, Any]:
        """Build the loss for one case; residuals ~ N(0, 2) put about half on each branch."""
        g = generator(case.seed)
        n, d = case.n, case.params["d"]
        delta = case.params["delta_pct"] / 100
        pred = torch.randn((n, d), generator=g).requires_grad_()
        target = torch.randn((n, d), generator=g).requires_grad_()
        diff = pred - target
        quad = 0.5 * diff**2
        lin = delta * (diff.abs() - 0.5 * delta)
        small = diff.abs() <= delta
        elem = torch.where(small, quad, lin)
        loss = elem.mean()
        return {**keep(locals(), FORWARD), "loss": loss, "n": n, "delta": delta}


EXERCISE = Huber
