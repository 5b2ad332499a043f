# corpus: correct
# exercise: gpt/block
# title: one head at a time: a loop over heads slicing the weights' columns, the softmax Jacobian diag(p) - p p^T built per row, zeros_like accumulators

import math

import torch


def backward(t):
    B, T, C, n_head, hs, H = t.B, t.T, t.C, t.n_head, t.hs, t.H
    X = lambda a: a.reshape(-1, a.shape[-1])

    dm = t.dout.clone()
    dW2 = X(t.gelu).T @ X(dm)
    db2 = X(dm).sum(0)
    dgelu = dm @ t.W2.T
    c = math.sqrt(2 / math.pi)
    inner = c * (t.h + 0.044715 * t.h**3)
    # gelu = 0.5 h (1 + tanh(inner)); product rule, then the chain rule through tanh
    dh = dgelu * 0.5 * (1 + torch.tanh(inner))
    dh = dh + dgelu * 0.5 * t.h * (1 - torch.tanh(inner) ** 2) * c * (1 + 3 * 0.044715 * t.h**2)
    dW1 = X(t.ln2).T @ X(dh)
    db1 = X(dh).sum(0)
    dln2 = dh @ t.W1.T
    dln2_gain = X(dln2 * t.xhat2).sum(0)
    dln2_bias = X(dln2).sum(0)
    dxhat2 = dln2 * t.ln2_gain
    g = dxhat2 * t.rstd2
    dx1 = g - g.mean(-1, keepdim=True) - t.xhat2 * (g * t.xhat2).mean(-1, keepdim=True)
    dx1 = dx1 + t.dout
    dattn_out = dx1.clone()
    dWo = X(t.ycat).T @ X(dattn_out)
    dycat = dattn_out @ t.Wo.T

    dyh = torch.zeros_like(t.yh)
    datt = torch.zeros_like(t.att)
    dv = torch.zeros_like(t.v)
    dscores = torch.zeros_like(t.scores)
    dq = torch.zeros_like(t.q)
    dk = torch.zeros_like(t.k)
    dWq = torch.zeros_like(t.Wq)
    dWk = torch.zeros_like(t.Wk)
    dWv = torch.zeros_like(t.Wv)
    dln1 = torch.zeros_like(t.ln1)
    for i in range(n_head):
        cols = slice(i * hs, (i + 1) * hs)
        dyh[:, i] = dycat[:, :, cols]
        datt[:, i] = dyh[:, i] @ t.v[:, i].transpose(1, 2)
        dv[:, i] = t.att[:, i].transpose(1, 2) @ dyh[:, i]
        for b in range(B):
            for r in range(T):
                p = t.att[b, i, r]
                jac = torch.diag(p) - torch.outer(p, p)
                dscores[b, i, r] = jac @ datt[b, i, r]
        dq[:, i] = dscores[:, i] @ t.k[:, i] / math.sqrt(hs)
        dk[:, i] = dscores[:, i].transpose(1, 2) @ t.q[:, i] / math.sqrt(hs)
        dWq[:, cols] = X(t.ln1).T @ X(dq[:, i])
        dWk[:, cols] = X(t.ln1).T @ X(dk[:, i])
        dWv[:, cols] = X(t.ln1).T @ X(dv[:, i])
        dln1 += dq[:, i] @ t.Wq[:, cols].T
        dln1 += dk[:, i] @ t.Wk[:, cols].T
        dln1 += dv[:, i] @ t.Wv[:, cols].T

    dln1_gain = X(dln1 * t.xhat1).sum(0)
    dln1_bias = X(dln1).sum(0)
    dxhat1 = dln1 * t.ln1_gain
    g = dxhat1 * t.rstd1
    dx = g - g.mean(-1, keepdim=True) - t.xhat1 * (g * t.xhat1).mean(-1, keepdim=True)
    dx += dx1

    return {
        "m": dm, "W2": dW2, "b2": db2, "gelu": dgelu, "h": dh, "W1": dW1, "b1": db1,
        "ln2": dln2, "ln2_gain": dln2_gain, "ln2_bias": dln2_bias, "xhat2": dxhat2,
        "x1": dx1, "attn_out": dattn_out, "Wo": dWo, "ycat": dycat, "yh": dyh, "att": datt,
        "v": dv, "scores": dscores, "q": dq, "k": dk, "Wq": dWq, "Wk": dWk, "Wv": dWv,
        "ln1": dln1, "ln1_gain": dln1_gain, "ln1_bias": dln1_bias, "xhat1": dxhat1, "x": dx,
    }
