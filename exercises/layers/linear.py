"""A linear layer ``out = x @ W + b``: the gradients of its input, weight and bias."""

from __future__ import annotations

from typing import Any

from exercises.layers import common
from grader import kit
from grader.kit import Case, CaseSpec, Exercise

#: Public sizes, then hidden cases that change one size each (n, d_in, d_out), so a number
#: hard-coded from the public case fails in exactly one hidden case and is named there.
CASE_SPECS = (
    CaseSpec(n=16, params={"d_in": 10, "d_out": 12}),
    CaseSpec(n=16, params={"d_in": 10, "d_out": 12}),
    CaseSpec(n=9, params={"d_in": 10, "d_out": 12}),
    CaseSpec(n=16, params={"d_in": 7, "d_out": 12}),
    CaseSpec(n=16, params={"d_in": 10, "d_out": 5}),
)


class Linear(Exercise):
    id = "layers/linear"
    title = "Linear layer: dx, dW, db"
    version = 1
    description = """\
A linear (fully connected) layer. You get the upstream gradient `t.dout` of its output;
write the gradients of its input `x`, weight `W` and bias `b`.

```python
out = x @ W + b    # x (n, d_in), W (d_in, d_out), b (d_out,) -> out (n, d_out)
```

`t` holds `x`, `W`, `b`, `out`, `dout` (n, d_out) and the batch size `n`. Return
`{"x": dx, "W": dW, "b": db}`, each of exactly its tensor's shape. Hidden cases use other
seeds and change `n`, `d_in` and `d_out`: read sizes from `t.n` and the tensors' shapes.

Hint: the bias is broadcast over the batch, so its gradient is summed over the batch.
"""
    starter = kit.pack_text(__package__, "starters", "linear.py")
    graded = kit.graded("x", "W", "b")
    inputs = ("x", "W", "b", "out", "dout", "n")
    case_specs = CASE_SPECS

    def forward(self, case: Case) -> dict[str, Any]:
        """Draw ``x``, ``W``, ``b`` and a random upstream gradient ``dout``."""
        g = kit.generator(case.seed)
        x = common.batch(g, case.n, case.params["d_in"])
        W, b = common.linear_params(g, case.params["d_in"], case.params["d_out"])
        out = x @ W + b
        loss, dout = kit.upstream_loss(out, g)
        n = case.n
        return kit.keep(locals(), ("x", "W", "b", "out", "dout", "n", "loss"))


EXERCISE = Linear
