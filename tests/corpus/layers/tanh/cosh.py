# corpus: correct
# exercise: layers/tanh
# title: tanh' = 1 / cosh(hpre)**2 from the input, einsum for the layer

import torch


def backward(t):
    dhpre = t.dh / torch.cosh(t.hpre) ** 2
    dx = torch.einsum("no,io->ni", dhpre, t.W)
    dW = torch.einsum("ni,no->io", t.x, dhpre)
    db = torch.einsum("no->o", dhpre)
    return {"hpre": dhpre, "x": dx, "W": dW, "b": db}
