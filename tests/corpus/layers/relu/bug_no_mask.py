# corpus: bug
# exercise: layers/relu
# title: ReLU's mask forgotten: dhpre = dh, as if the activation were the identity
# bug-class: unclassified
# root-cause: hpre
# expect-wrong: hpre x W b

def backward(t):
    dhpre = t.dh.clone()
    dx = dhpre @ t.W.T
    dW = t.x.T @ dhpre
    db = dhpre.sum(0)
    return {"hpre": dhpre, "x": dx, "W": dW, "b": db}
