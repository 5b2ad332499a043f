# corpus: correct
# exercise: layers/linear
# title: the three matmul rules, one line each

def backward(t):
    dx = t.dout @ t.W.T        # (n, d_in)
    dW = t.x.T @ t.dout        # (d_in, d_out)
    db = t.dout.sum(0)         # (d_out,)
    return {"x": dx, "W": dW, "b": db}
