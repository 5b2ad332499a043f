"""Softmax written out (max subtracted, exp, sum, divide), every step graded."""

from __future__ import annotations

from typing import Any

from exercises.layers import common
from grader import kit
from grader.kit import Case, CaseSpec, Exercise

#: Public sizes, then hidden cases that change the batch size and the class count in turn.
CASE_SPECS = (
    CaseSpec(n=16, params={"C": 11}),
    CaseSpec(n=16, params={"C": 11}),
    CaseSpec(n=7, params={"C": 11}),
    CaseSpec(n=16, params={"C": 19}),
)

GRADED = ("counts_sum", "counts", "shifted", "x")


class Softmax(Exercise):
    id = "layers/softmax"
    title = "Softmax, step by step"
    version = 1
    description = """\
A numerically stable softmax over each row, written out. You get the upstream gradient
`t.dprobs` of the probabilities; write the gradients of the steps, in backward order.

```python
maxes = x.max(1, keepdim=True).values.detach()   # (n, 1), a constant
shifted = x - maxes                              # (n, C)
counts = shifted.exp()                           # (n, C)
counts_sum = counts.sum(1, keepdim=True)         # (n, 1)
probs = counts / counts_sum                      # (n, C)
```

`t` holds every tensor above, `dprobs` (n, C) and the batch size `n`. Return `{"counts_sum":
dcounts_sum, "counts": dcounts, "shifted": dshifted, "x": dx}`, each of exactly its tensor's
shape (`dcounts_sum` is (n, 1)). `maxes` is detached, a constant that only keeps `exp` from
overflowing: softmax does not change when a row is shifted, so its true gradient is 0
anyway, and no gradient flows back through it — `dx` equals `dshifted`. `counts` feeds two
steps. Hidden cases use other seeds and change `n` and `C`.
"""
    starter = kit.pack_text(__package__, "starters", "softmax.py")
    graded = kit.graded(*GRADED)
    inputs = ("x", "maxes", "shifted", "counts", "counts_sum", "probs", "dprobs", "n")
    case_specs = CASE_SPECS

    def forward(self, case: Case) -> dict[str, Any]:
        """Draw logits with std 1.5: no row saturates (its probabilities spread), so every
        step's gradient carries signal."""
        g = kit.generator(case.seed)
        x = common.batch(g, case.n, case.params["C"], scale=1.5)
        maxes = x.max(1, keepdim=True).values.detach()
        shifted = x - maxes
        counts = shifted.exp()
        counts_sum = counts.sum(1, keepdim=True)
        probs = counts / counts_sum
        loss, dprobs = kit.upstream_loss(probs, g)
        n = case.n
        return kit.keep(locals(), (*GRADED, "maxes", "probs", "dprobs", "n", "loss"))


EXERCISE = Softmax
