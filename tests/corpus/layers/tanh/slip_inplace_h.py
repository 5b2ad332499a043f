# corpus: bug
# exercise: layers/tanh
# title: h squared in place (h **= 2, changing t.h) before 1 - h**2 reads it: the square is taken twice
# bug-class: inplace_input
# root-cause: hpre
# expect-wrong: hpre x W b

def backward(t):
    h = t.h
    h **= 2
    dhpre = (1 - h**2) * t.dh
    dx = dhpre @ t.W.T
    dW = t.x.T @ dhpre
    db = dhpre.sum(0)
    return {"hpre": dhpre, "x": dx, "W": dW, "b": db}
