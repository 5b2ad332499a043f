"""layers/embedding — an embedding lookup with repeated tokens, then a linear layer.

    emb = C[idx]                                # (n, T, d)  idx: (n, T) ints in [0, V)
    out = emb.view(n, T * d) @ W + b            # (n, H)

You get the upstream gradient t.dout (n, H). Tokens repeat: a row of C used k times gets the
sum of its k gradients. Check it with

    backprop check embedding.py -e layers/embedding
"""

import torch


def backward(t):
    n, T = t.n, t.T
    idx = t.idx            # (n, T) int64 token indices
    dout = t.dout          # (n, H) upstream gradient, given

    demb = None            # (n, T, d)
    dC = None              # (V, d)

    return {"emb": demb, "C": dC}
