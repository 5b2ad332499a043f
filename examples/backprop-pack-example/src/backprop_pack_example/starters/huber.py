"""example/huber — backprop through the Huber loss, where torch.where picks a branch.

    diff = pred - target                        # (n, d)
    quad = 0.5 * diff**2                        # (n, d)
    lin = delta * (diff.abs() - 0.5 * delta)    # (n, d)
    small = diff.abs() <= delta                 # (n, d) bool
    elem = torch.where(small, quad, lin)        # (n, d)
    loss = elem.mean()                          # ()

Fill in every `None`, then check your work with

    backprop check huber.py -e example/huber

Rules: no autograd; read sizes from the tensors and delta from t.delta (hidden cases change
n, d and delta).
"""

import torch


def backward(t):
    diff, small, delta = t.diff, t.small, t.delta

    delem = None     # (n, d)  hint: the mean is over every element, not only the rows
    dquad = None     # (n, d)  hint: where does quad reach the loss, and where not?
    dlin = None      # (n, d)
    ddiff = None     # (n, d)  hint: diff feeds both branches
    dpred = None     # (n, d)
    dtarget = None   # (n, d)

    return {"elem": delem, "quad": dquad, "lin": dlin, "diff": ddiff, "pred": dpred,
            "target": dtarget}
