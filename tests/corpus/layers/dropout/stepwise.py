# corpus: correct
# exercise: layers/dropout
# title: one gradient per line: the dropout's local derivative mask / (1 - p), then the linear layer

import torch


def backward(t):
    p = t.p
    dout = t.dout
    dh = dout * t.mask / (1 - p)
    dW = t.x.T @ dh
    db = dh.sum(0)
    dx = dh @ t.W.T
    return {"h": dh, "W": dW, "b": db, "x": dx}
