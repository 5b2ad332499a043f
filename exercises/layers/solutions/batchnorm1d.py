"""Reference solution of layers/batchnorm1d: one gradient per line, in backward order."""

import torch


def backward(t):
    n, T = t.n, t.T
    m = n * T
    dout = t.dout
    # out = gamma * bnraw + beta
    dbnraw = t.gamma * dout                                         # (n, T, C)
    dgamma = (t.bnraw * dout).sum((0, 1))                           # (C,)
    dbeta = dout.sum((0, 1))                                        # (C,)
    # bnraw = bndiff * bnvar_inv
    dbnvar_inv = (t.bndiff * dbnraw).sum((0, 1), keepdim=True)      # (1, 1, C)
    # bnvar_inv = (bnvar + eps)**-0.5
    dbnvar = -0.5 * (t.bnvar + 1e-5) ** -1.5 * dbnvar_inv           # (1, 1, C)
    # bnvar = 1/(m-1) * bndiff2.sum((0, 1))
    dbndiff2 = 1 / (m - 1) * torch.ones_like(t.bndiff2) * dbnvar    # (n, T, C)
    # bndiff feeds bnraw and bndiff2
    dbndiff = t.bnvar_inv * dbnraw + 2 * t.bndiff * dbndiff2        # (n, T, C)
    # bndiff = x - bnmean
    dbnmean = -dbndiff.sum((0, 1), keepdim=True)                    # (1, 1, C)
    # x feeds bndiff directly and bnmean = 1/m * x.sum((0, 1))
    dx = dbndiff + 1 / m * torch.ones_like(t.x) * dbnmean           # (n, T, C)
    return {"bnraw": dbnraw, "gamma": dgamma, "beta": dbeta, "bnvar_inv": dbnvar_inv,
            "bnvar": dbnvar, "bndiff2": dbndiff2, "bndiff": dbndiff, "bnmean": dbnmean,
            "x": dx}
