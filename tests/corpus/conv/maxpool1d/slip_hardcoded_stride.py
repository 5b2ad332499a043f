# corpus: bug
# exercise: conv/maxpool1d
# title: the window start written l * 2 (the public stride): wrong wherever the stride is not 2
# bug-class: hardcoded_size
# root-cause: h
# expect-wrong: h W x

import torch


def backward(t):
    kernel, stride = t.kernel, t.stride
    L_out = t.dout.shape[2]
    dh = torch.zeros_like(t.h)
    for l in range(L_out):
        start = l * 2
        window = t.h[:, :, start:start + kernel]                       # (N, C, kernel)
        at = window.argmax(dim=2, keepdim=True)                         # (N, C, 1)
        dh[:, :, start:start + kernel].scatter_add_(2, at, t.dout[:, :, l:l + 1])
    dW = (dh @ t.x.transpose(1, 2)).sum(0)
    db = dh.sum((0, 2))
    dx = t.W.T @ dh
    return {"h": dh, "W": dW, "b": db, "x": dx}
