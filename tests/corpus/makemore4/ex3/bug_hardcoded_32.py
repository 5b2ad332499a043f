# corpus: bug
# exercise: makemore4/ex3
# title: hard-coded batch size: n = 32 instead of t.n
# bug-class: hardcoded_batch
# root-cause: hprebn
# expect-wrong: hprebn

import torch


def backward(t):
    n = 32
    dhprebn = t.bngain * t.bnvar_inv / n * (
        n * t.dhpreact - t.dhpreact.sum(0) - n / (n - 1) * t.bnraw * (t.dhpreact * t.bnraw).sum(0)
    )                                                                       # (32, 64)
    return {"hprebn": dhprebn}
