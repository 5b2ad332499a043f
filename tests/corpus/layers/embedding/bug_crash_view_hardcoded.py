# corpus: bug
# exercise: layers/embedding
# title: demb viewed as (8, 3, 4), the public case's sizes: crashes for every other n, T, d
# bug-class: hardcoded_batch
# root-cause: emb
# expect-wrong: emb C

import torch


def backward(t):
    demb = (t.dout @ t.W.T).view(8, 3, 4)
    dC = torch.zeros_like(t.C)
    dC.index_add_(0, t.idx.view(-1), demb.view(-1, t.C.shape[1]))
    return {"emb": demb, "C": dC}
