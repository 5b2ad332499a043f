# corpus: bug
# exercise: layers/relu
# title: dW = dhpre.T @ x: shape (d_out, d_in) instead of (d_in, d_out)
# bug-class: transpose
# root-cause: W
# expect-wrong: W

def backward(t):
    dhpre = t.dh * (t.hpre > 0)
    dx = dhpre @ t.W.T
    dW = dhpre.T @ t.x
    db = dhpre.sum(0)
    return {"hpre": dhpre, "x": dx, "W": dW, "b": db}
