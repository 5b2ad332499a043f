# corpus: bug
# exercise: makemore4/ex4
# title: the lecture's fused batchnorm without the Bessel factor (n/(n-1)*bnraw -> bnraw); dC, accumulated with += in a loop, must not be called an index_add_ mistake
# bug-class: bessel
# expect-wrong: C W1

import torch
import torch.nn.functional as F


def backward(t):
    n = t.n
    # cross-entropy
    dlogits = F.softmax(t.logits, 1)                                        # (32, 27)
    dlogits[range(n), t.Yb] -= 1
    dlogits /= n
    # second layer
    dh = dlogits @ t.W2.T                                                   # (32, 64)
    dW2 = t.h.T @ dlogits                                                   # (64, 27)
    db2 = dlogits.sum(0)                                                    # (27,)
    # tanh
    dhpreact = (1.0 - t.h**2) * dh                                          # (32, 64)
    # batchnorm
    dbngain = (t.bnraw * dhpreact).sum(0, keepdim=True)                     # (1, 64)
    dbnbias = dhpreact.sum(0, keepdim=True)                                 # (1, 64)
    dhprebn = t.bngain * t.bnvar_inv / n * (
        n * dhpreact - dhpreact.sum(0) - t.bnraw * (dhpreact * t.bnraw).sum(0)
    )                                                                       # (32, 64)
    # first layer
    dembcat = dhprebn @ t.W1.T                                              # (32, 30)
    dW1 = t.embcat.T @ dhprebn                                              # (30, 64)
    db1 = dhprebn.sum(0)                                                    # (64,)
    # embedding
    demb = dembcat.view(t.emb.shape)                                        # (32, 3, 10)
    dC = torch.zeros_like(t.C)                                              # (27, 10)
    for k in range(t.Xb.shape[0]):
        for j in range(t.Xb.shape[1]):
            ix = t.Xb[k, j]
            dC[ix] += demb[k, j]

    return {"C": dC, "W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "bngain": dbngain, "bnbias": dbnbias}
