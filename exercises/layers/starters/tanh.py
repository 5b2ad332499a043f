"""layers/tanh — a linear layer followed by a tanh.

    hpre = x @ W + b       # x (n, d_in), W (d_in, d_out), b (d_out,) -> hpre (n, d_out)
    h = torch.tanh(hpre)   # (n, d_out)

You get the upstream gradient t.dh (n, d_out). Check it with

    backprop check tanh.py -e layers/tanh
"""


def backward(t):
    n = t.n         # batch size
    x = t.x         # (n, d_in)
    W = t.W         # (d_in, d_out)
    b = t.b         # (d_out,)
    hpre = t.hpre   # (n, d_out) pre-activation
    h = t.h         # (n, d_out) activation
    dh = t.dh       # (n, d_out) upstream gradient, given

    dhpre = None    # (n, d_out)
    dx = None       # (n, d_in)
    dW = None       # (d_in, d_out)
    db = None       # (d_out,)

    return {"hpre": dhpre, "x": dx, "W": dW, "b": db}
