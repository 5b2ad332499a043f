# corpus: bug
# exercise: layers/tanh
# title: the local derivative written as h**2 - 1: the sign of dhpre flipped
# bug-class: sign
# root-cause: hpre
# expect-wrong: hpre x W b

def backward(t):
    dhpre = (t.h**2 - 1) * t.dh
    dx = dhpre @ t.W.T
    dW = t.x.T @ dhpre
    db = dhpre.sum(0)
    return {"hpre": dhpre, "x": dx, "W": dW, "b": db}
