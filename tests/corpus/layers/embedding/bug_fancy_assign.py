# corpus: bug
# exercise: layers/embedding
# title: dC[idx] = demb: fancy-index assignment keeps one write per token and drops repeated indices
# bug-class: embedding_duplicates
# root-cause: C
# expect-wrong: C

import torch


def backward(t):
    demb = (t.dout @ t.W.T).view(t.emb.shape)
    dC = torch.zeros_like(t.C)
    dC[t.idx] = demb
    return {"emb": demb, "C": dC}
