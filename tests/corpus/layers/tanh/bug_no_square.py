# corpus: bug
# exercise: layers/tanh
# title: the square forgotten: (1 - h) * dh instead of (1 - h**2) * dh
# bug-class: unclassified
# root-cause: hpre
# expect-wrong: hpre x W b

def backward(t):
    dhpre = (1 - t.h) * t.dh
    dx = dhpre @ t.W.T
    dW = t.x.T @ dhpre
    db = dhpre.sum(0)
    return {"hpre": dhpre, "x": dx, "W": dW, "b": db}
