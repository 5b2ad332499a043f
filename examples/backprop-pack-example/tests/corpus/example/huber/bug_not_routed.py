# corpus: bug
# exercise: example/huber
# title: delem handed to both branches as one tensor (dquad = dlin = delem, no copy)
# bug-class: unclassified unclassified
# root-cause: quad lin
# expect-wrong: quad lin diff pred target
# known-miss: the grader reads two keys returned as one tensor as an in-place alias ("aliased", and ddiff a root cause too) although nothing here changes a tensor in place; bug_both_branches.py is the same slip with copies

import torch


def backward(t):
    diff, small, delta = t.diff, t.small, t.delta
    delem = torch.full_like(diff, 1.0 / diff.numel())
    zero = torch.zeros_like(delem)
    dquad = delem
    dlin = delem
    ddiff = dquad * diff + dlin * delta * torch.sign(diff)
    dpred = ddiff.clone()
    dtarget = -ddiff
    return {"elem": delem, "quad": dquad, "lin": dlin, "diff": ddiff, "pred": dpred,
            "target": dtarget}
