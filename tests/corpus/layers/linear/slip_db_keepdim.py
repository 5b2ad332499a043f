# corpus: bug
# exercise: layers/linear
# title: db summed with keepdim=True out of habit: shape (1, d_out) for a bias of shape (d_out,)
# bug-class: missing_keepdim
# root-cause: b
# expect-wrong: b

def backward(t):
    dx = t.dout @ t.W.T
    dW = t.x.T @ t.dout
    db = t.dout.sum(0, keepdim=True)
    return {"x": dx, "W": dW, "b": db}
