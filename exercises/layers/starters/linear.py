"""layers/linear — a linear layer: the gradients of its input, weight and bias.

    out = x @ W + b    # x (n, d_in), W (d_in, d_out), b (d_out,) -> out (n, d_out)

You get the upstream gradient t.dout (n, d_out). Check it with

    backprop check linear.py -e layers/linear
"""


def backward(t):
    n = t.n         # batch size
    x = t.x         # (n, d_in)
    W = t.W         # (d_in, d_out)
    b = t.b         # (d_out,)
    dout = t.dout   # (n, d_out) upstream gradient, given

    dx = None       # (n, d_in)
    dW = None       # (d_in, d_out)
    db = None       # (d_out,)

    return {"x": dx, "W": dW, "b": db}
