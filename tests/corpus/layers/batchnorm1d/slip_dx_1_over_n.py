# corpus: bug
# exercise: layers/batchnorm1d
# title: dx with 1/n: the mean over (0, 1) divided by the batch size only, not m = n*T
# bug-class: scale_1_over_n
# root-cause: x
# expect-wrong: x

import torch


def backward(t):
    n, T = t.n, t.T
    m = n * T
    dout = t.dout
    dbnraw = t.gamma * dout
    dgamma = (t.bnraw * dout).sum((0, 1))
    dbeta = dout.sum((0, 1))
    dbnvar_inv = (t.bndiff * dbnraw).sum((0, 1), keepdim=True)
    dbnvar = -0.5 * (t.bnvar + 1e-5) ** -1.5 * dbnvar_inv
    dbndiff2 = 1 / (m - 1) * torch.ones_like(t.bndiff2) * dbnvar
    dbndiff = t.bnvar_inv * dbnraw + 2 * t.bndiff * dbndiff2
    dbnmean = -dbndiff.sum((0, 1), keepdim=True)
    dx = dbndiff + 1 / n * torch.ones_like(t.x) * dbnmean
    return {"bnraw": dbnraw, "gamma": dgamma, "beta": dbeta, "bnvar_inv": dbnvar_inv,
            "bnvar": dbnvar, "bndiff2": dbndiff2, "bndiff": dbndiff, "bnmean": dbnmean,
            "x": dx}
