"""layers/layernorm — LayerNorm over the last dimension, step by step (float64).

    mean = x.mean(-1, keepdim=True)             # (n, 1)
    diff = x - mean                             # (n, C)
    var = (diff**2).mean(-1, keepdim=True)      # (n, 1)  biased, as nn.LayerNorm
    rstd = (var + 1e-5)**-0.5                   # (n, 1)
    xhat = diff * rstd                          # (n, C)  normalized
    out = gain * xhat + bias                    # (n, C)  gain, bias: (C,)

You get the upstream gradient t.dout (n, C). Fill in every gradient, in this order, in
float64 (t's tensors already are). Check it with

    backprop check layernorm.py -e layers/layernorm
"""

import torch


def backward(t):
    n, C = t.n, t.C
    dout = t.dout          # (n, C) upstream gradient, given

    dxhat = None           # (n, C)
    dgain = None           # (C,)
    dbias = None           # (C,)
    drstd = None           # (n, 1)
    dvar = None            # (n, 1)
    ddiff = None           # (n, C)
    dmean = None           # (n, 1)
    dx = None              # (n, C)

    return {"xhat": dxhat, "gain": dgain, "bias": dbias, "rstd": drstd, "var": dvar,
            "diff": ddiff, "mean": dmean, "x": dx}
