# corpus: bug
# exercise: gpt/block
# title: recomputes the attention probabilities from t.scores for the softmax backward and forgets the causal mask
# bug-class: partial
# root-cause: scores
# expect-wrong: scores q k Wq Wk ln1 ln1_gain ln1_bias xhat1 x

import math

import torch


def backward(t):
    B, T, C, n_head, hs, H = t.B, t.T, t.C, t.n_head, t.hs, t.H

    # y = x1 + m
    dm = t.dout.clone()                                                     # (B, T, C)
    # m = gelu @ W2 + b2
    dW2 = t.gelu.reshape(-1, H).T @ dm.reshape(-1, C)                      # (H, C)
    db2 = dm.sum((0, 1))                                                    # (C,)
    dgelu = dm @ t.W2.T                                                     # (B, T, H)
    # gelu = 0.5 * h * (1 + tanh(u)),  u = sqrt(2/pi) * (h + 0.044715 * h**3)
    u = math.sqrt(2 / math.pi) * (t.h + 0.044715 * t.h**3)
    th = torch.tanh(u)
    dgelu_dh = 0.5 * (1 + th) + 0.5 * t.h * (1 - th**2) * math.sqrt(2 / math.pi) * (
        1 + 3 * 0.044715 * t.h**2)
    dh = dgelu_dh * dgelu                                                   # (B, T, H)
    # h = ln2 @ W1 + b1
    dW1 = t.ln2.reshape(-1, C).T @ dh.reshape(-1, H)                       # (C, H)
    db1 = dh.sum((0, 1))                                                    # (H,)
    dln2 = dh @ t.W1.T                                                      # (B, T, C)
    # ln2 = xhat2 * ln2_gain + ln2_bias
    dln2_gain = (dln2 * t.xhat2).sum((0, 1))                               # (C,)
    dln2_bias = dln2.sum((0, 1))                                            # (C,)
    dxhat2 = dln2 * t.ln2_gain                                              # (B, T, C)
    # LayerNorm 2, step by step: xhat2 = (x1 - mu2) * rstd2
    xc2 = t.x1 - t.mu2
    drstd2 = (dxhat2 * xc2).sum(-1, keepdim=True)                          # (B, T, 1)
    dvar2 = -0.5 * (t.var2 + 1e-5)**-1.5 * drstd2                          # (B, T, 1)
    dxc2 = dxhat2 * t.rstd2 + 2 * xc2 / C * dvar2                          # (B, T, C)
    dmu2 = -dxc2.sum(-1, keepdim=True)                                     # (B, T, 1)
    # x1 feeds y (residual) and the LayerNorm: add both
    dx1 = dm + dxc2 + dmu2 / C                                             # (B, T, C)
    # x1 = x + attn_out
    dattn_out = dx1.clone()                                                 # (B, T, C)
    # attn_out = ycat @ Wo
    dWo = t.ycat.reshape(-1, C).T @ dattn_out.reshape(-1, C)               # (C, C)
    dycat = dattn_out @ t.Wo.T                                              # (B, T, C)
    # ycat = yh.transpose(1, 2).reshape(B, T, C)
    dyh = dycat.view(B, T, n_head, hs).transpose(1, 2)                     # (B, nh, T, hs)
    # yh = att @ v
    datt = dyh @ t.v.transpose(-2, -1)                                     # (B, nh, T, T)
    dv = t.att.transpose(-2, -1) @ dyh                                     # (B, nh, T, hs)
    # att = softmax(masked scores): masked entries have att = 0, so they get no gradient
    p = torch.softmax(t.scores, dim=-1)
    dscores = p * (datt - (p * datt).sum(-1, keepdim=True))                # (B, nh, T, T)
    # scores = q @ k^T * hs**-0.5
    dq = dscores @ t.k * hs**-0.5                                          # (B, nh, T, hs)
    dk = dscores.transpose(-2, -1) @ t.q * hs**-0.5                        # (B, nh, T, hs)
    # q = (ln1 @ Wq).view(B, T, n_head, hs).transpose(1, 2), and so on for k, v
    ln1_flat = t.ln1.reshape(-1, C)
    dq_flat = dq.transpose(1, 2).reshape(-1, C)
    dk_flat = dk.transpose(1, 2).reshape(-1, C)
    dv_flat = dv.transpose(1, 2).reshape(-1, C)
    dWq = ln1_flat.T @ dq_flat                                              # (C, C)
    dWk = ln1_flat.T @ dk_flat                                              # (C, C)
    dWv = ln1_flat.T @ dv_flat                                              # (C, C)
    dln1 = (dq_flat @ t.Wq.T + dk_flat @ t.Wk.T + dv_flat @ t.Wv.T).view(B, T, C)
    # ln1 = xhat1 * ln1_gain + ln1_bias
    dln1_gain = (dln1 * t.xhat1).sum((0, 1))                               # (C,)
    dln1_bias = dln1.sum((0, 1))                                            # (C,)
    dxhat1 = dln1 * t.ln1_gain                                              # (B, T, C)
    # LayerNorm 1, step by step
    xc1 = t.x - t.mu1
    drstd1 = (dxhat1 * xc1).sum(-1, keepdim=True)                          # (B, T, 1)
    dvar1 = -0.5 * (t.var1 + 1e-5)**-1.5 * drstd1                          # (B, T, 1)
    dxc1 = dxhat1 * t.rstd1 + 2 * xc1 / C * dvar1                          # (B, T, C)
    dmu1 = -dxc1.sum(-1, keepdim=True)                                     # (B, T, 1)
    # x feeds x1 (residual) and the LayerNorm: add both
    dx = dx1 + dxc1 + dmu1 / C                                             # (B, T, C)

    return {
        "m": dm, "W2": dW2, "b2": db2, "gelu": dgelu, "h": dh, "W1": dW1, "b1": db1,
        "ln2": dln2, "ln2_gain": dln2_gain, "ln2_bias": dln2_bias, "xhat2": dxhat2,
        "x1": dx1, "attn_out": dattn_out, "Wo": dWo, "ycat": dycat, "yh": dyh, "att": datt,
        "v": dv, "scores": dscores, "q": dq, "k": dk, "Wq": dWq, "Wk": dWk, "Wv": dWv,
        "ln1": dln1, "ln1_gain": dln1_gain, "ln1_bias": dln1_bias, "xhat1": dxhat1, "x": dx,
    }
