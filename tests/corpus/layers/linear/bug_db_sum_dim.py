# corpus: bug
# exercise: layers/linear
# title: db summed over the output dim (sum(1)) instead of the batch: shape (n,)
# bug-class: wrong_sum_dim
# root-cause: b
# expect-wrong: b

def backward(t):
    dx = t.dout @ t.W.T
    dW = t.x.T @ t.dout
    db = t.dout.sum(1)
    return {"x": dx, "W": dW, "b": db}
