"""GELU (the tanh approximation), written out one step at a time, every step graded."""

from __future__ import annotations

import math
from typing import Any

from exercises.layers import common
from grader import kit
from grader.kit import Case, CaseSpec, Exercise

#: Public sizes, then hidden cases that change the batch size and the width in turn.
CASE_SPECS = (
    CaseSpec(n=16, params={"d": 12}),
    CaseSpec(n=16, params={"d": 12}),
    CaseSpec(n=9, params={"d": 12}),
    CaseSpec(n=16, params={"d": 7}),
)

#: GELU's tanh approximation constants (Hendrycks & Gimpel), as in ``F.gelu(approximate=
#: "tanh")``.
C = math.sqrt(2 / math.pi)
K = 0.044715

GRADED = ("gate", "th", "scaled", "inner", "x3", "x")


class Gelu(Exercise):
    id = "layers/gelu"
    title = "GELU (tanh approximation), step by step"
    version = 1
    description = f"""\
GELU with the tanh approximation (GPT-2's activation, `F.gelu(x, approximate="tanh")`),
written out one step at a time. You get the upstream gradient `t.dout` of the output; write
the gradient of **every** step, in backward order.

```python
x3 = x**3                                  # (n, d)
inner = x + 0.044715 * x3                  # (n, d)
scaled = math.sqrt(2 / math.pi) * inner    # (n, d)
th = torch.tanh(scaled)                    # (n, d)
gate = 1 + th                              # (n, d)
out = 0.5 * x * gate                       # (n, d)
```

`t` holds every tensor above, `dout` (n, d) and the batch size `n`. Return
`{{{", ".join(f'"{g}": d{g}' for g in GRADED)}}}`, each of shape (n, d). `x` feeds three
steps: its gradient is the sum of three contributions. Hidden cases use other seeds and
change `n` and `d`.
"""
    starter = kit.pack_text(__package__, "starters", "gelu.py")
    graded = kit.graded(*GRADED)
    inputs = ("x", "x3", "inner", "scaled", "th", "gate", "out", "dout", "n")
    case_specs = CASE_SPECS

    def forward(self, case: Case) -> dict[str, Any]:
        """Draw ``x`` wide enough (std 1.5) to reach GELU's negative dip and tanh's curve."""
        g = kit.generator(case.seed)
        x = common.batch(g, case.n, case.params["d"], scale=1.5)
        x3 = x**3
        inner = x + K * x3
        scaled = C * inner
        th = scaled.tanh()
        gate = 1 + th
        out = 0.5 * x * gate
        loss, dout = kit.upstream_loss(out, g)
        n = case.n
        return kit.keep(locals(), (*GRADED, "out", "dout", "n", "loss"))


EXERCISE = Gelu
