# corpus: correct
# exercise: layers/batchnorm1d
# title: intermediates step by step, dx as the fused one-liner over the m = n*T vectors (Bessel: m/(m-1))

import torch


def backward(t):
    n, T = t.n, t.T
    m = n * T
    dout = t.dout
    dbnraw = t.gamma * dout
    dgamma = (t.bnraw * dout).sum((0, 1))
    dbeta = dout.sum((0, 1))
    dbnvar_inv = (t.bndiff * dbnraw).sum((0, 1), keepdim=True)
    dbnvar = -0.5 * t.bnvar_inv**3 * dbnvar_inv
    dbndiff2 = (dbnvar / (m - 1)).expand_as(t.bndiff2)
    dbndiff = t.bnvar_inv * dbnraw + 2 * t.bndiff * dbndiff2
    dbnmean = -dbndiff.sum((0, 1), keepdim=True)
    dx = t.gamma * t.bnvar_inv / m * (
        m * dout - dout.sum((0, 1), keepdim=True)
        - m / (m - 1) * t.bnraw * (dout * t.bnraw).sum((0, 1), keepdim=True))
    return {"bnraw": dbnraw, "gamma": dgamma, "beta": dbeta, "bnvar_inv": dbnvar_inv,
            "bnvar": dbnvar, "bndiff2": dbndiff2, "bndiff": dbndiff, "bnmean": dbnmean,
            "x": dx}
