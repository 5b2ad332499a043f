# corpus: bug
# exercise: conv/maxpool1d
# title: scatter instead of scatter_add: an element that is the max of two overlapping windows keeps only one window's gradient
# bug-class: embedding_duplicates
# root-cause: h
# expect-wrong: h W b x

import torch
import torch.nn.functional as F


def backward(t):
    _, idx = F.max_pool1d(t.h, t.kernel, t.stride, return_indices=True)
    dh = torch.zeros_like(t.h).scatter(2, idx, t.dout)
    dW = torch.einsum("ncl,nil->ci", dh, t.x)
    db = torch.einsum("ncl->c", dh)
    dx = torch.einsum("ci,ncl->nil", t.W, dh)
    return {"h": dh, "W": dW, "b": db, "x": dx}
