# corpus: correct
# exercise: conv/maxpool1d
# title: the pool's own argmax via F.max_pool1d(..., return_indices=True), one scatter_add, einsum for the linear layer

import torch
import torch.nn.functional as F


def backward(t):
    _, idx = F.max_pool1d(t.h, t.kernel, t.stride, return_indices=True)
    dh = torch.zeros_like(t.h).scatter_add(2, idx, t.dout)
    dW = torch.einsum("ncl,nil->ci", dh, t.x)
    db = torch.einsum("ncl->c", dh)
    dx = torch.einsum("ci,ncl->nil", t.W, dh)
    return {"h": dh, "W": dW, "b": db, "x": dx}
