# corpus: correct
# exercise: layers/tanh
# title: 1 - h**2 from the output, then the linear layer's three rules

def backward(t):
    dhpre = (1 - t.h**2) * t.dh
    dx = dhpre @ t.W.T
    dW = t.x.T @ dhpre
    db = dhpre.sum(0)
    return {"hpre": dhpre, "x": dx, "W": dW, "b": db}
