# corpus: bug
# exercise: layers/mse
# title: the mean forgotten: ddiff = 2 * diff (the gradient of the sum of squares)
# bug-class: scale_1_over_n
# root-cause: diff
# expect-wrong: diff pred x W b

def backward(t):
    ddiff = 2 * t.diff
    dpred = ddiff.clone()
    dx = dpred @ t.W.T
    dW = t.x.T @ dpred
    db = dpred.sum(0)
    return {"diff": ddiff, "pred": dpred, "x": dx, "W": dW, "b": db}
