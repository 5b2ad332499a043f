# corpus: correct
# exercise: makemore4/ex3
# title: recomputes mean and unbiased variance from hprebn, then the textbook dvar / dmu / dx formulas

import torch


def backward(t):
    x = t.hprebn                                                            # (32, 64)
    n = x.shape[0]
    eps = 1e-5
    mu = x.mean(0, keepdim=True)                                            # (1, 64)
    var = x.var(0, keepdim=True, unbiased=True)                             # (1, 64)
    xmu = x - mu                                                            # (32, 64)
    std_inv = 1.0 / torch.sqrt(var + eps)                                   # (1, 64)
    dxhat = t.dhpreact * t.bngain                                           # (32, 64)
    dvar = (dxhat * xmu).sum(0, keepdim=True) * -0.5 * std_inv**3           # (1, 64)
    dmu = (-dxhat * std_inv).sum(0, keepdim=True) + dvar * (-2.0 * xmu).sum(0, keepdim=True) / (n - 1)  # (1, 64)
    dx = dxhat * std_inv + dvar * 2.0 * xmu / (n - 1) + dmu / n            # (32, 64)
    return {"hprebn": dx}
