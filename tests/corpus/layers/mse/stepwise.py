# corpus: correct
# exercise: layers/mse
# title: 2 * diff / numel, then the linear layer's three rules

def backward(t):
    ddiff = 2 * t.diff / t.diff.numel()
    dpred = ddiff.clone()
    dx = dpred @ t.W.T
    dW = t.x.T @ dpred
    db = dpred.sum(0)
    return {"diff": ddiff, "pred": dpred, "x": dx, "W": dW, "b": db}
