# corpus: bug
# exercise: layers/residual
# title: dx's branch path as dhpre @ W: W not transposed (square, so no shape error)
# bug-class: transpose
# root-cause: x
# expect-wrong: x

import torch


def backward(t):
    dout = t.dout
    dh = dout.clone()
    dhpre = (1 - t.h**2) * dh
    dW = t.x.T @ dhpre
    db = dhpre.sum(0)
    dx = dout + dhpre @ t.W
    return {"h": dh, "hpre": dhpre, "W": dW, "b": db, "x": dx}
