# corpus: correct
# exercise: layers/embedding
# title: demb from the linear layer viewed back to (n, T, d), dC with index_add_ over the flattened indices

import torch


def backward(t):
    demb = (t.dout @ t.W.T).view(t.emb.shape)
    dC = torch.zeros_like(t.C)
    dC.index_add_(0, t.idx.view(-1), demb.view(-1, t.C.shape[1]))
    return {"emb": demb, "C": dC}
