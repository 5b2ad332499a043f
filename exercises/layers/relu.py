"""A linear layer followed by a ReLU: the gradients through the kink."""

from __future__ import annotations

from typing import Any

import torch

from exercises.layers import common
from exercises.layers.linear import CASE_SPECS
from grader import kit
from grader.kit import Case, Exercise

#: No pre-activation may lie this close to ReLU's kink. At 0 the derivative is a convention
#: (autograd's mask is ``h > 0``; a student's ``hpre >= 0`` is as right), so a value there
#: would fail a correct submission. Draws with one are made again.
KINK_MARGIN = 1e-3


class Relu(Exercise):
    id = "layers/relu"
    title = "Linear layer + ReLU"
    version = 1
    description = """\
A linear layer followed by a ReLU. You get the upstream gradient `t.dh` of the activation;
write the gradients of the pre-activation `hpre`, the input `x`, the weight `W` and the bias
`b`.

```python
hpre = x @ W + b       # x (n, d_in), W (d_in, d_out), b (d_out,) -> hpre (n, d_out)
h = torch.relu(hpre)   # (n, d_out)
```

`t` holds `x`, `W`, `b`, `hpre`, `h`, `dh` (n, d_out) and the batch size `n`. Return
`{"hpre": dhpre, "x": dx, "W": dW, "b": db}`, each of exactly its tensor's shape. No
pre-activation is exactly 0, so the derivative at the kink never matters. Hidden cases use
other seeds and change `n`, `d_in` and `d_out`.
"""
    starter = kit.pack_text(__package__, "starters", "relu.py")
    graded = kit.graded("hpre", "x", "W", "b")
    inputs = ("x", "W", "b", "hpre", "h", "dh", "n")
    case_specs = CASE_SPECS

    def forward(self, case: Case) -> dict[str, Any]:
        """Draw a layer whose pre-activations have both signs and none near 0."""
        g = kit.generator(case.seed)
        d_in, d_out = case.params["d_in"], case.params["d_out"]
        for _ in range(100):
            x = common.batch(g, case.n, d_in)
            W, b = common.linear_params(g, d_in, d_out)
            with torch.no_grad():
                pre = x @ W + b
            if bool((pre.abs() > KINK_MARGIN).all()) and bool((pre > 0).any()) \
                    and bool((pre < 0).any()):
                break
        hpre = x @ W + b
        h = torch.relu(hpre)
        loss, dh = kit.upstream_loss(h, g)
        n = case.n
        return kit.keep(locals(), ("x", "W", "b", "hpre", "h", "dh", "n", "loss"))


EXERCISE = Relu
