# corpus: correct
# exercise: makemore4/ex4
# title: compact fused formulas (probs - onehot, batchnorm one-liner) with dC via scatter_add_

import torch
import torch.nn.functional as F


def backward(t):
    n = t.n
    n_embd = t.C.shape[1]
    probs = F.softmax(t.logits, 1)                                          # (32, 27)
    dlogits = (probs - torch.zeros_like(probs).scatter_(1, t.Yb[:, None], 1.0)) / n  # (32, 27)
    dW2, db2 = t.h.T @ dlogits, dlogits.sum(0)                              # (64, 27), (27,)
    dhpreact = (1.0 - t.h**2) * (dlogits @ t.W2.T)                          # (32, 64)
    dbngain = (t.bnraw * dhpreact).sum(0, keepdim=True)                     # (1, 64)
    dbnbias = dhpreact.sum(0, keepdim=True)                                 # (1, 64)
    dhprebn = t.bngain * t.bnvar_inv / n * (
        n * dhpreact - dhpreact.sum(0) - n / (n - 1) * t.bnraw * (dhpreact * t.bnraw).sum(0)
    )                                                                       # (32, 64)
    dW1, db1 = t.embcat.T @ dhprebn, dhprebn.sum(0)                         # (30, 64), (64,)
    demb = (dhprebn @ t.W1.T).view(-1, n_embd)                              # (96, 10)
    idx = t.Xb.view(-1, 1).expand(-1, n_embd)                               # (96, 10)
    dC = torch.zeros_like(t.C).scatter_add_(0, idx, demb)                   # (27, 10)
    return {"C": dC, "W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "bngain": dbngain, "bnbias": dbnbias}
