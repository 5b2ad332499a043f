# corpus: bug
# exercise: layers/embedding
# title: the double loop with dC[ix] = demb[k, j]: = instead of +=, the last use of a token wins
# bug-class: embedding_duplicates
# root-cause: C
# expect-wrong: C

import torch


def backward(t):
    n, T = t.n, t.T
    demb = (t.dout @ t.W.T).view(n, T, -1)
    dC = torch.zeros_like(t.C)
    for k in range(n):
        for j in range(T):
            dC[t.idx[k, j]] = demb[k, j]
    return {"emb": demb, "C": dC}
