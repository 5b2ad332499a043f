# corpus: bug
# exercise: layers/residual
# title: tanh's derivative as 1 - hpre**2: taken on the input instead of the output
# bug-class: tanh_wrong_tensor
# root-cause: hpre
# expect-wrong: hpre W b x

import torch


def backward(t):
    dout = t.dout
    dh = dout.clone()
    dhpre = (1 - t.hpre**2) * dh
    dW = t.x.T @ dhpre
    db = dhpre.sum(0)
    dx = dout + dhpre @ t.W.T
    return {"h": dh, "hpre": dhpre, "W": dW, "b": db, "x": dx}
