# corpus: bug
# exercise: layers/linear
# title: dx with a stray minus sign
# bug-class: sign
# root-cause: x
# expect-wrong: x

def backward(t):
    dx = -t.dout @ t.W.T
    dW = t.x.T @ t.dout
    db = t.dout.sum(0)
    return {"x": dx, "W": dW, "b": db}
