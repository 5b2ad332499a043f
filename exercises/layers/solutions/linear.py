"""Reference solution of layers/linear."""


def backward(t):
    dout = t.dout
    dx = dout @ t.W.T          # (n, d_in)
    dW = t.x.T @ dout          # (d_in, d_out)
    db = dout.sum(0)           # (d_out,)
    return {"x": dx, "W": dW, "b": db}
