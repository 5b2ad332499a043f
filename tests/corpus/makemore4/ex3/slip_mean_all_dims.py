# corpus: bug
# exercise: makemore4/ex3
# title: mean form of the one-liner with dy.mean() over every element instead of dy.mean(0, keepdim=True) over the batch
# bug-class: wrong_sum_dim
# root-cause: hprebn
# expect-wrong: hprebn
# known-miss: told as partial; a mean over every element instead of the batch is not modelled

import torch


def backward(t):
    n = t.n
    dy = t.dhpreact
    xhat = t.bnraw
    # dx = gamma/sigma * (dy - mean(dy) - xhat * sum(dy*xhat) / (n-1))
    dhprebn = t.bngain * t.bnvar_inv * (dy - dy.mean() - xhat * (dy * xhat).sum(0, keepdim=True) / (n - 1))
    return {"hprebn": dhprebn}
