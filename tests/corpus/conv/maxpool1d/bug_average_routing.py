# corpus: bug
# exercise: conv/maxpool1d
# title: the window's gradient spread evenly over it (average pooling's rule), not sent to its max
# bug-class: unclassified
# root-cause: h
# expect-wrong: h W x

import torch


def backward(t):
    kernel, stride = t.kernel, t.stride
    L_out = t.dout.shape[2]
    dh = torch.zeros_like(t.h)
    for l in range(L_out):
        start = l * stride
        window = t.h[:, :, start:start + kernel]                       # (N, C, kernel)
        dh[:, :, start:start + kernel] += t.dout[:, :, l:l + 1] / kernel
    dW = (dh @ t.x.transpose(1, 2)).sum(0)
    db = dh.sum((0, 2))
    dx = t.W.T @ dh
    return {"h": dh, "W": dW, "b": db, "x": dx}
