# corpus: correct
# exercise: layers/linear
# title: index notation with torch.einsum

import torch


def backward(t):
    dx = torch.einsum("no,io->ni", t.dout, t.W)
    dW = torch.einsum("ni,no->io", t.x, t.dout)
    db = torch.einsum("no->o", t.dout)
    return {"x": dx, "W": dW, "b": db}
