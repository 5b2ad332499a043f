"""layers/mse — mean squared error of a linear layer's prediction.

    pred = x @ W + b          # x (n, d_in), W (d_in, d_out), b (d_out,) -> pred (n, d_out)
    diff = pred - target      # (n, d_out)
    loss = (diff**2).mean()   # scalar: the mean over all n * d_out elements

The loss is the end of the graph (no upstream gradient). Check it with

    backprop check mse.py -e layers/mse
"""


def backward(t):
    n = t.n             # batch size
    x = t.x             # (n, d_in)
    W = t.W             # (d_in, d_out)
    b = t.b             # (d_out,)
    target = t.target   # (n, d_out)
    pred = t.pred       # (n, d_out)
    diff = t.diff       # (n, d_out)

    ddiff = None        # (n, d_out)
    dpred = None        # (n, d_out)
    dx = None           # (n, d_in)
    dW = None           # (d_in, d_out)
    db = None           # (d_out,)

    return {"diff": ddiff, "pred": dpred, "x": dx, "W": dW, "b": db}
