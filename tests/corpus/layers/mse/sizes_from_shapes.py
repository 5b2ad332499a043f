# corpus: correct
# exercise: layers/mse
# title: the mean's 1/(n * d_out) from t.n and W's shape, diff recomputed from pred and target

def backward(t):
    n, d_out = t.n, t.W.shape[1]
    ddiff = (t.pred - t.target) * (2.0 / (n * d_out))
    dpred = ddiff * 1.0
    dW = t.x.T @ dpred
    db = dpred.sum(0)
    dx = (t.W @ dpred.T).T
    return {"diff": ddiff, "pred": dpred, "x": dx, "W": dW, "b": db}
