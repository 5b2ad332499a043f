# corpus: bug
# exercise: attention/head
# title: dk = dscores @ q: the batched matmul misses the transpose of dscores (keys index the columns)
# bug-class: transpose
# root-cause: k
# expect-wrong: k Wk x

import torch


def backward(t):
    hs = t.hs
    dout = t.dout                                                   # (B, T, hs)
    # out = att @ v
    datt = dout @ t.v.transpose(-2, -1)                             # (B, T, T)
    dv = t.att.transpose(-2, -1) @ dout                             # (B, T, hs)
    # att = att_exp * att_sum_inv
    datt_sum_inv = (t.att_exp * datt).sum(-1, keepdim=True)         # (B, T, 1)
    # att_sum_inv = att_sum**-1
    datt_sum = -t.att_sum**-2 * datt_sum_inv                        # (B, T, 1)
    # att_exp feeds att and att_sum
    datt_exp = t.att_sum_inv * datt                                 # (B, T, T)
    datt_exp += datt_sum
    # att_exp = masked.exp()
    dmasked = t.att_exp * datt_exp                                  # (B, T, T)
    # masked = scores.masked_fill(tril == 0, -inf)
    dscores = dmasked.masked_fill(t.tril == 0, 0.0)                 # (B, T, T)
    # scores = q @ k^T * hs**-0.5
    dq = dscores @ t.k * hs**-0.5                                   # (B, T, hs)
    dk = dscores @ t.q * hs**-0.5                 # (B, T, hs)
    # q = x @ Wq, k = x @ Wk, v = x @ Wv
    dWq = (t.x.transpose(-2, -1) @ dq).sum(0)                       # (C, hs)
    dWk = (t.x.transpose(-2, -1) @ dk).sum(0)                       # (C, hs)
    dWv = (t.x.transpose(-2, -1) @ dv).sum(0)                       # (C, hs)
    dx = dq @ t.Wq.T                                                # (B, T, C)
    dx += dk @ t.Wk.T
    dx += dv @ t.Wv.T
    return {
        "att": datt, "v": dv, "att_sum_inv": datt_sum_inv, "att_sum": datt_sum,
        "att_exp": datt_exp, "masked": dmasked, "scores": dscores, "q": dq, "k": dk,
        "Wq": dWq, "Wk": dWk, "Wv": dWv, "x": dx,
    }
