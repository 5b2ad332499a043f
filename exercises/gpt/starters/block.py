"""gpt/block — backprop through one whole pre-norm transformer block.

Fill in every `None` with the gradient of the loss with respect to that tensor, working
backwards from dout. The LayerNorm statistics (mu, var, rstd) and the masked scores are not
graded: go through them step by step or use the one-line LayerNorm and softmax backward
formulas, as you like. Check your work locally with

    backprop check block.py -e gpt/block

Everything is float64 (your gradients must be too): the tolerance is
max|yours - autograd| <= 1e-9 + 1e-7 * max|autograd|.

Rules: no autograd (.backward(), torch.autograd, torch.func are detected and score 0); use
t.B, t.T, t.C, t.n_head, t.hs, t.H and the tensors' shapes, never hard-coded sizes (hidden
cases use other ones).
"""

import math

import torch


def backward(t):
    B, T, C = t.B, t.T, t.C               # batch, sequence length, width (2, 5, 12 public)
    n_head, hs, H = t.n_head, t.hs, t.H   # heads, head size C // n_head, MLP width (4, 3, 48)

    # The forward pass, for reference. Every tensor here is available as t.<name>.
    # mask = torch.tril(torch.ones(T, T, dtype=torch.bool)); t.dout is given.
    # F.gelu(h, approximate="tanh") = 0.5 * h * (1 + tanh(sqrt(2/pi) * (h + 0.044715 * h**3)))
    #   hs = C // n_head                                            # head size
    #   mu1 = x.mean(-1, keepdim=True)                              # (B, T, 1)
    #   var1 = ((x - mu1)**2).mean(-1, keepdim=True)                # (B, T, 1)  biased: 1/C
    #   rstd1 = (var1 + 1e-5)**-0.5                                 # (B, T, 1)
    #   xhat1 = (x - mu1) * rstd1                                   # (B, T, C)
    #   ln1 = xhat1 * ln1_gain + ln1_bias                           # (B, T, C)
    #   q = (ln1 @ Wq).view(B, T, n_head, hs).transpose(1, 2)       # (B, nh, T, hs)
    #   k = (ln1 @ Wk).view(B, T, n_head, hs).transpose(1, 2)       # (B, nh, T, hs)
    #   v = (ln1 @ Wv).view(B, T, n_head, hs).transpose(1, 2)       # (B, nh, T, hs)
    #   scores = q @ k.transpose(-2, -1) * hs**-0.5                 # (B, nh, T, T)
    #   att = scores.masked_fill(~mask, float("-inf")).softmax(-1)  # (B, nh, T, T)  causal
    #   yh = att @ v                                                # (B, nh, T, hs)
    #   ycat = yh.transpose(1, 2).reshape(B, T, C)                  # (B, T, C)  heads side by side
    #   attn_out = ycat @ Wo                                        # (B, T, C)
    #   x1 = x + attn_out                                           # (B, T, C)  residual
    #   mu2 = x1.mean(-1, keepdim=True)                             # (B, T, 1)
    #   var2 = ((x1 - mu2)**2).mean(-1, keepdim=True)               # (B, T, 1)
    #   rstd2 = (var2 + 1e-5)**-0.5                                 # (B, T, 1)
    #   xhat2 = (x1 - mu2) * rstd2                                  # (B, T, C)
    #   ln2 = xhat2 * ln2_gain + ln2_bias                           # (B, T, C)
    #   h = ln2 @ W1 + b1                                           # (B, T, H)
    #   gelu = F.gelu(h, approximate="tanh")                        # (B, T, H)
    #   m = gelu @ W2 + b2                                          # (B, T, C)
    #   y = x1 + m                                                  # (B, T, C)  residual
    #   loss = (y * dout).sum()                                     # dout: (B, T, C), given

    dm = None          # (B, T, C)
    dW2 = None         # (H, C)
    db2 = None         # (C,)
    dgelu = None       # (B, T, H)
    dh = None          # (B, T, H)   GELU's derivative, on h
    dW1 = None         # (C, H)
    db1 = None         # (H,)
    dln2 = None        # (B, T, C)
    dln2_gain = None   # (C,)
    dln2_bias = None   # (C,)
    dxhat2 = None      # (B, T, C)
    dx1 = None         # (B, T, C)   two branches: x1 feeds y AND the second LayerNorm (+=)
    dattn_out = None   # (B, T, C)
    dWo = None         # (C, C)
    dycat = None       # (B, T, C)
    dyh = None         # (B, n_head, T, hs)
    datt = None        # (B, n_head, T, T)
    dv = None          # (B, n_head, T, hs)
    dscores = None     # (B, n_head, T, T)  masked entries get no gradient
    dq = None          # (B, n_head, T, hs)
    dk = None          # (B, n_head, T, hs)
    dWq = None         # (C, C)
    dWk = None         # (C, C)
    dWv = None         # (C, C)
    dln1 = None        # (B, T, C)   three branches: ln1 feeds q, k AND v
    dln1_gain = None   # (C,)
    dln1_bias = None   # (C,)
    dxhat1 = None      # (B, T, C)
    dx = None          # (B, T, C)   two branches: x feeds x1 AND the first LayerNorm

    return {
        "m": dm, "W2": dW2, "b2": db2, "gelu": dgelu, "h": dh, "W1": dW1, "b1": db1,
        "ln2": dln2, "ln2_gain": dln2_gain, "ln2_bias": dln2_bias, "xhat2": dxhat2,
        "x1": dx1, "attn_out": dattn_out, "Wo": dWo, "ycat": dycat, "yh": dyh, "att": datt,
        "v": dv, "scores": dscores, "q": dq, "k": dk, "Wq": dWq, "Wk": dWk, "Wv": dWv,
        "ln1": dln1, "ln1_gain": dln1_gain, "ln1_bias": dln1_bias, "xhat1": dxhat1, "x": dx,
    }
