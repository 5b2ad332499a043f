"""Reference solution of layers/mse."""


def backward(t):
    ddiff = 2 * t.diff / t.diff.numel()   # (n, d_out)
    dpred = ddiff.clone()                 # (n, d_out)
    dx = dpred @ t.W.T                    # (n, d_in)
    dW = t.x.T @ dpred                    # (d_in, d_out)
    db = dpred.sum(0)                     # (d_out,)
    return {"diff": ddiff, "pred": dpred, "x": dx, "W": dW, "b": db}
