# corpus: bug
# exercise: layers/linear
# title: db = torch.ones(16) @ dout: the public batch size hard-coded, so backward raises for any other n
# bug-class: hardcoded_batch
# root-cause: b
# expect-wrong: x W b

import torch


def backward(t):
    dx = t.dout @ t.W.T
    dW = t.x.T @ t.dout
    db = torch.ones(16) @ t.dout
    return {"x": dx, "W": dW, "b": db}
