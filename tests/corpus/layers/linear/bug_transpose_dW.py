# corpus: bug
# exercise: layers/linear
# title: dW = dout.T @ x: the operands swapped, shape (d_out, d_in) instead of (d_in, d_out)
# bug-class: transpose
# root-cause: W
# expect-wrong: W

def backward(t):
    dx = t.dout @ t.W.T
    dW = t.dout.T @ t.x
    db = t.dout.sum(0)
    return {"x": dx, "W": dW, "b": db}
