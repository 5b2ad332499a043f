"""Reference solution of layers/dropout: one gradient per line, in backward order."""

import torch


def backward(t):
    p = t.p
    # out = h * mask / (1 - p)
    dh = t.dout * t.mask / (1 - p)                                  # (n, H)
    # h = x @ W + b
    dW = t.x.T @ dh                                                 # (D, H)
    db = dh.sum(0)                                                  # (H,)
    dx = dh @ t.W.T                                                 # (n, D)
    return {"h": dh, "W": dW, "b": db, "x": dx}
