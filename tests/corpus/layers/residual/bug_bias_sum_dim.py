# corpus: bug
# exercise: layers/residual
# title: db = dhpre.sum(1): summed over the features instead of the batch
# bug-class: wrong_sum_dim
# root-cause: b
# expect-wrong: b

import torch


def backward(t):
    dout = t.dout
    dh = dout.clone()
    dhpre = (1 - t.h**2) * dh
    dW = t.x.T @ dhpre
    db = dhpre.sum(1)
    dx = dout + dhpre @ t.W.T
    return {"h": dh, "hpre": dhpre, "W": dW, "b": db, "x": dx}
