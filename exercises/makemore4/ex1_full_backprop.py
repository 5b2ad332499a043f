"""Exercise 1: backprop through the whole network, one atomic step at a time."""

from __future__ import annotations

from typing import Any

from exercises.makemore4 import common
from exercises.makemore4.starter import read
from grader.kit import Case, Exercise

#: The 26 graded tensors, in backward order (the order the lecture fills them in).
GRADED = (
    "logprobs", "probs", "counts_sum_inv", "counts_sum", "counts", "norm_logits",
    "logit_maxes", "logits", "h", "W2", "b2", "hpreact", "bngain", "bnbias", "bnraw",
    "bnvar_inv", "bnvar", "bndiff2", "bndiff", "bnmeani", "hprebn", "embcat", "W1", "b1",
    "emb", "C",
)


class FullBackprop(Exercise):
    id = "makemore4/ex1"
    title = "Backprop through the whole MLP, step by step"
    version = 2  # 2: degenerate batches (identical contexts) are drawn again
    description = """\
Write the gradient of the loss with respect to **every** intermediate tensor of the forward
pass, by hand, in backward order — exactly as in the lecture. `t` holds the whole forward pass
(`t.logprobs`, `t.W1`, …), the batch (`t.Xb`, `t.Yb`) and the batch size `t.n`.

Return a dict from forward names to gradients: `{"logprobs": dlogprobs, ...}`, each of exactly
the forward tensor's shape. 26 tensors, one point each. Hidden cases use other seeds, another
batch size and another hidden width: use `t.n` and shapes, never hard-coded numbers.

```python
emb = C[Xb]; embcat = emb.view(n, -1); hprebn = embcat @ W1 + b1
bnmeani = 1/n * hprebn.sum(0, keepdim=True); bndiff = hprebn - bnmeani; bndiff2 = bndiff**2
bnvar = 1/(n-1) * bndiff2.sum(0, keepdim=True); bnvar_inv = (bnvar + 1e-5)**-0.5
bnraw = bndiff * bnvar_inv; hpreact = bngain * bnraw + bnbias; h = torch.tanh(hpreact)
logits = h @ W2 + b2; logit_maxes = logits.max(1, keepdim=True).values
norm_logits = logits - logit_maxes; counts = norm_logits.exp()
counts_sum = counts.sum(1, keepdim=True); counts_sum_inv = counts_sum**-1
probs = counts * counts_sum_inv; logprobs = probs.log(); loss = -logprobs[range(n), Yb].mean()
```
"""
    starter = read("ex1_full_backprop.py")
    graded = common.graded(*GRADED)
    inputs = (*common.PARAMETERS, "Xb", "Yb", "n", *common.FORWARD_NAMES)
    case_specs = common.CASE_SPECS

    def forward(self, case: Case) -> dict[str, Any]:
        """Build the lecture's forward pass for ``case``."""
        return common.forward_case(case)


EXERCISE = FullBackprop
