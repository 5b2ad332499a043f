# corpus: bug
# exercise: layers/dropout
# title: dh = dout / (1 - p): the mask ignored, dropped units get a gradient
# bug-class: unclassified
# root-cause: h
# expect-wrong: h W b x

import torch


def backward(t):
    dh = t.dout / (1 - t.p)
    dW = t.x.T @ dh
    db = dh.sum(0)
    dx = dh @ t.W.T
    return {"h": dh, "W": dW, "b": db, "x": dx}
