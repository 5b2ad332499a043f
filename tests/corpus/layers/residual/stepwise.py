# corpus: correct
# exercise: layers/residual
# title: one gradient per line, dx as the skip path plus the branch path in one sum

import torch


def backward(t):
    dout = t.dout
    dh = dout.clone()
    dhpre = (1 - t.h**2) * dh
    dW = t.x.T @ dhpre
    db = dhpre.sum(0)
    dx = dout + dhpre @ t.W.T
    return {"h": dh, "hpre": dhpre, "W": dW, "b": db, "x": dx}
