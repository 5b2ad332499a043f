# corpus: correct
# exercise: attention/head
# title: einsum everywhere, the mask as a product with tril, dx from the concatenated projections

import torch


def backward(t):
    scale = t.q.shape[-1] ** -0.5
    datt = torch.einsum("bth,bsh->bts", t.dout, t.v)
    dv = torch.einsum("bts,bth->bsh", t.att, t.dout)
    datt_sum_inv = torch.einsum("bts,bts->bt", t.att_exp, datt).unsqueeze(-1)
    datt_sum = -datt_sum_inv / (t.att_sum * t.att_sum)
    datt_exp = datt * t.att_sum_inv + datt_sum.expand_as(datt)
    dmasked = datt_exp * torch.exp(t.masked)
    dscores = dmasked * t.tril
    dq = torch.einsum("bts,bsh->bth", dscores, t.k) * scale
    dk = torch.einsum("bts,bth->bsh", dscores, t.q) * scale
    dWq = torch.einsum("btc,bth->ch", t.x, dq)
    dWk = torch.einsum("btc,bth->ch", t.x, dk)
    dWv = torch.einsum("btc,bth->ch", t.x, dv)
    W = torch.cat([t.Wq, t.Wk, t.Wv], dim=1)                 # (C, 3 hs)
    dx = torch.cat([dq, dk, dv], dim=-1) @ W.T
    return {
        "att": datt, "v": dv, "att_sum_inv": datt_sum_inv, "att_sum": datt_sum,
        "att_exp": datt_exp, "masked": dmasked, "scores": dscores, "q": dq, "k": dk,
        "Wq": dWq, "Wk": dWk, "Wv": dWv, "x": dx,
    }
