# corpus: bug
# exercise: layers/linear
# title: db averaged over the batch (mean) instead of summed: 1/n too many
# bug-class: scale_1_over_n
# root-cause: b
# expect-wrong: b

def backward(t):
    dx = t.dout @ t.W.T
    dW = t.x.T @ t.dout
    db = t.dout.mean(0)
    return {"x": dx, "W": dW, "b": db}
