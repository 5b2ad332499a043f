# corpus: bug
# exercise: layers/layernorm
# title: dvar = -0.5 * var**-1.5 * drstd: eps dropped from the power rule's base (a ~1e-5 relative error only float64 sees)
# bug-class: derivative_wrong_tensor
# root-cause: var
# expect-wrong: var diff x

import torch


def backward(t):
    C = t.C
    dout = t.dout
    dxhat = t.gain * dout
    dgain = (t.xhat * dout).sum(0)
    dbias = dout.sum(0)
    drstd = (t.diff * dxhat).sum(-1, keepdim=True)
    dvar = -0.5 * t.var ** -1.5 * drstd
    ddiff = t.rstd * dxhat + 2 * t.diff / C * dvar
    dmean = -ddiff.sum(-1, keepdim=True)
    dx = ddiff + dmean / C
    return {"xhat": dxhat, "gain": dgain, "bias": dbias, "rstd": drstd, "var": dvar,
            "diff": ddiff, "mean": dmean, "x": dx}
