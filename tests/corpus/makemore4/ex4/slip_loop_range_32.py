# corpus: bug
# exercise: makemore4/ex4
# title: embedding loop written for k in range(32) (the notebook's batch size): right for n=32, IndexError for n=7 and n=24
# bug-class: hardcoded_batch
# root-cause: C
# expect-wrong: C W1 b1 W2 b2 bngain bnbias
# expect-training: pass — training runs the public sizes, n = 32, where it does not crash

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
        n * dhpreact - dhpreact.sum(0) - n / (n - 1) * t.bnraw * (dhpreact * t.bnraw).sum(0)
    )                                                                       # (32, 64)
    # first layer
    dembcat = dhprebn @ t.W1.T                                              # (32, 30)
    dW1 = t.embcat.T @ dhprebn                                              # (30, 64)
    db1 = dhprebn.sum(0)                                                    # (64,)
    # embedding
    demb = dembcat.view(t.emb.shape)                                        # (32, 3, 10)
    dC = torch.zeros_like(t.C)                                              # (27, 10)
    for k in range(32):
        for j in range(3):
            ix = t.Xb[k, j]
            dC[ix] += demb[k, j]

    return {"C": dC, "W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "bngain": dbngain, "bnbias": dbnbias}
