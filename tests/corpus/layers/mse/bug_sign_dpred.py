# corpus: bug
# exercise: layers/mse
# title: dpred = -ddiff (the minus of diff = pred - target put on pred instead of target)
# bug-class: sign
# root-cause: pred
# expect-wrong: pred x W b

def backward(t):
    ddiff = 2 * t.diff / t.diff.numel()
    dpred = -ddiff
    dx = dpred @ t.W.T
    dW = t.x.T @ dpred
    db = dpred.sum(0)
    return {"diff": ddiff, "pred": dpred, "x": dx, "W": dW, "b": db}
