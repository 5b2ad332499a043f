# corpus: bug
# exercise: layers/layernorm
# title: dgain summed over the features (dim 1) instead of over the batch (dim 0)
# bug-class: wrong_sum_dim
# root-cause: gain
# expect-wrong: gain

import torch


def backward(t):
    C = t.C
    dout = t.dout
    dxhat = t.gain * dout
    dgain = (t.xhat * dout).sum(1)
    dbias = dout.sum(0)
    drstd = (t.diff * dxhat).sum(-1, keepdim=True)
    dvar = -0.5 * (t.var + 1e-5) ** -1.5 * drstd
    ddiff = t.rstd * dxhat + 2 * t.diff / C * dvar
    dmean = -ddiff.sum(-1, keepdim=True)
    dx = ddiff + dmean / C
    return {"xhat": dxhat, "gain": dgain, "bias": dbias, "rstd": drstd, "var": dvar,
            "diff": ddiff, "mean": dmean, "x": dx}
