"""attention/head — backprop through one causal self-attention head, step by step.

The forward pass (every tensor is available as t.<name>; float64 throughout):

    q = x @ Wq                                              # (B, T, hs)
    k = x @ Wk                                              # (B, T, hs)
    v = x @ Wv                                              # (B, T, hs)
    scores = q @ k.transpose(-2, -1) * hs**-0.5             # (B, T, T)
    masked = scores.masked_fill(tril == 0, float('-inf'))   # (B, T, T)
    att_exp = masked.exp()                                  # (B, T, T)
    att_sum = att_exp.sum(-1, keepdim=True)                 # (B, T, 1)
    att_sum_inv = att_sum**-1                               # (B, T, 1)
    att = att_exp * att_sum_inv                             # (B, T, T)
    out = att @ v                                           # (B, T, hs)

You get the upstream gradient t.dout = dloss/dout. Fill in every `None` with the gradient
of the loss with respect to that tensor, working backwards from out. Check your work with

    backprop check head.py -e attention/head

Rules: no autograd (.backward(), torch.autograd, torch.func are detected and score 0); use
t.B, t.T, t.C, t.hs and shapes, never hard-coded sizes (hidden cases use other ones); keep
everything float64 (torch.zeros_like(t.att), not torch.zeros(B, T, T)).
"""

import torch


def backward(t):
    B, T, C, hs = t.B, t.T, t.C, t.hs  # 3, 8, 16, 4 in the public case
    dout = t.dout                      # (B, T, hs) upstream gradient, given

    datt = None          # (B, T, T)   out = att @ v: a batched matmul
    dv = None            # (B, T, hs)
    datt_sum_inv = None  # (B, T, 1)
    datt_sum = None      # (B, T, 1)
    datt_exp = None      # (B, T, T)   two branches: att and att_sum
    dmasked = None       # (B, T, T)
    dscores = None       # (B, T, T)   hint: masked_fill puts constants where tril == 0
    dq = None            # (B, T, hs)  remember the scale hs**-0.5
    dk = None            # (B, T, hs)
    dWq = None           # (C, hs)     summed over the batch
    dWk = None           # (C, hs)
    dWv = None           # (C, hs)
    dx = None            # (B, T, C)   three branches: q, k and v

    return {
        "att": datt, "v": dv, "att_sum_inv": datt_sum_inv, "att_sum": datt_sum,
        "att_exp": datt_exp, "masked": dmasked, "scores": dscores, "q": dq, "k": dk,
        "Wq": dWq, "Wk": dWk, "Wv": dWv, "x": dx,
    }
