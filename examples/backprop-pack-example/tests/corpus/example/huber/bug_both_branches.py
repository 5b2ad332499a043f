# corpus: bug
# exercise: example/huber
# title: delem copied into both branches: torch.where sends it to one
# bug-class: unclassified unclassified
# root-cause: quad lin
# expect-wrong: quad lin diff pred target

import torch


def backward(t):
    diff, small, delta = t.diff, t.small, t.delta
    delem = torch.full_like(diff, 1.0 / diff.numel())
    zero = torch.zeros_like(delem)
    dquad = delem.clone()
    dlin = delem.clone()
    ddiff = dquad * diff + dlin * delta * torch.sign(diff)
    dpred = ddiff.clone()
    dtarget = -ddiff
    return {"elem": delem, "quad": dquad, "lin": dlin, "diff": ddiff, "pred": dpred,
            "target": dtarget}
