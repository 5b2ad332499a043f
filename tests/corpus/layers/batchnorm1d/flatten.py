# corpus: correct
# exercise: layers/batchnorm1d
# title: the 3-D batch flattened to (m, C) rows and handled as makemore part 4's 2-D batchnorm, reshaped back

import torch


def backward(t):
    n, T = t.n, t.T
    m = n * T
    dout = t.dout
    C = t.x.shape[-1]
    g = dout.reshape(m, C)
    raw = t.bnraw.reshape(m, C)
    diff = t.bndiff.reshape(m, C)
    dbnraw = (t.gamma * g).reshape(n, T, C)
    dgamma = (raw * g).sum(0)
    dbeta = g.sum(0)
    dbnvar_inv = (diff * dbnraw.reshape(m, C)).sum(0).view(1, 1, C)
    dbnvar = dbnvar_inv * -0.5 * (t.bnvar + 1e-5) ** -1.5
    dbndiff2 = torch.ones(n, T, C) * dbnvar / (m - 1)
    dbndiff = dbnraw * t.bnvar_inv + dbndiff2 * 2 * t.bndiff
    dbnmean = -dbndiff.reshape(m, C).sum(0).view(1, 1, C)
    dx = dbndiff + dbnmean / m
    return {"bnraw": dbnraw, "gamma": dgamma, "beta": dbeta, "bnvar_inv": dbnvar_inv,
            "bnvar": dbnvar, "bndiff2": dbndiff2, "bndiff": dbndiff, "bnmean": dbnmean,
            "x": dx}
