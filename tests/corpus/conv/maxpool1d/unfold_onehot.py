# corpus: correct
# exercise: conv/maxpool1d
# title: all windows with unfold, a one-hot of each argmax times dout, folded back one kernel tap at a time; flattened matmuls

import torch
import torch.nn.functional as F


def backward(t):
    k, s = t.kernel, t.stride
    N, C, L = t.h.shape
    C_in = t.x.shape[1]
    L_out = t.dout.shape[-1]
    cols = t.h.unfold(2, k, s)                                   # (N, C, L_out, k)
    hit = F.one_hot(cols.argmax(-1), k).to(t.dout.dtype)         # (N, C, L_out, k)
    dcols = hit * t.dout.unsqueeze(-1)
    dh = torch.zeros_like(t.h)
    for j in range(k):
        dh[:, :, j:j + s * (L_out - 1) + 1:s] += dcols[..., j]
    dh2 = dh.permute(1, 0, 2).reshape(C, N * L)                  # (C, N*L)
    x2 = t.x.permute(1, 0, 2).reshape(C_in, N * L)               # (C_in, N*L)
    dW = dh2 @ x2.T
    db = dh2.sum(1)
    dx = (t.W.T @ dh2).reshape(C_in, N, L).permute(1, 0, 2)
    return {"h": dh, "W": dW, "b": db, "x": dx}
