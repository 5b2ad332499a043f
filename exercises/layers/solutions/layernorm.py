"""Reference solution of layers/layernorm: one gradient per line, in backward order."""

import torch


def backward(t):
    n, C = t.n, t.C
    dout = t.dout
    # out = gain * xhat + bias
    dxhat = t.gain * dout                                           # (n, C)
    dgain = (t.xhat * dout).sum(0)                                  # (C,)
    dbias = dout.sum(0)                                             # (C,)
    # xhat = diff * rstd
    drstd = (t.diff * dxhat).sum(-1, keepdim=True)                  # (n, 1)
    # rstd = (var + eps)**-0.5
    dvar = -0.5 * (t.var + 1e-5) ** -1.5 * drstd                    # (n, 1)
    # var = (diff**2).mean(-1); diff also feeds xhat
    ddiff = t.rstd * dxhat + 2 * t.diff / C * dvar                  # (n, C)
    # diff = x - mean
    dmean = -ddiff.sum(-1, keepdim=True)                            # (n, 1)
    # x feeds diff directly and mean = x.mean(-1)
    dx = ddiff + dmean / C                                          # (n, C)
    return {"xhat": dxhat, "gain": dgain, "bias": dbias, "rstd": drstd, "var": dvar,
            "diff": ddiff, "mean": dmean, "x": dx}
