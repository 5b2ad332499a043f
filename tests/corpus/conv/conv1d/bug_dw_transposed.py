# corpus: bug
# exercise: conv/conv1d
# title: dw built as (C_in, C_out, K): the einsum's output indices swapped
# bug-class: transpose
# root-cause: w
# expect-wrong: w

import torch
import torch.nn.functional as F


def backward(t):
    s, p = t.stride, t.padding
    L = t.x.shape[-1]
    K = t.w.shape[-1]
    L_out = t.dout.shape[-1]
    xp = F.pad(t.x, (p, p))
    cols = xp.unfold(2, K, s)                               # (N, C_in, L_out, K)
    db = t.dout.sum(dim=(0, 2))
    dw = torch.einsum("nol,nclk->cok", t.dout, cols)
    dcols = torch.einsum("nol,ock->nclk", t.dout, t.w)      # (N, C_in, L_out, K)
    dxp = torch.zeros_like(xp)
    for k in range(K):
        dxp[:, :, k:k + s * (L_out - 1) + 1:s] += dcols[:, :, :, k]
    dx = dxp[:, :, p:p + L]
    return {"b": db, "w": dw, "x": dx}
