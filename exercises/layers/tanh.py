"""A linear layer followed by tanh: the derivative written with the output."""

from __future__ import annotations

from typing import Any

import torch

from exercises.layers import common
from exercises.layers.linear import CASE_SPECS
from grader import kit
from grader.kit import Case, Exercise


class Tanh(Exercise):
    id = "layers/tanh"
    title = "Linear layer + tanh"
    version = 1
    description = """\
A linear layer followed by tanh. You get the upstream gradient `t.dh` of the activation;
write the gradients of the pre-activation `hpre`, the input `x`, the weight `W` and the bias
`b`.

```python
hpre = x @ W + b       # x (n, d_in), W (d_in, d_out), b (d_out,) -> hpre (n, d_out)
h = torch.tanh(hpre)   # (n, d_out)
```

`t` holds `x`, `W`, `b`, `hpre`, `h`, `dh` (n, d_out) and the batch size `n`. Return
`{"hpre": dhpre, "x": dx, "W": dW, "b": db}`, each of exactly its tensor's shape. Hidden
cases use other seeds and change `n`, `d_in` and `d_out`.

Hint: d tanh(a)/da = 1 − tanh(a)², and tanh(a) is already computed.
"""
    starter = kit.pack_text(__package__, "starters", "tanh.py")
    graded = kit.graded("hpre", "x", "W", "b")
    inputs = ("x", "W", "b", "hpre", "h", "dh", "n")
    case_specs = CASE_SPECS

    def forward(self, case: Case) -> dict[str, Any]:
        """Draw a layer whose pre-activations spread over tanh's curved part (gain 1.5):
        1 − h² and 1 − hpre² then differ clearly, and few units saturate."""
        g = kit.generator(case.seed)
        x = common.batch(g, case.n, case.params["d_in"])
        W, b = common.linear_params(g, case.params["d_in"], case.params["d_out"], gain=1.5)
        hpre = x @ W + b
        h = torch.tanh(hpre)
        loss, dh = kit.upstream_loss(h, g)
        n = case.n
        return kit.keep(locals(), ("x", "W", "b", "hpre", "h", "dh", "n", "loss"))


EXERCISE = Tanh
