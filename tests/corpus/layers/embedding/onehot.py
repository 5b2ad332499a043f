# corpus: correct
# exercise: layers/embedding
# title: one-hot matmul: dC = one_hot(idx).T @ demb, demb via einsum over W reshaped per position

import torch
import torch.nn.functional as F


def backward(t):
    n, T = t.n, t.T
    V, d = t.C.shape
    demb = torch.einsum("nh,tdh->ntd", t.dout, t.W.view(T, d, -1))
    onehot = F.one_hot(t.idx.reshape(-1), V).to(demb.dtype)
    dC = onehot.T @ demb.reshape(n * T, d)
    return {"emb": demb, "C": dC}
