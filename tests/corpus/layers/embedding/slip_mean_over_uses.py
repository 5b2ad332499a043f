# corpus: bug
# exercise: layers/embedding
# title: a row used k times gets the mean of its k gradients instead of their sum (right only on rows used once or never)
# bug-class: partial
# root-cause: C
# expect-wrong: C

import torch


def backward(t):
    demb = (t.dout @ t.W.T).view(t.emb.shape)
    flat = t.idx.view(-1)
    dC = torch.zeros_like(t.C)
    dC.index_add_(0, flat, demb.view(-1, t.C.shape[1]))
    counts = torch.bincount(flat, minlength=t.C.shape[0]).clamp(min=1)
    dC = dC / counts[:, None]
    return {"emb": demb, "C": dC}
