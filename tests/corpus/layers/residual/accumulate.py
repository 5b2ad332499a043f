# corpus: correct
# exercise: layers/residual
# title: dx accumulated with += from zeros, one path at a time, as autograd does

import torch


def backward(t):
    dout = t.dout
    dx = torch.zeros_like(t.x)
    dx += dout
    dh = dout
    dhpre = dh * (1 - t.h * t.h)
    dW = torch.zeros_like(t.W)
    dW += t.x.T @ dhpre
    db = dhpre.sum(0)
    dx += dhpre @ t.W.T
    return {"h": dh, "hpre": dhpre, "W": dW, "b": db, "x": dx}
