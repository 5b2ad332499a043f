# corpus: bug
# exercise: layers/tanh
# title: dW computed from the activation's gradient dh instead of dhpre (tanh skipped for dW)
# bug-class: unclassified
# root-cause: W
# expect-wrong: W

def backward(t):
    dhpre = (1 - t.h**2) * t.dh
    dx = dhpre @ t.W.T
    dW = t.x.T @ t.dh
    db = dhpre.sum(0)
    return {"hpre": dhpre, "x": dx, "W": dW, "b": db}
