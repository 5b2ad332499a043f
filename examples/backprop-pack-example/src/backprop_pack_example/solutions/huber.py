"""example/huber — reference solution (kept in the source tree, never installed)."""

import torch


def backward(t):
    diff, small, delta = t.diff, t.small, t.delta

    delem = torch.full_like(diff, 1.0 / diff.numel())
    dquad = torch.where(small, delem, torch.zeros_like(delem))
    dlin = torch.where(small, torch.zeros_like(delem), delem)
    ddiff = dquad * diff + dlin * delta * diff.sign()
    dpred = ddiff.clone()
    dtarget = -ddiff

    return {"elem": delem, "quad": dquad, "lin": dlin, "diff": ddiff, "pred": dpred,
            "target": dtarget}
