# corpus: bug
# exercise: layers/layernorm
# title: dmean = ddiff.sum(-1): the minus of diff = x - mean forgotten
# bug-class: sign
# root-cause: mean
# expect-wrong: mean x

import torch


def backward(t):
    C = t.C
    dout = t.dout
    dxhat = t.gain * dout
    dgain = (t.xhat * dout).sum(0)
    dbias = dout.sum(0)
    drstd = (t.diff * dxhat).sum(-1, keepdim=True)
    dvar = -0.5 * (t.var + 1e-5) ** -1.5 * drstd
    ddiff = t.rstd * dxhat + 2 * t.diff / C * dvar
    dmean = ddiff.sum(-1, keepdim=True)
    dx = ddiff + dmean / C
    return {"xhat": dxhat, "gain": dgain, "bias": dbias, "rstd": drstd, "var": dvar,
            "diff": ddiff, "mean": dmean, "x": dx}
