# corpus: bug
# exercise: layers/residual
# title: dx = dout: only the skip path, the branch through W forgotten
# bug-class: overwrite_branch
# root-cause: x
# expect-wrong: x

import torch


def backward(t):
    dout = t.dout
    dh = dout.clone()
    dhpre = (1 - t.h**2) * dh
    dW = t.x.T @ dhpre
    db = dhpre.sum(0)
    dx = dout.clone()
    return {"h": dh, "hpre": dhpre, "W": dW, "b": db, "x": dx}
