"""layers/dropout — dropout with a given mask, on top of a linear layer.

    h = x @ W + b                               # (n, H)  the linear layer below
    out = h * mask / (1 - p)                    # (n, H)  dropout, mask: (n, H) of 0.0/1.0

You get the upstream gradient t.dout (n, H), the mask t.mask and the drop probability t.p
(a float). Fill in every gradient, in this order. Check it with

    backprop check dropout.py -e layers/dropout
"""

import torch


def backward(t):
    n = t.n
    p = t.p                # drop probability, a float
    mask = t.mask          # (n, H) 1.0 = kept, 0.0 = dropped
    dout = t.dout          # (n, H) upstream gradient, given

    dh = None              # (n, H)
    dW = None              # (D, H)
    db = None              # (H,)
    dx = None              # (n, D)

    return {"h": dh, "W": dW, "b": db, "x": dx}
