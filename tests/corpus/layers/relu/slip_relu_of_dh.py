# corpus: bug
# exercise: layers/relu
# title: ReLU applied to the gradient (torch.relu(dh)) instead of masking it by the pre-activation's sign
# bug-class: unclassified
# root-cause: hpre
# expect-wrong: hpre x W b

import torch


def backward(t):
    dhpre = torch.relu(t.dh)
    dx = dhpre @ t.W.T
    dW = t.x.T @ dhpre
    db = dhpre.sum(0)
    return {"hpre": dhpre, "x": dx, "W": dW, "b": db}
