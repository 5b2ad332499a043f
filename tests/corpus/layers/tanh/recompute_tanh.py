# corpus: correct
# exercise: layers/tanh
# title: tanh recomputed from hpre, (1 - h)(1 + h) factored, db as ones @ dhpre, dx transposed back

import torch


def backward(t):
    h = torch.tanh(t.hpre)
    dhpre = t.dh * (1 - h) * (1 + h)
    dW = t.x.T @ dhpre
    db = torch.ones(t.n) @ dhpre
    dx = (t.W @ dhpre.T).T
    return {"hpre": dhpre, "x": dx, "W": dW, "b": db}
