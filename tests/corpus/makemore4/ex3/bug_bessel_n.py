# corpus: bug
# exercise: makemore4/ex3
# title: one-liner without the n/(n-1) Bessel factor (the biased-variance formula)
# bug-class: bessel
# root-cause: hprebn
# expect-wrong: hprebn

import torch


def backward(t):
    n = t.n
    dhprebn = t.bngain * t.bnvar_inv / n * (
        n * t.dhpreact - t.dhpreact.sum(0) - t.bnraw * (t.dhpreact * t.bnraw).sum(0)
    )                                                                       # (32, 64)
    return {"hprebn": dhprebn}
