# corpus: correct
# exercise: layers/relu
# title: masked_fill of a clone (no pre-activation is exactly 0, so hpre >= 0 is as good), db as ones @ dhpre

import torch


def backward(t):
    dhpre = t.dh.clone().masked_fill(t.hpre < 0, 0.0)
    dW = t.x.T @ dhpre
    db = torch.ones(t.n) @ dhpre
    dx = (t.W @ dhpre.T).T
    return {"hpre": dhpre, "x": dx, "W": dW, "b": db}
