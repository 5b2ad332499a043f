"""Reference solution of makemore4/ex4 (the lecture's exercise-4 backward pass).

Not package data: solutions stay in the source tree (`backprop validate makemore4/ex4`).
Lines marked `# validate: equivalent` carry mutants that cannot move a graded value beyond
float noise; the reason is on the line.
"""

import torch
import torch.nn.functional as F


def backward(t):
    n = t.n
    # cross-entropy
    dlogits = F.softmax(t.logits, 1)                                        # (n, 27)
    dlogits[range(n), t.Yb] -= 1
    dlogits /= n
    # second layer
    dh = dlogits @ t.W2.T                                                   # (n, 64)
    dW2 = t.h.T @ dlogits                                                   # (64, 27)
    db2 = dlogits.sum(0)                                                    # (27,)
    # tanh
    dhpreact = (1.0 - t.h**2) * dh                                          # (n, 64)
    # batchnorm
    dbngain = (t.bnraw * dhpreact).sum(0, keepdim=True)                     # (1, 64)
    dbnbias = dhpreact.sum(0, keepdim=True)                                 # (1, 64)
    dhprebn = t.bngain * t.bnvar_inv / n * (
        n * dhpreact - dhpreact.sum(0) - n / (n - 1) * t.bnraw * (dhpreact * t.bnraw).sum(0)
    )                                                                       # (n, 64)
    # first layer
    dembcat = dhprebn @ t.W1.T                                              # (n, 30)
    dW1 = t.embcat.T @ dhprebn                                              # (30, 64)
    db1 = dhprebn.sum(0)  # validate: equivalent — b1's true gradient is ~0 (batchnorm subtracts the batch mean), float noise whatever its sign
    # embedding
    demb = dembcat.view(t.emb.shape)                                        # (n, 3, 10)
    dC = torch.zeros_like(t.C)                                              # (27, 10)
    for k in range(t.Xb.shape[0]):
        for j in range(t.Xb.shape[1]):  # validate: equivalent — the context length (3) is the same in every case
            ix = t.Xb[k, j]
            dC[ix] += demb[k, j]

    return {"C": dC, "W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "bngain": dbngain, "bnbias": dbnbias}
