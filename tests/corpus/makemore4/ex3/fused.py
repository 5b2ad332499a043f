# corpus: correct
# exercise: makemore4/ex3
# title: one-liner rewritten with means: gain * var_inv * (dy - mean(dy) - xhat * sum(dy * xhat) / (n - 1))

import torch


def backward(t):
    n = t.n
    dy = t.dhpreact                                                         # (32, 64)
    dhprebn = t.bngain * t.bnvar_inv * (
        dy - dy.mean(0, keepdim=True) - t.bnraw * (dy * t.bnraw).sum(0, keepdim=True) / (n - 1)
    )                                                                       # (32, 64)
    return {"hprebn": dhprebn}
