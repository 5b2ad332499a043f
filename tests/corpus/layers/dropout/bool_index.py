# corpus: correct
# exercise: layers/dropout
# title: boolean-mask assignment into zeros, matmuls written as transposes of each other, db as a matmul with ones

import torch


def backward(t):
    keep = t.mask.bool()
    dh = torch.zeros_like(t.h)
    dh[keep] = t.dout[keep] / (1 - t.p)
    dW = (dh.T @ t.x).T
    db = dh.T @ torch.ones(t.n, dtype=dh.dtype)
    dx = (t.W @ dh.T).T
    return {"h": dh, "W": dW, "b": db, "x": dx}
