"""example/swiglu — backprop through a SwiGLU feed-forward block, one step at a time.

    h1 = x @ W1            # (n, h)
    h3 = x @ W3            # (n, h)
    act = F.silu(h1)       # (n, h)   silu(z) = z * sigmoid(z)
    gate = act * h3        # (n, h)
    out = gate @ W2        # (n, d)

You get the upstream gradient t.dout. Fill in every `None`, then check your work with

    backprop check swiglu.py -e example/swiglu

Rules: no autograd; read sizes from the tensors (hidden cases change n, d and h).
"""

import torch


def backward(t):
    x, W1, W3, W2 = t.x, t.W1, t.W3, t.W2      # (n, d), (d, h), (d, h), (h, d)
    h1, h3, act, gate = t.h1, t.h3, t.act, t.gate
    dout = t.dout                              # (n, d) upstream gradient, given

    dgate = None   # (n, h)
    dW2 = None     # (h, d)
    dact = None    # (n, h)
    dh3 = None     # (n, h)
    dh1 = None     # (n, h)  hint: d/dz silu(z) = sigmoid(z) * (1 + z * (1 - sigmoid(z)))
    dW3 = None     # (d, h)
    dW1 = None     # (d, h)
    dx = None      # (n, d)  hint: x feeds two matmuls

    return {"gate": dgate, "W2": dW2, "act": dact, "h3": dh3, "h1": dh1,
            "W3": dW3, "W1": dW1, "x": dx}
