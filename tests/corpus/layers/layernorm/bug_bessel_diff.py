# corpus: bug
# exercise: layers/layernorm
# title: ddiff's variance term divides by C - 1 (batchnorm's Bessel habit) though LayerNorm's variance is biased
# bug-class: bessel
# root-cause: diff
# expect-wrong: diff x

import torch


def backward(t):
    C = t.C
    dout = t.dout
    dxhat = t.gain * dout
    dgain = (t.xhat * dout).sum(0)
    dbias = dout.sum(0)
    drstd = (t.diff * dxhat).sum(-1, keepdim=True)
    dvar = -0.5 * (t.var + 1e-5) ** -1.5 * drstd
    ddiff = t.rstd * dxhat + 2 * t.diff / (C - 1) * dvar
    dmean = -ddiff.sum(-1, keepdim=True)
    dx = ddiff + dmean / C
    return {"xhat": dxhat, "gain": dgain, "bias": dbias, "rstd": drstd, "var": dvar,
            "diff": ddiff, "mean": dmean, "x": dx}
