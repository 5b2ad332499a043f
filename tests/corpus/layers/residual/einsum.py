# corpus: correct
# exercise: layers/residual
# title: einsum for the linear layer, tanh's derivative from torch.tanh(hpre), torch.add for the two paths

import torch


def backward(t):
    dout = t.dout
    dh = dout.detach().clone()
    dhpre = dh * (1 - torch.tanh(t.hpre) ** 2)
    dW = torch.einsum("ni,nj->ij", t.x, dhpre)
    db = torch.einsum("nj->j", dhpre)
    dx = torch.add(dout, torch.einsum("nj,ij->ni", dhpre, t.W))
    return {"h": dh, "hpre": dhpre, "W": dW, "b": db, "x": dx}
