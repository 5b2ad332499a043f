# corpus: bug
# exercise: layers/relu
# title: dx skips the mask: dx = dh @ W.T (the upstream gradient of the activation, not of hpre)
# bug-class: unclassified
# root-cause: x
# expect-wrong: x

def backward(t):
    dhpre = t.dh * (t.hpre > 0)
    dx = t.dh @ t.W.T
    dW = t.x.T @ dhpre
    db = dhpre.sum(0)
    return {"hpre": dhpre, "x": dx, "W": dW, "b": db}
