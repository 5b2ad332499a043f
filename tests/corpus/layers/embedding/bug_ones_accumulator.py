# corpus: bug
# exercise: layers/embedding
# title: dC started at torch.ones_like(C) instead of zeros before accumulating
# bug-class: constant_offset
# root-cause: C
# expect-wrong: C

import torch


def backward(t):
    demb = (t.dout @ t.W.T).view(t.emb.shape)
    dC = torch.ones_like(t.C)
    dC.index_add_(0, t.idx.view(-1), demb.view(-1, t.C.shape[1]))
    return {"emb": demb, "C": dC}
