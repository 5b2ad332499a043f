"""layers/batchnorm1d — BatchNorm1d over (n, T, C) (makemore part 5), step by step, float64.

    m = n * T
    bnmean = 1/m * x.sum((0, 1), keepdim=True)                # (1, 1, C)
    bndiff = x - bnmean                                       # (n, T, C)
    bndiff2 = bndiff**2                                       # (n, T, C)
    bnvar = 1/(m - 1) * bndiff2.sum((0, 1), keepdim=True)     # (1, 1, C)  Bessel, m - 1
    bnvar_inv = (bnvar + 1e-5)**-0.5                          # (1, 1, C)
    bnraw = bndiff * bnvar_inv                                # (n, T, C)
    out = gamma * bnraw + beta                                # (n, T, C)  gamma, beta: (C,)

You get the upstream gradient t.dout (n, T, C). Fill in every gradient, in this order, in
float64 (t's tensors already are). Check it with

    backprop check batchnorm1d.py -e layers/batchnorm1d
"""

import torch


def backward(t):
    n, T = t.n, t.T
    m = n * T
    dout = t.dout          # (n, T, C) upstream gradient, given

    dbnraw = None          # (n, T, C)
    dgamma = None          # (C,)
    dbeta = None           # (C,)
    dbnvar_inv = None      # (1, 1, C)
    dbnvar = None          # (1, 1, C)
    dbndiff2 = None        # (n, T, C)
    dbndiff = None         # (n, T, C)
    dbnmean = None         # (1, 1, C)
    dx = None              # (n, T, C)

    return {"bnraw": dbnraw, "gamma": dgamma, "beta": dbeta, "bnvar_inv": dbnvar_inv,
            "bnvar": dbnvar, "bndiff2": dbndiff2, "bndiff": dbndiff, "bnmean": dbnmean,
            "x": dx}
