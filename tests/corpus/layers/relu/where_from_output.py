# corpus: correct
# exercise: layers/relu
# title: torch.where on the activation (h > 0 is the same mask), einsum for the layer

import torch


def backward(t):
    dhpre = torch.where(t.h > 0, t.dh, torch.zeros_like(t.dh))
    dx = torch.einsum("no,io->ni", dhpre, t.W)
    dW = torch.einsum("ni,no->io", t.x, dhpre)
    db = torch.einsum("no->o", dhpre)
    return {"hpre": dhpre, "x": dx, "W": dW, "b": db}
