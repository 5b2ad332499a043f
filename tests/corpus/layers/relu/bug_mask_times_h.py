# corpus: bug
# exercise: layers/relu
# title: the derivative written with the activation's value: dhpre = dh * h instead of dh * (h > 0)
# bug-class: derivative_wrong_tensor
# root-cause: hpre
# expect-wrong: hpre x W b

def backward(t):
    dhpre = t.dh * t.h
    dx = dhpre @ t.W.T
    dW = t.x.T @ dhpre
    db = dhpre.sum(0)
    return {"hpre": dhpre, "x": dx, "W": dW, "b": db}
