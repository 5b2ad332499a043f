"""Reference solution of layers/rmsnorm: one gradient per line, in backward order."""

import torch


def backward(t):
    n, T, C = t.n, t.T, t.C
    dout = t.dout
    # out = gain * xhat
    dxhat = t.gain * dout                                           # (n, T, C)
    dgain = (t.xhat * dout).sum((0, 1))                             # (C,)
    # xhat = x * rrms
    drrms = (t.x * dxhat).sum(-1, keepdim=True)                     # (n, T, 1)
    # rrms = (ms + eps)**-0.5
    dms = -0.5 * (t.ms + 1e-5) ** -1.5 * drrms                      # (n, T, 1)
    # x feeds xhat directly and ms = (x**2).mean(-1)
    dx = t.rrms * dxhat + 2 * t.x / C * dms                         # (n, T, C)
    return {"xhat": dxhat, "gain": dgain, "rrms": drrms, "ms": dms, "x": dx}
