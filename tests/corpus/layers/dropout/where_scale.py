# corpus: correct
# exercise: layers/dropout
# title: torch.where on the mask, scale computed once, einsum for the weight gradient

import torch


def backward(t):
    scale = 1.0 / (1.0 - t.p)
    dh = torch.where(t.mask > 0.5, t.dout * scale, torch.zeros_like(t.dout))
    dW = torch.einsum("nd,nh->dh", t.x, dh)
    db = torch.einsum("nh->h", dh)
    dx = torch.einsum("nh,dh->nd", dh, t.W)
    return {"h": dh, "W": dW, "b": db, "x": dx}
