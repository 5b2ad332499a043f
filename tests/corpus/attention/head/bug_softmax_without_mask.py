# corpus: bug
# exercise: attention/head
# title: the fused softmax gradient recomputes the softmax from scores, forgetting the causal mask
# bug-class: partial
# root-cause: masked
# expect-wrong: masked scores q k Wq Wk x

import torch


def backward(t):
    B, T, C, hs = t.B, t.T, t.C, t.hs
    datt = torch.zeros_like(t.att)
    dv = torch.zeros_like(t.v)
    for b in range(B):
        datt[b] = t.dout[b] @ t.v[b].T
        dv[b] = t.att[b].T @ t.dout[b]
    # the chain's intermediates, each from the one above it
    datt_sum_inv = (datt * t.att_exp).sum(dim=2, keepdim=True)
    datt_sum = -(t.att_sum_inv ** 2) * datt_sum_inv
    datt_exp = datt * t.att_sum_inv + datt_sum
    # the whole softmax at once: dmasked = att * (datt - sum(att * datt))
    p = torch.softmax(t.scores, dim=-1)
    dmasked = p * (datt - (p * datt).sum(-1, keepdim=True))
    dscores = torch.where(t.tril.bool(), dmasked, torch.zeros_like(dmasked))
    dq = torch.zeros_like(t.q)
    dk = torch.zeros_like(t.k)
    for b in range(B):
        dq[b] = dscores[b] @ t.k[b] / hs**0.5
        dk[b] = dscores[b].T @ t.q[b] / hs**0.5
    x2 = t.x.reshape(B * T, C)
    dWq = x2.T @ dq.reshape(B * T, hs)
    dWk = x2.T @ dk.reshape(B * T, hs)
    dWv = x2.T @ dv.reshape(B * T, hs)
    dx = (dq.reshape(-1, hs) @ t.Wq.T + dk.reshape(-1, hs) @ t.Wk.T
          + dv.reshape(-1, hs) @ t.Wv.T).view(B, T, C)
    return {
        "att": datt, "v": dv, "att_sum_inv": datt_sum_inv, "att_sum": datt_sum,
        "att_exp": datt_exp, "masked": dmasked, "scores": dscores, "q": dq, "k": dk,
        "Wq": dWq, "Wk": dWk, "Wv": dWv, "x": dx,
    }
