# corpus: bug
# exercise: layers/tanh
# title: db summed over the units (sum(1)) instead of the batch: shape (n,)
# bug-class: wrong_sum_dim
# root-cause: b
# expect-wrong: b

def backward(t):
    dhpre = (1 - t.h**2) * t.dh
    dx = dhpre @ t.W.T
    dW = t.x.T @ dhpre
    db = dhpre.sum(1)
    return {"hpre": dhpre, "x": dx, "W": dW, "b": db}
