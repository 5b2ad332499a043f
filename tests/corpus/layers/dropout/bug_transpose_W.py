# corpus: bug
# exercise: layers/dropout
# title: dW = dh.T @ x: the weight gradient transposed, shape (H, D) instead of (D, H)
# bug-class: transpose
# root-cause: W
# expect-wrong: W

import torch


def backward(t):
    dh = t.dout * t.mask / (1 - t.p)
    dW = dh.T @ t.x
    db = dh.sum(0)
    dx = dh @ t.W.T
    return {"h": dh, "W": dW, "b": db, "x": dx}
