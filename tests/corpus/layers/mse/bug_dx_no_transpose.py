# corpus: bug
# exercise: layers/mse
# title: dx = (dpred @ W.T).T: a transpose too many, shape (d_in, n)
# bug-class: transpose
# root-cause: x
# expect-wrong: x

def backward(t):
    ddiff = 2 * t.diff / t.diff.numel()
    dpred = ddiff.clone()
    dx = (dpred @ t.W.T).T
    dW = t.x.T @ dpred
    db = dpred.sum(0)
    return {"diff": ddiff, "pred": dpred, "x": dx, "W": dW, "b": db}
