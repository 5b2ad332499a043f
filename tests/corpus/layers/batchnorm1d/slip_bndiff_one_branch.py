# corpus: bug
# exercise: layers/batchnorm1d
# title: dbndiff from bnraw only: bndiff2's branch forgotten (its part of dbnmean sums to zero, so bnmean stays right)
# bug-class: overwrite_branch
# root-cause: bndiff
# expect-wrong: bndiff x

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
    dbndiff = t.bnvar_inv * dbnraw
    dbnmean = -dbndiff.sum((0, 1), keepdim=True)
    dx = dbndiff + 1 / m * torch.ones_like(t.x) * dbnmean
    return {"bnraw": dbnraw, "gamma": dgamma, "beta": dbeta, "bnvar_inv": dbnvar_inv,
            "bnvar": dbnvar, "bndiff2": dbndiff2, "bndiff": dbndiff, "bnmean": dbnmean,
            "x": dx}
