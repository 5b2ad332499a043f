"""Exercise 3: the batchnorm backward pass in one formula."""

from __future__ import annotations

from typing import Any

import torch

from exercises.makemore4 import common
from exercises.makemore4.starter import read
from grader.kit import Case, Exercise


class BatchNorm(Exercise):
    id = "makemore4/ex3"
    title = "Batchnorm backward in one formula"
    version = 2  # 2: degenerate batches (identical contexts) are drawn again
    description = """\
Given the upstream gradient `t.dhpreact`, write `dhprebn` as one expression (the lecture's
"bessel-corrected" batchnorm: the variance divides by `n - 1`). `t` holds `hprebn`, `bngain`,
`bnbias`, `bnmeani`, `bndiff`, `bnvar`, `bnvar_inv`, `bnraw`, `hpreact`, `n` and `dhpreact`.
Return `{"hprebn": dhprebn}` of shape `(n, n_hidden)`.

```python
bnmeani = 1/n * hprebn.sum(0, keepdim=True); bndiff = hprebn - bnmeani
bnvar = 1/(n-1) * (bndiff**2).sum(0, keepdim=True); bnvar_inv = (bnvar + 1e-5)**-0.5
bnraw = bndiff * bnvar_inv; hpreact = bngain * bnraw + bnbias
```
"""
    starter = read("ex3_batchnorm.py")
    graded = common.graded("hprebn")
    inputs = ("hprebn", "bngain", "bnbias", "bnmeani", "bndiff", "bnvar", "bnvar_inv",
              "bnraw", "hpreact", "n", "dhpreact")
    case_specs = common.CASE_SPECS

    def forward(self, case: Case) -> dict[str, Any]:
        """Build the forward pass and hand out the true upstream gradient ``dhpreact``."""
        fwd = common.forward_case(case)
        (dhpreact,) = torch.autograd.grad(fwd["loss"], [fwd["hpreact"]], retain_graph=True)
        fwd["dhpreact"] = dhpreact
        return fwd


EXERCISE = BatchNorm
