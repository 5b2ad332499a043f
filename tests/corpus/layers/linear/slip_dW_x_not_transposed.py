# corpus: bug
# exercise: layers/linear
# title: dW = (x.T @ dout).T: one .T too many, from mixing up x.T @ dout and (dout.T @ x).T
# bug-class: transpose
# root-cause: W
# expect-wrong: W

def backward(t):
    dx = t.dout @ t.W.T
    dW = (t.x.T @ t.dout).T
    db = t.dout.sum(0)
    return {"x": dx, "W": dW, "b": db}
