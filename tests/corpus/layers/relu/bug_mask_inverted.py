# corpus: bug
# exercise: layers/relu
# title: the mask passes the negative pre-activations (hpre < 0) instead of the positive ones
# bug-class: unclassified
# root-cause: hpre
# expect-wrong: hpre x W b

def backward(t):
    dhpre = t.dh * (t.hpre < 0)
    dx = dhpre @ t.W.T
    dW = t.x.T @ dhpre
    db = dhpre.sum(0)
    return {"hpre": dhpre, "x": dx, "W": dW, "b": db}
