# corpus: correct
# exercise: gpt/block
# title: fused: the one-line LayerNorm and softmax backward formulas, GELU's derivative in one expression, flattened (B*T, C) matmuls

import math

import torch


def layernorm_back(dxhat, xhat, rstd):
    """d(input) of xhat = (x - mean) * rstd, in one line (biased variance)."""
    C = xhat.shape[-1]
    return rstd / C * (C * dxhat - dxhat.sum(-1, keepdim=True)
                       - xhat * (dxhat * xhat).sum(-1, keepdim=True))


def backward(t):
    B, T, C, nh, hs, H = t.B, t.T, t.C, t.n_head, t.hs, t.H
    flat = lambda a: a.reshape(B * T, -1)
    heads_to_flat = lambda a: a.transpose(1, 2).reshape(B * T, C)

    dm = t.dout.clone()
    dW2 = flat(t.gelu).T @ flat(dm)
    db2 = flat(dm).sum(0)
    dgelu = dm @ t.W2.T
    k0 = math.sqrt(2 / math.pi)
    th = torch.tanh(k0 * (t.h + 0.044715 * t.h**3))
    dh = dgelu * (0.5 * (1 + th) + 0.5 * t.h * (1 - th * th) * k0 * (1 + 0.134145 * t.h**2))
    dW1 = flat(t.ln2).T @ flat(dh)
    db1 = flat(dh).sum(0)
    dln2 = dh @ t.W1.T
    dln2_gain = (flat(dln2) * flat(t.xhat2)).sum(0)
    dln2_bias = flat(dln2).sum(0)
    dxhat2 = dln2 * t.ln2_gain
    dx1 = t.dout + layernorm_back(dxhat2, t.xhat2, t.rstd2)
    dattn_out = dx1.clone()
    dWo = flat(t.ycat).T @ flat(dattn_out)
    dycat = dattn_out @ t.Wo.T
    dyh = dycat.reshape(B, T, nh, hs).permute(0, 2, 1, 3)
    datt = dyh @ t.v.mT
    dv = t.att.mT @ dyh
    dscores = t.att * datt - t.att * (t.att * datt).sum(-1, keepdim=True)
    dq = hs**-0.5 * dscores @ t.k
    dk = hs**-0.5 * dscores.mT @ t.q
    dWq = flat(t.ln1).T @ heads_to_flat(dq)
    dWk = flat(t.ln1).T @ heads_to_flat(dk)
    dWv = flat(t.ln1).T @ heads_to_flat(dv)
    dln1 = (heads_to_flat(dq) @ t.Wq.T + heads_to_flat(dk) @ t.Wk.T
            + heads_to_flat(dv) @ t.Wv.T).reshape(B, T, C)
    dln1_gain = (dln1 * t.xhat1).sum((0, 1))
    dln1_bias = dln1.sum((0, 1))
    dxhat1 = dln1 * t.ln1_gain
    dx = dx1 + layernorm_back(dxhat1, t.xhat1, t.rstd1)

    return {
        "m": dm, "W2": dW2, "b2": db2, "gelu": dgelu, "h": dh, "W1": dW1, "b1": db1,
        "ln2": dln2, "ln2_gain": dln2_gain, "ln2_bias": dln2_bias, "xhat2": dxhat2,
        "x1": dx1, "attn_out": dattn_out, "Wo": dWo, "ycat": dycat, "yh": dyh, "att": datt,
        "v": dv, "scores": dscores, "q": dq, "k": dk, "Wq": dWq, "Wk": dWk, "Wv": dWv,
        "ln1": dln1, "ln1_gain": dln1_gain, "ln1_bias": dln1_bias, "xhat1": dxhat1, "x": dx,
    }
