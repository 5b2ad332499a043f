# corpus: bug
# exercise: layers/relu
# title: db averaged over the batch: dhpre.sum(0) / n
# bug-class: scale_1_over_n
# root-cause: b
# expect-wrong: b

def backward(t):
    dhpre = t.dh * (t.hpre > 0)
    dx = dhpre @ t.W.T
    dW = t.x.T @ dhpre
    db = dhpre.sum(0) / t.n
    return {"hpre": dhpre, "x": dx, "W": dW, "b": db}
