# corpus: bug
# exercise: layers/dropout
# title: p = 0.2 hard-coded from the public case instead of read from t.p
# bug-class: hardcoded_size
# root-cause: h
# expect-wrong: h W b x

import torch


def backward(t):
    dh = t.dout * t.mask / (1 - 0.2)
    dW = t.x.T @ dh
    db = dh.sum(0)
    dx = dh @ t.W.T
    return {"h": dh, "W": dW, "b": db, "x": dx}
