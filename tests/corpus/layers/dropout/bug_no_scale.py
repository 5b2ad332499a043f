# corpus: bug
# exercise: layers/dropout
# title: dh = dout * mask: the inverted-dropout scale 1/(1-p) forgotten
# bug-class: constant_factor
# root-cause: h
# expect-wrong: h W b x

import torch


def backward(t):
    dh = t.dout * t.mask
    dW = t.x.T @ dh
    db = dh.sum(0)
    dx = dh @ t.W.T
    return {"h": dh, "W": dW, "b": db, "x": dx}
