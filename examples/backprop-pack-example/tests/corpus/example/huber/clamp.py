# corpus: correct
# exercise: example/huber
# title: ddiff as the clamped residual: clamp(diff, -delta, delta) / numel

import torch


def backward(t):
    diff, small = t.diff, t.small
    N = diff.numel()
    delem = torch.full_like(diff, 1 / N)
    dquad = small * delem
    dlin = ~small * delem
    ddiff = diff.clamp(-t.delta, t.delta) / N
    return {"elem": delem, "quad": dquad, "lin": dlin, "diff": ddiff, "pred": ddiff.clone(),
            "target": -ddiff}
