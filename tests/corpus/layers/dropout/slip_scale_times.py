# corpus: bug
# exercise: layers/dropout
# title: dh = dout * mask * (1 - p): the scale multiplied instead of divided
# bug-class: constant_factor
# root-cause: h
# expect-wrong: h W b x

import torch


def backward(t):
    dh = t.dout * t.mask * (1 - t.p)
    dW = t.x.T @ dh
    db = dh.sum(0)
    dx = dh @ t.W.T
    return {"h": dh, "W": dW, "b": db, "x": dx}
