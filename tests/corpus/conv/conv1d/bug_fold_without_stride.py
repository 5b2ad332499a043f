# corpus: bug
# exercise: conv/conv1d
# title: the fold writes dcols back with step 1 (k:k + L_out) instead of stride steps
# bug-class: unclassified
# root-cause: x
# expect-wrong: x

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
    dw = torch.einsum("nol,nclk->ock", t.dout, cols)
    dcols = torch.einsum("nol,ock->nclk", t.dout, t.w)      # (N, C_in, L_out, K)
    dxp = torch.zeros_like(xp)
    for k in range(K):
        dxp[:, :, k:k + L_out] += dcols[:, :, :, k]
    dx = dxp[:, :, p:p + L]
    return {"b": db, "w": dw, "x": dx}
