"""Mean squared error of a linear layer's prediction against a target."""

from __future__ import annotations

from typing import Any

import torch

from exercises.layers import common
from exercises.layers.linear import CASE_SPECS
from grader import kit
from grader.kit import Case, Exercise


class Mse(Exercise):
    id = "layers/mse"
    title = "Mean squared error of a linear layer"
    version = 1
    description = """\
A linear layer's prediction scored by the mean squared error against a target. The loss is
the mean over **every** element (n · d_out of them), as `F.mse_loss` does; there is no
upstream gradient: the loss is the end of the graph. Write the gradients of `diff`, `pred`,
the input `x`, the weight `W` and the bias `b`.

```python
pred = x @ W + b          # x (n, d_in), W (d_in, d_out), b (d_out,) -> pred (n, d_out)
diff = pred - target      # (n, d_out)
loss = (diff**2).mean()   # scalar: the mean over all n * d_out elements
```

`t` holds `x`, `W`, `b`, `target`, `pred`, `diff`, `loss` and the batch size `n`. Return
`{"diff": ddiff, "pred": dpred, "x": dx, "W": dW, "b": db}`, each of exactly its tensor's
shape. Hidden cases use other seeds and change `n`, `d_in` and `d_out`.
"""
    starter = kit.pack_text(__package__, "starters", "mse.py")
    graded = kit.graded("diff", "pred", "x", "W", "b")
    inputs = ("x", "W", "b", "target", "pred", "diff", "loss", "n")
    case_specs = CASE_SPECS

    def forward(self, case: Case) -> dict[str, Any]:
        """Draw a layer and an independent target, so ``diff`` is spread around 0."""
        g = kit.generator(case.seed)
        x = common.batch(g, case.n, case.params["d_in"])
        W, b = common.linear_params(g, case.params["d_in"], case.params["d_out"])
        target = torch.randn((case.n, case.params["d_out"]), generator=g)
        pred = x @ W + b
        diff = pred - target
        loss = (diff**2).mean()
        n = case.n
        return kit.keep(locals(), ("diff", "pred", "x", "W", "b", "target", "n", "loss"))


EXERCISE = Mse
