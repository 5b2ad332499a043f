# corpus: correct
# exercise: example/huber
# title: the mask as a float: multiply instead of torch.where, n * d from t.n

import torch


def backward(t):
    n, d = t.n, t.diff.shape[1]
    m = t.small.float()
    delem = torch.ones(n, d) / (n * d)
    dquad = delem * m
    dlin = delem * (1 - m)
    ddiff = dquad * t.diff + dlin * t.delta * t.diff / t.diff.abs()
    return {"elem": delem, "quad": dquad, "lin": dlin, "diff": ddiff, "pred": ddiff * 1.0,
            "target": ddiff * -1.0}
