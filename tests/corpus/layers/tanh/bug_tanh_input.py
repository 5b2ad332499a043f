# corpus: bug
# exercise: layers/tanh
# title: tanh's derivative on its input: 1 - hpre**2 instead of 1 - h**2
# bug-class: tanh_wrong_tensor
# root-cause: hpre
# expect-wrong: hpre x W b

def backward(t):
    dhpre = (1 - t.hpre**2) * t.dh
    dx = dhpre @ t.W.T
    dW = t.x.T @ dhpre
    db = dhpre.sum(0)
    return {"hpre": dhpre, "x": dx, "W": dW, "b": db}
