# corpus: bug
# exercise: conv/maxpool1d
# title: db sums over the batch and the channels, (0, 1), instead of the batch and the positions
# bug-class: wrong_sum_dim
# root-cause: b
# expect-wrong: b

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
    db = dh.sum((0, 1))
    dx = t.W.T @ dh
    return {"h": dh, "W": dW, "b": db, "x": dx}
