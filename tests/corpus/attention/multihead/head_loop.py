# corpus: correct
# exercise: attention/multihead
# title: a loop over the heads with column slices of C, flattened (B*T, C) matmuls for the projections

import torch


def backward(t):
    B, T, C, nh, hs = t.B, t.T, t.C, t.n_head, t.hs
    dout2 = t.dout.reshape(B * T, C)
    dy = (dout2 @ t.Wo.T).view(B, T, C)
    dWo = t.y.reshape(B * T, C).T @ dout2
    dheads = torch.zeros_like(t.heads)
    datt = torch.zeros_like(t.att)
    dvh = torch.zeros_like(t.vh)
    dmasked = torch.zeros_like(t.masked)
    dscores = torch.zeros_like(t.scores)
    dqh = torch.zeros_like(t.qh)
    dkh = torch.zeros_like(t.kh)
    dq = torch.zeros_like(t.q)
    dk = torch.zeros_like(t.k)
    dv = torch.zeros_like(t.v)
    keep = t.tril.bool()
    for h in range(nh):
        cols = slice(h * hs, (h + 1) * hs)
        dheads[:, h] = dy[:, :, cols]
        datt[:, h] = dheads[:, h] @ t.vh[:, h].transpose(1, 2)
        dvh[:, h] = t.att[:, h].transpose(1, 2) @ dheads[:, h]
        a = t.att[:, h]
        dmasked[:, h] = a * datt[:, h] - a * (a * datt[:, h]).sum(-1, keepdim=True)
        dscores[:, h] = dmasked[:, h] * keep
        dqh[:, h] = dscores[:, h] @ t.kh[:, h] * hs**-0.5
        dkh[:, h] = dscores[:, h].transpose(1, 2) @ t.qh[:, h] * hs**-0.5
        dq[:, :, cols] = dqh[:, h]
        dk[:, :, cols] = dkh[:, h]
        dv[:, :, cols] = dvh[:, h]
    x2 = t.x.reshape(B * T, C)
    dWq = x2.T @ dq.reshape(B * T, C)
    dWk = x2.T @ dk.reshape(B * T, C)
    dWv = x2.T @ dv.reshape(B * T, C)
    dx = torch.zeros_like(t.x)
    for dproj, W in ((dq, t.Wq), (dk, t.Wk), (dv, t.Wv)):
        dx += dproj @ W.T
    return {
        "y": dy, "Wo": dWo, "heads": dheads, "att": datt, "vh": dvh, "masked": dmasked,
        "scores": dscores, "qh": dqh, "kh": dkh, "q": dq, "k": dk, "v": dv,
        "Wq": dWq, "Wk": dWk, "Wv": dWv, "x": dx,
    }
