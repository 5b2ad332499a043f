# corpus: bug
# exercise: layers/embedding
# title: demb viewed as (n, d, T) then transposed: the concatenation order of the embeddings undone wrongly
# bug-class: unclassified
# root-cause: emb
# expect-wrong: emb C

import torch


def backward(t):
    n, T = t.n, t.T
    d = t.C.shape[1]
    demb = (t.dout @ t.W.T).view(n, d, T).transpose(1, 2)
    dC = torch.zeros_like(t.C)
    dC.index_add_(0, t.idx.reshape(-1), demb.reshape(-1, d))
    return {"emb": demb, "C": dC}
