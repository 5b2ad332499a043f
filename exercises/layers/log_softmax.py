"""Log-softmax written out (``x - logsumexp(x)``, stably), every step graded."""

from __future__ import annotations

from typing import Any

from exercises.layers import common
from exercises.layers.softmax import CASE_SPECS
from grader import kit
from grader.kit import Case, Exercise

GRADED = ("log_sum", "counts_sum", "counts", "shifted", "x")


class LogSoftmax(Exercise):
    id = "layers/log_softmax"
    title = "Log-softmax, step by step"
    version = 1
    description = """\
A numerically stable log-softmax over each row (`x − logsumexp(x)`), written out. You get the
upstream gradient `t.dlogprobs`; write the gradients of the steps, in backward order.

```python
maxes = x.max(1, keepdim=True).values.detach()   # (n, 1), a constant
shifted = x - maxes                              # (n, C)
counts = shifted.exp()                           # (n, C)
counts_sum = counts.sum(1, keepdim=True)         # (n, 1)
log_sum = counts_sum.log()                       # (n, 1)
logprobs = shifted - log_sum                     # (n, C)
```

`t` holds every tensor above, `dlogprobs` (n, C) and the batch size `n`. Return `{"log_sum":
dlog_sum, "counts_sum": dcounts_sum, "counts": dcounts, "shifted": dshifted, "x": dx}`, each
of exactly its tensor's shape. `maxes` is detached, a constant that only keeps `exp` from
overflowing: log-softmax does not change when a row is shifted, so its true gradient is 0
anyway, and no gradient flows back through it — `dx` equals `dshifted`. `shifted` feeds two
steps. Hidden cases use other seeds and change `n` and `C`.
"""
    starter = kit.pack_text(__package__, "starters", "log_softmax.py")
    graded = kit.graded(*GRADED)
    inputs = ("x", "maxes", "shifted", "counts", "counts_sum", "log_sum", "logprobs",
              "dlogprobs", "n")
    case_specs = CASE_SPECS

    def forward(self, case: Case) -> dict[str, Any]:
        """Draw logits with std 1.5 (no row saturates) and a random upstream gradient."""
        g = kit.generator(case.seed)
        x = common.batch(g, case.n, case.params["C"], scale=1.5)
        maxes = x.max(1, keepdim=True).values.detach()
        shifted = x - maxes
        counts = shifted.exp()
        counts_sum = counts.sum(1, keepdim=True)
        log_sum = counts_sum.log()
        logprobs = shifted - log_sum
        loss, dlogprobs = kit.upstream_loss(logprobs, g)
        n = case.n
        return kit.keep(locals(), (*GRADED, "maxes", "logprobs", "dlogprobs", "n", "loss"))


EXERCISE = LogSoftmax
