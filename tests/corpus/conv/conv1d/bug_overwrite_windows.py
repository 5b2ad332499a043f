# corpus: bug
# exercise: conv/conv1d
# title: dxp[...] = instead of += in the loop: where windows overlap (K > stride) only the last window's part survives
# bug-class: overwrite_branch
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
        dxp[:, :, start:start + K] = torch.einsum("no,ock->nck", dout[:, :, l], w)
    dx = dxp[:, :, padding:padding + L]
    return {"b": db, "w": dw, "x": dx}
