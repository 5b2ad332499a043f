# corpus: bug
# exercise: makemore4/ex4
# title: dC[Xb] += demb looks like accumulation, but fancy-index += keeps one write per token and drops repeated indices
# bug-class: embedding_duplicates
# root-cause: C
# expect-wrong: C

import torch
import torch.nn.functional as F


def backward(t):
    n = t.n
    n_embd = t.C.shape[1]
    dlogits = (F.softmax(t.logits, 1) - F.one_hot(t.Yb, t.logits.shape[1])) / n   # (32, 27)
    dh = dlogits @ t.W2.T                                                   # (32, 64)
    dW2 = t.h.T @ dlogits                                                   # (64, 27)
    db2 = dlogits.sum(0)                                                    # (27,)
    dhpreact = (1.0 - t.h**2) * dh                                          # (32, 64)
    dbngain = (t.bnraw * dhpreact).sum(0, keepdim=True)                     # (1, 64)
    dbnbias = dhpreact.sum(0, keepdim=True)                                 # (1, 64)
    dhprebn = t.bngain * t.bnvar_inv * (
        dhpreact - dhpreact.mean(0, keepdim=True)
        - t.bnraw * (dhpreact * t.bnraw).sum(0, keepdim=True) / (n - 1)
    )                                                                       # (32, 64)
    dembcat = dhprebn @ t.W1.T                                              # (32, 30)
    dW1 = t.embcat.T @ dhprebn                                              # (30, 64)
    db1 = dhprebn.sum(0)                                                    # (64,)
    demb = dembcat.view(-1, n_embd)                                         # (96, 10)
    dC = torch.zeros_like(t.C)                                              # (27, 10)
    dC[t.Xb.view(-1)] += demb
    return {"C": dC, "W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "bngain": dbngain, "bnbias": dbnbias}
