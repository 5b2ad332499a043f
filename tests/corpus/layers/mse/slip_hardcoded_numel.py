# corpus: bug
# exercise: layers/mse
# title: the mean's count hard-coded from the public case: 2 * diff / 192 (16 * 12)
# bug-class: hardcoded_size
# root-cause: diff
# expect-wrong: diff pred x W b

def backward(t):
    ddiff = 2 * t.diff / 192
    dpred = ddiff.clone()
    dx = dpred @ t.W.T
    dW = t.x.T @ dpred
    db = dpred.sum(0)
    return {"diff": ddiff, "pred": dpred, "x": dx, "W": dW, "b": db}
