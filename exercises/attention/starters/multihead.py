"""attention/multihead — backprop through multi-head causal self-attention.

The forward pass (every tensor is available as t.<name>; float64 throughout):

    q = x @ Wq                                              # (B, T, C)
    k = x @ Wk                                              # (B, T, C)
    v = x @ Wv                                              # (B, T, C)
    qh = q.view(B, T, n_head, hs).transpose(1, 2)           # (B, n_head, T, hs)
    kh = k.view(B, T, n_head, hs).transpose(1, 2)           # (B, n_head, T, hs)
    vh = v.view(B, T, n_head, hs).transpose(1, 2)           # (B, n_head, T, hs)
    scores = qh @ kh.transpose(-2, -1) * hs**-0.5           # (B, n_head, T, T)
    masked = scores.masked_fill(tril == 0, float('-inf'))   # (B, n_head, T, T)
    att = torch.softmax(masked, dim=-1)                     # (B, n_head, T, T)
    heads = att @ vh                                        # (B, n_head, T, hs)
    y = heads.transpose(1, 2).reshape(B, T, C)              # (B, T, C)
    out = y @ Wo                                            # (B, T, C)

You get the upstream gradient t.dout = dloss/dout. Fill in every `None` with the gradient
of the loss with respect to that tensor, working backwards from out. Check your work with

    backprop check multihead.py -e attention/multihead

Rules: no autograd (.backward(), torch.autograd, torch.func are detected and score 0); use
t.B, t.T, t.C, t.n_head, t.hs and shapes, never hard-coded sizes (hidden cases use other
ones); keep everything float64 (torch.zeros_like(t.x), not torch.zeros(B, T, C)).
"""

import torch


def backward(t):
    B, T, C, n_head, hs = t.B, t.T, t.C, t.n_head, t.hs  # 3, 8, 16, 4, 4 in the public case
    dout = t.dout        # (B, T, C) upstream gradient, given

    dy = None            # (B, T, C)
    dWo = None           # (C, C)            summed over batch and time
    dheads = None        # (B, n_head, T, hs) undo the transpose and the reshape
    datt = None          # (B, n_head, T, T)
    dvh = None           # (B, n_head, T, hs)
    dmasked = None       # (B, n_head, T, T)  softmax's gradient, one formula
    dscores = None       # (B, n_head, T, T)
    dqh = None           # (B, n_head, T, hs) remember the scale hs**-0.5
    dkh = None           # (B, n_head, T, hs)
    dq = None            # (B, T, C)          put the heads side by side again
    dk = None            # (B, T, C)
    dv = None            # (B, T, C)
    dWq = None           # (C, C)
    dWk = None           # (C, C)
    dWv = None           # (C, C)
    dx = None            # (B, T, C)          three branches: q, k and v

    return {
        "y": dy, "Wo": dWo, "heads": dheads, "att": datt, "vh": dvh, "masked": dmasked,
        "scores": dscores, "qh": dqh, "kh": dkh, "q": dq, "k": dk, "v": dv,
        "Wq": dWq, "Wk": dWk, "Wv": dWv, "x": dx,
    }
