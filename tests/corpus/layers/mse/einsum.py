# corpus: correct
# exercise: layers/mse
# title: torch.full_like for the mean's gradient, einsum for the layer

import torch


def backward(t):
    dsq = torch.full_like(t.diff, 1.0 / t.diff.numel())
    ddiff = 2 * t.diff * dsq
    dpred = ddiff.clone()
    dx = torch.einsum("no,io->ni", dpred, t.W)
    dW = torch.einsum("ni,no->io", t.x, dpred)
    db = torch.einsum("no->o", dpred)
    return {"diff": ddiff, "pred": dpred, "x": dx, "W": dW, "b": db}
