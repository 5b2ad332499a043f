# corpus: bug
# exercise: layers/residual
# title: dx = dout, then dx = dhpre @ W.T further down: the second path overwrites the first (= for +=)
# bug-class: overwrite_branch
# root-cause: x
# expect-wrong: x

import torch


def backward(t):
    dout = t.dout
    dx = dout.clone()
    dh = dout.clone()
    dhpre = (1 - t.h**2) * dh
    dW = t.x.T @ dhpre
    db = dhpre.sum(0)
    dx = dhpre @ t.W.T
    return {"h": dh, "hpre": dhpre, "W": dW, "b": db, "x": dx}
