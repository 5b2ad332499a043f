# corpus: correct
# exercise: layers/embedding
# title: the lecture's double loop: dC[ix] += demb[k, j] for every position

import torch


def backward(t):
    n, T = t.n, t.T
    demb = (t.dout @ t.W.T).view(n, T, -1)
    dC = torch.zeros_like(t.C)
    for k in range(n):
        for j in range(T):
            ix = t.idx[k, j]
            dC[ix] += demb[k, j]
    return {"emb": demb, "C": dC}
