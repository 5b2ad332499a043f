# corpus: correct
# exercise: layers/relu
# title: mask from the pre-activation, then the linear layer's three rules

def backward(t):
    dhpre = t.dh * (t.hpre > 0).float()
    dx = dhpre @ t.W.T
    dW = t.x.T @ dhpre
    db = dhpre.sum(0)
    return {"hpre": dhpre, "x": dx, "W": dW, "b": db}
