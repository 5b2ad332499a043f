# corpus: bug
# exercise: layers/residual
# title: dW = dhpre.T @ x: the weight gradient transposed (W is square, so the shape cannot tell)
# bug-class: transpose
# root-cause: W
# expect-wrong: W

import torch


def backward(t):
    dout = t.dout
    dh = dout.clone()
    dhpre = (1 - t.h**2) * dh
    dW = dhpre.T @ t.x
    db = dhpre.sum(0)
    dx = dout + dhpre @ t.W.T
    return {"h": dh, "hpre": dhpre, "W": dW, "b": db, "x": dx}
