# corpus: correct
# exercise: makemore4/ex3
# title: the lecture's batchnorm one-liner (Bessel n-1 in the variance term)

import torch


def backward(t):
    n = t.n
    dhprebn = t.bngain * t.bnvar_inv / n * (
        n * t.dhpreact - t.dhpreact.sum(0) - n / (n - 1) * t.bnraw * (t.dhpreact * t.bnraw).sum(0)
    )                                                                       # (32, 64)
    return {"hprebn": dhprebn}
