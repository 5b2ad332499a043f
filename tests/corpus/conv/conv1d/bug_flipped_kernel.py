# corpus: bug
# exercise: conv/conv1d
# title: dx computed with the kernel flipped (w.flip(-1)), as for a true convolution; conv1d is a cross-correlation
# bug-class: unclassified
# root-cause: x
# expect-wrong: x

import torch
import torch.nn.functional as F


def backward(t):
    x, w, dout = t.x, t.w, t.dout
    stride, padding = t.stride, t.padding
    L = x.shape[2]
    K = w.shape[2]
    L_out = dout.shape[2]
    xp = F.pad(x, (padding, padding))
    db = dout.sum((0, 2))
    dw = torch.zeros_like(w)
    dxp = torch.zeros_like(xp)
    for l in range(L_out):
        start = l * stride
        window = xp[:, :, start:start + K]                              # (N, C_in, K)
        dw += torch.einsum("no,nck->ock", dout[:, :, l], window)
        dxp[:, :, start:start + K] += torch.einsum("no,ock->nck", dout[:, :, l], w.flip(-1))
    dx = dxp[:, :, padding:padding + L]
    return {"b": db, "w": dw, "x": dx}
