"""layers/residual — a residual connection around a linear + tanh branch.

    hpre = x @ W + b                            # (n, C)  W: (C, C), b: (C,)
    h = torch.tanh(hpre)                        # (n, C)
    out = x + h                                 # (n, C)  the skip connection

You get the upstream gradient t.dout (n, C). Fill in every gradient, in this order: x reaches
out along two paths. Check it with

    backprop check residual.py -e layers/residual
"""

import torch


def backward(t):
    n = t.n
    dout = t.dout          # (n, C) upstream gradient, given

    dh = None              # (n, C)
    dhpre = None           # (n, C)
    dW = None              # (C, C)
    db = None              # (C,)
    dx = None              # (n, C)

    return {"h": dh, "hpre": dhpre, "W": dW, "b": db, "x": dx}
