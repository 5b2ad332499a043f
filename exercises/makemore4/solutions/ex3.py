"""Reference solution of makemore4/ex3 (the lecture's batchnorm one-liner, Bessel n-1).

Not package data: solutions stay in the source tree (`backprop validate makemore4/ex3`).
"""


def backward(t):
    n = t.n
    dhprebn = t.bngain * t.bnvar_inv / n * (
        n * t.dhpreact - t.dhpreact.sum(0) - n / (n - 1) * t.bnraw * (t.dhpreact * t.bnraw).sum(0)
    )                                                                       # (n, 64)
    return {"hprebn": dhprebn}
