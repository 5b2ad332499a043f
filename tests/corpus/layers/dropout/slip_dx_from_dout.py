# corpus: bug
# exercise: layers/dropout
# title: dx = dout @ W.T: the linear layer's input gradient taken from dout, skipping the dropout
# bug-class: unclassified
# root-cause: x
# expect-wrong: x

import torch


def backward(t):
    dh = t.dout * t.mask / (1 - t.p)
    dW = t.x.T @ dh
    db = dh.sum(0)
    dx = t.dout @ t.W.T
    return {"h": dh, "W": dW, "b": db, "x": dx}
