# corpus: correct
# exercise: makemore4/ex3
# title: chains the atomic batchnorm steps (bnraw -> bnvar_inv -> bnvar -> bndiff2 -> bndiff -> bnmeani) using the given intermediates

import torch


def backward(t):
    n = t.n
    dbnraw = t.bngain * t.dhpreact                                          # (32, 64)
    dbndiff = t.bnvar_inv * dbnraw                                          # (32, 64)
    dbnvar_inv = (t.bndiff * dbnraw).sum(0, keepdim=True)                   # (1, 64)
    dbnvar = -0.5 * (t.bnvar + 1e-5)**-1.5 * dbnvar_inv                     # (1, 64)
    dbndiff2 = torch.ones_like(t.bndiff) * dbnvar / (n - 1)                 # (32, 64)
    dbndiff += 2 * t.bndiff * dbndiff2                                      # (32, 64)
    dbnmeani = -dbndiff.sum(0, keepdim=True)                                # (1, 64)
    dhprebn = dbndiff + dbnmeani / n                                        # (32, 64)
    return {"hprebn": dhprebn}
