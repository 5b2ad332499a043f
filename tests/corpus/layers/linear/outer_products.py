# corpus: correct
# exercise: layers/linear
# title: dW as a sum of per-example outer products, db as ones @ dout, dx transposed back

import torch


def backward(t):
    n = t.n
    dW = torch.zeros_like(t.W)
    for i in range(n):
        dW += torch.outer(t.x[i], t.dout[i])
    db = torch.ones(n) @ t.dout
    dx = (t.W @ t.dout.T).T
    return {"x": dx, "W": dW, "b": db}
