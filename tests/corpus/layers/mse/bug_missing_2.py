# corpus: bug
# exercise: layers/mse
# title: the power rule's 2 forgotten: diff / numel
# bug-class: factor_2
# root-cause: diff
# expect-wrong: diff pred x W b

def backward(t):
    ddiff = t.diff / t.diff.numel()
    dpred = ddiff.clone()
    dx = dpred @ t.W.T
    dW = t.x.T @ dpred
    db = dpred.sum(0)
    return {"diff": ddiff, "pred": dpred, "x": dx, "W": dW, "b": db}
