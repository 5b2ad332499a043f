# corpus: bug
# exercise: example/huber
# title: dtarget = ddiff: target enters diff with a minus sign
# bug-class: sign
# root-cause: target
# expect-wrong: target

import torch


def backward(t):
    diff, small, delta = t.diff, t.small, t.delta
    delem = torch.full_like(diff, 1.0 / diff.numel())
    zero = torch.zeros_like(delem)
    dquad = torch.where(small, delem, zero)
    dlin = torch.where(small, zero, delem)
    ddiff = dquad * diff + dlin * delta * torch.sign(diff)
    dpred = ddiff.clone()
    dtarget = ddiff.clone()
    return {"elem": delem, "quad": dquad, "lin": dlin, "diff": ddiff, "pred": dpred,
            "target": dtarget}
