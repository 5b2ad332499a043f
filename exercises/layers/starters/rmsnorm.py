"""layers/rmsnorm — RMSNorm over the last dimension, step by step (float64).

    ms = (x**2).mean(-1, keepdim=True)          # (n, T, 1)  mean square over the C features
    rrms = (ms + 1e-5)**-0.5                    # (n, T, 1)  reciprocal root mean square
    xhat = x * rrms                             # (n, T, C)
    out = gain * xhat                           # (n, T, C)  gain: (C,)

You get the upstream gradient t.dout (n, T, C). Fill in every gradient, in this order, in
float64 (t's tensors already are). Check it with

    backprop check rmsnorm.py -e layers/rmsnorm
"""

import torch


def backward(t):
    n, T, C = t.n, t.T, t.C
    dout = t.dout          # (n, T, C) upstream gradient, given

    dxhat = None           # (n, T, C)
    dgain = None           # (C,)
    drrms = None           # (n, T, 1)
    dms = None             # (n, T, 1)
    dx = None              # (n, T, C)

    return {"xhat": dxhat, "gain": dgain, "rrms": drrms, "ms": dms, "x": dx}
