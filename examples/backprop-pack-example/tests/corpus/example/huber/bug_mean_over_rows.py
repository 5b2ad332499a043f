# corpus: bug
# exercise: example/huber
# title: delem as 1/n: the mean is over all n * d elements, not the n rows
# bug-class: scale_1_over_n
# root-cause: elem
# expect-wrong: elem quad lin diff pred target

import torch


def backward(t):
    diff, small, delta = t.diff, t.small, t.delta
    delem = torch.full_like(diff, 1.0 / t.n)
    zero = torch.zeros_like(delem)
    dquad = torch.where(small, delem, zero)
    dlin = torch.where(small, zero, delem)
    ddiff = dquad * diff + dlin * delta * torch.sign(diff)
    dpred = ddiff.clone()
    dtarget = -ddiff
    return {"elem": delem, "quad": dquad, "lin": dlin, "diff": ddiff, "pred": dpred,
            "target": dtarget}
