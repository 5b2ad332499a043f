# corpus: correct
# exercise: conv/maxpool1d
# title: a loop over the windows: argmax per window, scatter_add of that output's gradient, then the linear layer's three gradients

import torch


def backward(t):
    kernel, stride = t.kernel, t.stride
    L_out = t.dout.shape[2]
    dh = torch.zeros_like(t.h)
    for l in range(L_out):
        start = l * stride
        window = t.h[:, :, start:start + kernel]                       # (N, C, kernel)
        at = window.argmax(dim=2, keepdim=True)                         # (N, C, 1)
        dh[:, :, start:start + kernel].scatter_add_(2, at, t.dout[:, :, l:l + 1])
    dW = (dh @ t.x.transpose(1, 2)).sum(0)
    db = dh.sum((0, 2))
    dx = t.W.T @ dh
    return {"h": dh, "W": dW, "b": db, "x": dx}
