# corpus: bug
# exercise: example/huber
# title: the linear branch's derivative as delta, without sign(diff)
# bug-class: partial
# root-cause: diff
# expect-wrong: diff pred target

import torch


def backward(t):
    diff, small, delta = t.diff, t.small, t.delta
    delem = torch.full_like(diff, 1.0 / diff.numel())
    zero = torch.zeros_like(delem)
    dquad = torch.where(small, delem, zero)
    dlin = torch.where(small, zero, delem)
    ddiff = dquad * diff + dlin * delta
    dpred = ddiff.clone()
    dtarget = -ddiff
    return {"elem": delem, "quad": dquad, "lin": dlin, "diff": ddiff, "pred": dpred,
            "target": dtarget}
