# corpus: bug
# exercise: example/huber
# title: delta typed as 1.0, the public value: right until a hidden case changes delta alone
# bug-class: hardcoded_size
# root-cause: diff
# expect-wrong: diff pred target

import torch


def backward(t):
    diff, small, delta = t.diff, t.small, 1.0
    delem = torch.full_like(diff, 1.0 / diff.numel())
    zero = torch.zeros_like(delem)
    dquad = torch.where(small, delem, zero)
    dlin = torch.where(small, zero, delem)
    ddiff = dquad * diff + dlin * delta * torch.sign(diff)
    dpred = ddiff.clone()
    dtarget = -ddiff
    return {"elem": delem, "quad": dquad, "lin": dlin, "diff": ddiff, "pred": dpred,
            "target": dtarget}
