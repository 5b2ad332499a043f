# corpus: bug
# exercise: layers/dropout
# title: db = dh.sum(1): the bias gradient summed over the units instead of the batch
# bug-class: wrong_sum_dim
# root-cause: b
# expect-wrong: b

import torch


def backward(t):
    dh = t.dout * t.mask / (1 - t.p)
    dW = t.x.T @ dh
    db = dh.sum(1)
    dx = dh @ t.W.T
    return {"h": dh, "W": dW, "b": db, "x": dx}
